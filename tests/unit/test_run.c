/*
 * The attempt rules and the verdict: 4xx retried once, X.7.1 after the
 * retry a deferred refusal, 530 closed (inside TLS where offered; outside it
 * the attempt runs again inside TLS), DATA/EOD refusals closed, and the
 * verdict independent of the order attempts ran in.
 */
#include "common/util.h"
#include "probe-engine/catalogue.h"
#include "probe-engine/run.h"
#include "tests/test.h"

#include <stdio.h>
#include <string.h>

static struct probe_params params;

static struct probe_run *
new_run(void)
{
	struct probe_target t = {0};
	struct probe_run *r;

	probe_params_defaults(&params);
	token_key_init(&params.key, "0123456789abcdef", 16);
	params.greylist_wait_ms = 1000;
	addr_parse("192.0.2.9", &t.addr);
	const char *why = NULL;

	r = run_new(&params, &t, 25, 42, 0);
	if (run_prepare(r, "mx.example.org", &why) != 0)
		fprintf(stderr, "run_prepare: %s\n", why);
	return r;
}

static void
reply(struct probe_run *r, size_t i, enum probe_stage st, int code, const char *enh, int64_t now)
{
	struct reply_view rv = {code, enh, "text"};

	run_reply(r, i, st, &rv, now);
}

/* Runs attempt i to the end: MAIL 250, then the given RCPT/DATA/EOD codes (0 = stop). */
static void
run_one(struct probe_run *r, size_t i, int rcpt, int data, int eod, const char *enh, int64_t now)
{
	r->st[i].state = ATT_RUNNING;
	reply(r, i, STAGE_MAIL, 250, "2.1.0", now);
	reply(r, i, STAGE_RCPT, rcpt, enh, now);
	if (data && r->st[i].state == ATT_RUNNING)
		reply(r, i, STAGE_DATA, data, "", now);
	if (eod && r->st[i].state == ATT_RUNNING)
		reply(r, i, STAGE_EOD, eod, enh, now);
}

/* Attempt i as the result will record it (the run keeps it compact until run_finish). */
static struct probe_attempt
att(struct probe_run *r, size_t i)
{
	struct probe_attempt a = {0};

	run_att_record(r, i, &a);
	return a;
}

static void
refuse_all_but(struct probe_run *r, size_t skip)
{
	for (size_t i = 0; i < r->natt; i++) {
		if (i != skip)
			run_one(r, i, 554, 0, 0, "5.7.1", 0);
	}
}

TEST(all_refused_is_closed_and_backscatter_refused)
{
	struct probe_run *r = new_run();

	refuse_all_but(r, (size_t)-1);
	run_finish(r, 10);
	CHECK_STR(verdict_name(r->res->verdict), "closed");
	CHECK_STR(backscatter_name(r->res->backscatter), "refused");
	CHECK_STR(stage_name(r->res->stage), "rcpt");
	CHECK(r->res->trick == NULL);
	run_free(r);
}

TEST(accepted_through_eod_is_accepted_with_its_trick)
{
	struct probe_run *r = new_run();

	refuse_all_but(r, 9);
	run_one(r, 9, 250, 354, 250, "2.0.0", 0);
	run_finish(r, 10);
	CHECK_STR(verdict_name(r->res->verdict), "accepted");
	CHECK_STR(r->res->trick, "outside/percent-host");
	CHECK_STR(stage_name(r->res->stage), "eod");
	run_free(r);
}

TEST(rcpt_accepted_but_refused_after_the_dot_is_closed_at_eod)
{
	struct probe_run *r = new_run();

	refuse_all_but(r, 0);
	run_one(r, 0, 250, 354, 554, "5.7.1", 0);
	run_finish(r, 10);
	CHECK_STR(verdict_name(r->res->verdict), "closed");
	CHECK_STR(outcome_name(r->res->attempts[0].outcome), "refused");
	CHECK_STR(stage_name(r->res->attempts[0].stage), "eod");
	run_free(r);
}

TEST(first_4xx_waits_for_a_retry)
{
	struct probe_run *r = new_run();
	size_t ready;
	int64_t next;

	run_one(r, 0, 450, 0, 0, "4.2.0", 100);
	CHECK_INT(r->st[0].state, ATT_WAIT_RETRY);
	/* kept in units of retry_unit ms, rounded up: due at 100 + greylist_wait_ms */
	CHECK_INT(r->start_mono + (int64_t)r->retry_at[0] * r->retry_unit, 1100);
	r->st[1].state = ATT_DONE; /* others do not matter here */
	run_unfinished(r, 500, &ready, &next);
	CHECK_INT(next, 1100); /* the latest waiting one */
	run_free(r);
}

/* A day-long deadline keeps retry times in 16 bits of 1.3 s: rounded up, never early. */
TEST(a_retry_under_a_day_long_deadline_is_never_early)
{
	struct probe_target t = {0};
	struct probe_run *r;
	const char *why = NULL;
	size_t ready;
	int64_t next = 0;

	probe_params_defaults(&params);
	token_key_init(&params.key, "0123456789abcdef", 16);
	params.greylist_wait_ms = 1000;
	params.deadline_ms = 86400000;
	addr_parse("192.0.2.9", &t.addr);
	r = run_new(&params, &t, 25, 42, 0);
	CHECK(run_prepare(r, "mx.example.org", &why) == 0);
	run_one(r, 0, 450, 0, 0, "4.2.0", 100);
	CHECK_INT(r->st[0].state, ATT_WAIT_RETRY);
	for (size_t i = 1; i < r->natt; i++)
		r->st[i].state = ATT_DONE;
	run_unfinished(r, 500, &ready, &next);
	CHECK_MSG(next >= 1100 && next < 1100 + (int64_t)r->retry_unit, "due at %lld, unit %u",
		  (long long)next, r->retry_unit);
	run_unfinished(r, next - 1, &ready, &next);
	CHECK_INT(ready, 0);
	run_unfinished(r, next, &ready, &next);
	CHECK_INT(ready, 1);
	run_free(r);
}

TEST(persistent_471_is_a_deferred_refusal_counted_closed)
{
	struct probe_run *r = new_run();

	for (size_t i = 0; i < r->natt; i++) {
		run_one(r, i, 454, 0, 0, "4.7.1", 0);
		run_one(r, i, 454, 0, 0, "4.7.1", 2000);
	}
	run_finish(r, 3000);
	CHECK_STR(outcome_name(r->res->attempts[0].outcome), "deferred_refusal");
	CHECK_STR(verdict_name(r->res->verdict), "closed");
	CHECK_CONTAINS(r->res->reason, "4.7.1");
	CHECK_INT(r->res->attempts[0].tries, 0); /* run_one bypasses run_next_batch */
	run_free(r);
}

TEST(other_persistent_4xx_is_tempfail)
{
	struct probe_run *r = new_run();

	refuse_all_but(r, 3);
	run_one(r, 3, 451, 0, 0, "4.3.0", 0);
	run_one(r, 3, 451, 0, 0, "4.3.0", 2000);
	run_finish(r, 3000);
	CHECK_STR(verdict_name(r->res->verdict), "tempfail");
	CHECK(r->res->error != NULL);
	run_free(r);
}

TEST(greylisted_then_accepted_is_accepted)
{
	struct probe_run *r = new_run();

	refuse_all_but(r, 0);
	run_one(r, 0, 450, 0, 0, "4.2.0", 0);
	run_one(r, 0, 250, 354, 250, "2.0.0", 2000);
	run_finish(r, 3000);
	CHECK_STR(verdict_name(r->res->verdict), "accepted");
	run_free(r);
}

TEST(no_time_left_for_a_retry_is_tempfail_at_once)
{
	struct probe_run *r = new_run();

	r->deadline_mono = 500;
	run_one(r, 0, 450, 0, 0, "4.2.0", 0);
	CHECK_INT(r->st[0].state, ATT_DONE);
	CHECK_STR(outcome_name(att(r, 0).outcome), "tempfail");
	run_free(r);
}

TEST(auth_required_ends_relay_attempts_as_closed)
{
	struct probe_run *r = new_run();

	r->st[0].state = ATT_RUNNING;
	reply(r, 0, STAGE_MAIL, 530, "5.7.0", 0);
	CHECK(r->relay_stop);
	run_abandon(r, OUTCOME_NOT_RUN);
	run_finish(r, 10);
	CHECK_STR(verdict_name(r->res->verdict), "closed");
	CHECK_CONTAINS(r->res->reason, "authentication required");
	run_free(r);
}

static void
reply_text(struct probe_run *r, size_t i, enum probe_stage st, int code, const char *enh,
	   const char *text)
{
	struct reply_view rv = {code, enh, text};

	run_reply(r, i, st, &rv, 0);
}

TEST(starttls_demand_where_offered_is_retried_inside_tls_not_decided)
{
	struct probe_run *r = new_run();

	r->starttls_offered = true;
	r->st[0].state = ATT_RUNNING;
	reply_text(r, 0, STAGE_MAIL, 530, "5.7.0", "Must issue a STARTTLS command first");
	CHECK(r->tls_wanted);
	CHECK(!r->relay_stop);
	CHECK(r->st[0].state == ATT_PENDING);
	run_free(r);
}

TEST(x70_naming_tls_is_a_tls_demand_too)
{
	struct probe_run *r = new_run();

	r->starttls_offered = true;
	r->st[0].state = ATT_RUNNING;
	reply_text(r, 0, STAGE_RCPT, 554, "5.7.0", "Encryption required (TLS)");
	CHECK(r->tls_wanted);
	CHECK(r->st[0].state == ATT_PENDING);
	run_free(r);
}

TEST(x70_without_tls_in_the_text_is_a_refusal)
{
	struct probe_run *r = new_run();

	r->starttls_offered = true;
	r->st[0].state = ATT_RUNNING;
	reply_text(r, 0, STAGE_RCPT, 554, "5.7.0", "Policy says no");
	CHECK(!r->tls_wanted);
	CHECK(r->st[0].state == ATT_DONE);
	run_free(r);
}

TEST(auth_demanded_inside_tls_is_closed)
{
	struct probe_run *r = new_run();

	r->starttls_offered = false;
	r->in_tls = true;
	r->st[0].state = ATT_RUNNING;
	reply_text(r, 0, STAGE_MAIL, 530, "5.7.0", "Authentication required");
	CHECK(!r->tls_wanted);
	CHECK(r->relay_stop);
	run_abandon(r, OUTCOME_NOT_RUN);
	run_finish(r, 10);
	CHECK_STR(verdict_name(r->res->verdict), "closed");
	run_free(r);
}

TEST(trick_inside_tls_is_marked_tls)
{
	struct probe_run *r = new_run();

	refuse_all_but(r, 3);
	r->st[3].tls = true;
	run_one(r, 3, 250, 354, 250, "2.0.0", 0);
	run_finish(r, 10);
	CHECK_STR(verdict_name(r->res->verdict), "accepted");
	CHECK_CONTAINS(r->res->trick, "+tls");
	run_free(r);
}

TEST(attempt_cut_off_three_times_is_an_error)
{
	struct probe_run *r = new_run();

	for (int k = 0; k < RUN_BREAKS_MAX; k++) {
		r->st[0].state = ATT_RUNNING;
		run_interrupted(r, 0);
	}
	CHECK_STR(outcome_name(att(r, 0).outcome), "error");
	refuse_all_but(r, 0);
	run_finish(r, 10);
	CHECK_STR(verdict_name(r->res->verdict), "error");
	run_free(r);
}

TEST(batch_takes_ready_attempts_sharing_one_sender)
{
	struct probe_run *r = new_run();
	size_t idx[16], n = run_next_batch(r, 0, idx, 16);

	CHECK_INT(n, 16);
	for (size_t i = 0; i < n; i++) {
		CHECK_STR(att(r, idx[i]).sender, "null");
		CHECK_INT(r->st[idx[i]].state, ATT_RUNNING);
	}
	CHECK_INT(att(r, idx[0]).tries, 1);
	run_free(r);
}

/* The verdict of a set of outcomes is the same whatever order they were decided in. */
TEST(verdict_does_not_depend_on_attempt_order)
{
	static const int codes[][3] = {{554, 0, 0}, {250, 354, 554}, {250, 554, 0}, {250, 354, 250}};
	const char *want = NULL, *want_trick = NULL;
	uint64_t seed = 12345;

	for (int round = 0; round < 20; round++) {
		struct probe_run *r = new_run();
		size_t n = r->natt, order[256];

		for (size_t i = 0; i < n; i++)
			order[i] = i;
		for (size_t i = n - 1; i > 0; i--) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			size_t j = (size_t)(seed >> 33) % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (size_t k = 0; k < n; k++) {
			size_t i = order[k];
			const int *c = codes[i % 4];

			run_one(r, i, c[0], c[1], c[2], "", (int64_t)k);
		}
		run_finish(r, 1000);
		if (want == NULL) {
			want = verdict_name(r->res->verdict);
			want_trick = r->res->trick ? xstrdup(r->res->trick) : NULL;
		}
		CHECK_STR(verdict_name(r->res->verdict), want);
		CHECK_STR(r->res->trick, want_trick);
		run_free(r);
	}
	CHECK_STR(want, "accepted");
	free((char *)want_trick);
}

TEST(transcript_is_bounded_and_marked_truncated)
{
	struct probe_run *r = new_run();

	r->transcript_cap = 100;
	for (int i = 0; i < 50; i++)
		run_log(r, 'S', "250 ok\x01", 7);
	run_finish(r, now_mono_ms()); /* the transcript is unpacked into the result here */
	CHECK(r->res->transcript_len <= 100);
	CHECK(r->res->transcript_truncated);
	CHECK_CONTAINS(r->res->transcript, "S: 250 ok?\n");
	run_free(r);
}

/* The late form local-last: after the backscatter block, its own transaction, a local companion. */
TEST(local_last_runs_alone_with_a_local_recipient_after_its_own)
{
	struct probe_run *r = new_run();
	size_t idx[16], n, late = r->nrelay + r->nback;
	struct probe_attempt a = att(r, late);

	CHECK_STR(a.form, "local-last");
	CHECK_INT(a.index, (int)catalogue_late_base());
	CHECK(a.alone);
	CHECK_CONTAINS(a.rcpt_to, "@sink.relayaudit.test>");
	CHECK_STR(a.rcpt_last, "<postmaster@mx.example.org>");
	/* everything before it refused: the next batch is that attempt on its own */
	for (size_t i = 0; i < late; i++)
		run_one(r, i, 554, 0, 0, "5.7.1", 0);
	n = run_next_batch(r, 0, idx, 16);
	CHECK_INT(n, 1);
	CHECK_INT(idx[0], late);
	run_free(r);
}

/* A form accepted in company is sent again alone, once, with a token of its own. */
TEST(form_accepted_in_company_is_resent_alone)
{
	struct probe_run *r = new_run();
	size_t before = r->natt;
	struct probe_attempt re;

	r->st[0].rcpts = 3;
	run_one(r, 0, 250, 354, 250, "2.0.0", 0);
	CHECK_INT(r->natt, before + 1);
	re = att(r, before);
	CHECK_INT(re.resend_of, 0);
	CHECK(re.alone);
	CHECK_STR(re.sender, "null");
	CHECK_STR(re.form, "plain");
	CHECK_INT(re.index, (int)catalogue_resend_base());
	CHECK(strcmp(re.token, att(r, 0).token) != 0);
	/* accepted again in company: no second re-send of the same form */
	r->st[0].state = ATT_RUNNING;
	reply(r, 0, STAGE_EOD, 250, "2.0.0", 0);
	CHECK_INT(r->natt, before + 1);
	/* a form sent alone is not re-sent */
	r->st[4].rcpts = 1;
	run_one(r, 4, 250, 354, 250, "2.0.0", 0);
	CHECK_INT(r->natt, before + 1);
	run_free(r);
}

TEST(host_name_too_long_for_the_forms_is_an_error_not_an_exit)
{
	struct probe_target t = {0};
	struct probe_run *r;
	char host[RUN_HOST_MAX];
	const char *why = NULL;

	/* The greeting's name is the peer's: 255 characters, as long as it can be. */
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (size_t i = 63; i < sizeof(host) - 1; i += 64)
		host[i] = '.';
	probe_params_defaults(&params);
	token_key_init(&params.key, "0123456789abcdef", 16);
	/* A long sink domain (the operator's, up to 253) leaves less room for H. */
	static char sink[241];

	memset(sink, 's', sizeof(sink) - 1);
	for (size_t i = 60; i < sizeof(sink) - 1; i += 61)
		sink[i] = '.';
	params.sink_domain = sink;
	addr_parse("192.0.2.9", &t.addr);
	r = run_new(&params, &t, 25, 42, 0);
	CHECK_INT(run_prepare(r, host, &why), -1);
	CHECK_MSG(why != NULL && strstr(why, "does not fit") != NULL, "why: got %s", why ? why : "(null)");
	CHECK_INT(r->natt, 0);
	/* The address literal always fits: the probe goes on with it. */
	CHECK_INT(run_prepare(r, r->literal, &why), 0);
	CHECK(r->natt > 0);
	CHECK_STR(r->res->host, "[192.0.2.9]");
	run_free(r);
}

/* A run prepared for host with the given domains on record. */
static struct probe_run *
new_run_for(const char *host, const char *const *domains, size_t ndomains)
{
	struct probe_target t = {0};
	struct probe_run *r;
	const char *why = NULL;

	probe_params_defaults(&params);
	token_key_init(&params.key, "0123456789abcdef", 16);
	addr_parse("192.0.2.9", &t.addr);
	t.domains = domains;
	t.ndomains = ndomains;
	r = run_new(&params, &t, 25, 42, 0);
	if (run_prepare(r, host, &why) != 0)
		fprintf(stderr, "run_prepare: %s\n", why);
	return r;
}

static size_t
count_sender(struct probe_run *r, const char *sender, enum probe_helo helo)
{
	size_t n = 0;

	for (size_t i = 0; i < r->natt; i++)
		n += strcmp(att(r, i).sender, sender) == 0 && r->st[i].helo_kind == helo;
	return n;
}

static size_t
count_helo(const struct probe_run *r, enum probe_helo helo)
{
	size_t n = 0;

	for (size_t i = 0; i < r->natt; i++)
		n += r->st[i].helo_kind == helo;
	return n;
}

TEST(spoof_domain_forges_registrable_record_and_between_with_core_forms)
{
	const char *rec[] = {"kunde.example"};
	struct probe_run *r = new_run_for("mx1.mail.example.co.uk", rec, 1);
	struct probe_attempt a = {0};

	CHECK_INT(count_sender(r, "spoof-domain", PROBE_HELO_OURS), 3 * catalogue_nspoof_forms());
	for (size_t i = 0; i < r->natt; i++) {
		if (r->st[i].index == catalogue_spoof_index(1, 0))
			a = att(r, i);
	}
	CHECK(a.sender != NULL);
	CHECK_STR(a.sender, "spoof-domain");
	CHECK_STR(a.form, "plain");
	CHECK_STR(a.mail_from, "<postmaster@kunde.example>");
	CHECK_STR(a.helo, "relayaudit.invalid");
	run_free(r);
}

TEST(no_sender_domain_means_no_spoof_domain_attempt)
{
	struct probe_run *r = new_run_for("[192.0.2.9]", NULL, 0);

	CHECK_INT(count_sender(r, "spoof-domain", PROBE_HELO_OURS), 0);
	run_free(r);
}

TEST(greetings_as_the_target_host_literal_localhost)
{
	struct probe_run *r = new_run_for("mx.example.org", NULL, 0);

	CHECK_INT(count_helo(r, PROBE_HELO_HOST), 4);
	CHECK_INT(count_helo(r, PROBE_HELO_LITERAL), 4);
	CHECK_INT(count_helo(r, PROBE_HELO_LOCALHOST), 4);
	CHECK_STR(r->res->helo_names[PROBE_HELO_HOST], "mx.example.org");
	CHECK_STR(r->res->helo_names[PROBE_HELO_LITERAL], "[192.0.2.9]");
	CHECK_STR(r->res->helo_names[PROBE_HELO_LOCALHOST], "localhost");
	run_free(r);
}

TEST(no_host_name_means_no_greeting_as_host)
{
	struct probe_run *r = new_run_for("[192.0.2.9]", NULL, 0);

	CHECK_INT(count_helo(r, PROBE_HELO_HOST), 0);
	CHECK_INT(count_helo(r, PROBE_HELO_LITERAL), 4);
	run_free(r);
}

TEST(batches_keep_to_the_connections_greeting)
{
	struct probe_run *r = new_run_for("mx.example.org", NULL, 0);
	size_t idx[16], n;

	for (size_t i = 0; i < r->natt; i++) {
		if (r->st[i].helo_kind == PROBE_HELO_OURS)
			r->st[i].state = ATT_DONE;
	}
	CHECK_INT(run_next_helo(r, 0), PROBE_HELO_HOST);
	r->helo_kind = PROBE_HELO_LITERAL;
	n = run_next_batch(r, 0, idx, 16);
	CHECK_INT(n, 1);
	CHECK_INT(att(r, idx[0]).helo_kind, PROBE_HELO_LITERAL);
	CHECK_STR(att(r, idx[0]).helo, "[192.0.2.9]");
	run_free(r);
}

TEST(refused_greeting_refuses_its_attempts_at_ehlo_only)
{
	struct probe_run *r = new_run_for("mx.example.org", NULL, 0);
	struct reply_view rv = {550, "5.7.1", "Helo command rejected"};
	size_t refused = 0, others = 0;

	run_greeting_refused(r, PROBE_HELO_LOCALHOST, &rv);
	run_greeting_refused(r, PROBE_HELO_OURS, &rv); /* never */
	for (size_t i = 0; i < r->natt; i++) {
		struct probe_attempt a = att(r, i);

		if (a.helo_kind == PROBE_HELO_LOCALHOST) {
			CHECK_INT(a.outcome, OUTCOME_REFUSED);
			CHECK_INT(a.stage, STAGE_EHLO);
			CHECK_INT(a.helo_reply.code, 550);
			CHECK_STR(a.helo_reply.text, "Helo command rejected");
			refused++;
		} else {
			others += r->st[i].state != ATT_DONE;
		}
	}
	CHECK_INT(refused, 4);
	CHECK_INT(others, r->natt - 4);
	run_free(r);
}

TEST(widening_attempts_are_skipped_once_a_relay_is_accepted)
{
	const char *rec[] = {"kunde.example"};
	struct probe_run *r = new_run_for("mx.example.org", rec, 1);

	run_one(r, 0, 250, 354, 250, "2.0.0", 0);
	for (size_t i = 0; i < r->natt; i++) {
		struct probe_attempt a = att(r, i);
		bool widening = a.helo_kind != PROBE_HELO_OURS || strcmp(a.sender, "spoof-domain") == 0;

		if (widening)
			CHECK_MSG(a.outcome == OUTCOME_SKIPPED, "attempt %u: outcome %s, want skipped",
				  a.index, outcome_name(a.outcome));
		else if (i > 0)
			CHECK_MSG(r->st[i].state == ATT_PENDING, "attempt %u not pending", a.index);
	}
	refuse_all_but(r, 0);
	run_finish(r, 10);
	CHECK_INT(r->res->verdict, VERDICT_ACCEPTED);
	CHECK_STR(r->res->trick, "null/plain");
	run_free(r);
}

/*
 * While the probe runs a reply is kept once per target, with the attempt's
 * own address as a marker; the result has every text as the server sent it.
 */
TEST(replies_echoing_the_address_come_back_whole_in_the_result)
{
	struct probe_run *r = new_run();
	char rcpt[RUN_ADDR_MAX], text[700];
	size_t used;

	for (size_t i = 0; i < r->natt; i++) {
		run_att_addr(r, i, RUN_ADDR_RCPT, rcpt);
		str_fmt(text, sizeof(text), "5.7.1 %s: Relay access denied", rcpt);
		r->st[i].state = ATT_RUNNING;
		reply_text(r, i, STAGE_MAIL, 250, "2.1.0", "2.1.0 Ok");
		reply_text(r, i, STAGE_RCPT, 554, "5.7.1", text);
	}
	used = r->nreplies;
	CHECK_INT(used, 2); /* "2.1.0 Ok" and "5.7.1 \1: Relay access denied" */
	run_finish(r, 10);
	for (size_t i = 0; i < r->res->nattempts; i++) {
		const struct probe_attempt *a = &r->res->attempts[i];

		str_fmt(text, sizeof(text), "5.7.1 %s: Relay access denied", a->rcpt_to);
		CHECK_STR(a->rcpt.text, text);
		CHECK_INT(a->rcpt.code, 554);
		CHECK_STR(a->rcpt.enhanced, "5.7.1");
		CHECK_STR(a->mail.text, "2.1.0 Ok");
		CHECK_CONTAINS(a->rcpt_to, a->token + 16); /* backscatter recipients: the MAC part */
	}
	CHECK_STR(verdict_name(r->res->verdict), "closed");
	run_free(r);
}

/* Past 254 distinct replies an attempt's reply positions no longer fit its bytes: kept beside. */
TEST(a_server_of_many_distinct_replies_keeps_every_one)
{
	struct probe_run *r = new_run();
	char text[64];

	CHECK(r->natt >= 90);
	/* a first try of each, put back (a pipelined group cut short): its replies fill the table */
	for (size_t i = 0; i < r->natt; i++) {
		r->st[i].state = ATT_RUNNING;
		str_fmt(text, sizeof(text), "2.1.0 first try #%zu", i);
		reply_text(r, i, STAGE_MAIL, 250, "2.1.0", text);
		run_put_back(r, i);
	}
	for (size_t i = 0; i < r->natt; i++) {
		r->st[i].state = ATT_RUNNING;
		str_fmt(text, sizeof(text), "2.1.0 sender ok #%zu", i);
		reply_text(r, i, STAGE_MAIL, 250, "2.1.0", text);
		str_fmt(text, sizeof(text), "5.7.1 no relaying, refusal #%zu", 1000 + i);
		reply_text(r, i, STAGE_RCPT, 554, "5.7.1", text);
	}
	CHECK_MSG(r->nreplies > 270, "%u distinct replies", (unsigned)r->nreplies);
	CHECK_INT(r->st[r->natt - 1].reply[RUN_REPLY_RCPT], RUN_REPLY_FAR);
	run_finish(r, 10);
	for (size_t i = 0; i < r->res->nattempts; i++) {
		const struct probe_attempt *a = &r->res->attempts[i];

		str_fmt(text, sizeof(text), "2.1.0 sender ok #%zu", i);
		CHECK_STR(a->mail.text, text);
		str_fmt(text, sizeof(text), "5.7.1 no relaying, refusal #%zu", 1000 + i);
		CHECK_STR(a->rcpt.text, text);
		CHECK_INT(a->rcpt.code, 554);
	}
	run_free(r);
}

TEST(trick_names_the_greeting_before_tls)
{
	struct probe_attempt a = {.sender = "null", .form = "plain", .helo_kind = PROBE_HELO_HOST};
	char *t = probe_attempt_trick(&a);

	CHECK_STR(t, "null/plain+helo-host");
	free(t);
	a.tls = true;
	a.helo_kind = PROBE_HELO_LOCALHOST;
	t = probe_attempt_trick(&a);
	CHECK_STR(t, "null/plain+helo-localhost+tls");
	free(t);
	a.helo_kind = PROBE_HELO_OURS;
	t = probe_attempt_trick(&a);
	CHECK_STR(t, "null/plain+tls");
	free(t);
}

int
main(void)
{
	test_suite = "run";
	RUN(local_last_runs_alone_with_a_local_recipient_after_its_own);
	RUN(form_accepted_in_company_is_resent_alone);
	RUN(all_refused_is_closed_and_backscatter_refused);
	RUN(host_name_too_long_for_the_forms_is_an_error_not_an_exit);
	RUN(accepted_through_eod_is_accepted_with_its_trick);
	RUN(rcpt_accepted_but_refused_after_the_dot_is_closed_at_eod);
	RUN(first_4xx_waits_for_a_retry);
	RUN(a_retry_under_a_day_long_deadline_is_never_early);
	RUN(persistent_471_is_a_deferred_refusal_counted_closed);
	RUN(other_persistent_4xx_is_tempfail);
	RUN(greylisted_then_accepted_is_accepted);
	RUN(no_time_left_for_a_retry_is_tempfail_at_once);
	RUN(auth_required_ends_relay_attempts_as_closed);
	RUN(attempt_cut_off_three_times_is_an_error);
	RUN(batch_takes_ready_attempts_sharing_one_sender);
	RUN(verdict_does_not_depend_on_attempt_order);
	RUN(transcript_is_bounded_and_marked_truncated);
	RUN(starttls_demand_where_offered_is_retried_inside_tls_not_decided);
	RUN(x70_naming_tls_is_a_tls_demand_too);
	RUN(x70_without_tls_in_the_text_is_a_refusal);
	RUN(auth_demanded_inside_tls_is_closed);
	RUN(trick_inside_tls_is_marked_tls);
	RUN(spoof_domain_forges_registrable_record_and_between_with_core_forms);
	RUN(no_sender_domain_means_no_spoof_domain_attempt);
	RUN(greetings_as_the_target_host_literal_localhost);
	RUN(no_host_name_means_no_greeting_as_host);
	RUN(batches_keep_to_the_connections_greeting);
	RUN(refused_greeting_refuses_its_attempts_at_ehlo_only);
	RUN(widening_attempts_are_skipped_once_a_relay_is_accepted);
	RUN(trick_names_the_greeting_before_tls);
	RUN(replies_echoing_the_address_come_back_whole_in_the_result);
	RUN(a_server_of_many_distinct_replies_keeps_every_one);
	return test_summary();
}
