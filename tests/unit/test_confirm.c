/*
 * Correlation rules: which receipts upgrade which results, and the window.
 * Results are built by hand the way the engine reports them; receipts come
 * from sink_receipt_make, the same function the sink uses at the final dot.
 */
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/catalogue.h"
#include "probe-engine/confirm.h"
#include "tests/test.h"

#include <event2/event.h>

#define SINK "sink.relayaudit.test"

static struct token_key key;

/* A probe with: 0 backscatter (accepted), 1 outside/plain refused at RCPT, 2 spoof-ip/percent-ip
 * accepted. */
static struct probe_result *
result_new(uint64_t probe_id)
{
	struct probe_result *r = xcalloc(1, sizeof(*r));
	static const struct {
		const char *sender, *form;
		bool backscatter;
		int eod;
		enum attempt_outcome outcome;
	} at[] = {
	    {"spoof-sink", "backscatter", true, 250, OUTCOME_ACCEPTED},
	    {"outside", "plain", false, 0, OUTCOME_REFUSED},
	    {"spoof-ip", "percent-ip", false, 250, OUTCOME_ACCEPTED},
	};

	r->probe_id = probe_id;
	r->verdict = VERDICT_ACCEPTED;
	r->backscatter = BACKSCATTER_ACCEPTED;
	r->started_ms = now_wall_ms() - 1000;
	r->duration_ms = 500;
	r->attempts = xcalloc(ARRAY_LEN(at), sizeof(*r->attempts));
	r->nattempts = ARRAY_LEN(at);
	for (size_t i = 0; i < ARRAY_LEN(at); i++) {
		struct probe_attempt *a = &r->attempts[i];
		a->index = (unsigned)i;
		a->sender = at[i].sender;
		a->form = at[i].form;
		a->backscatter = at[i].backscatter;
		a->eod.code = at[i].eod;
		a->outcome = at[i].outcome;
		a->stage = at[i].eod ? STAGE_EOD : STAGE_RCPT;
		token_make(&key, probe_id, (unsigned)i, a->token);
	}
	return r;
}

static void
result_free(struct probe_result *r)
{
	probe_result_free(r);
}

/* A delivered relay test: the token in the recipient, Subject and Message-ID. */
static struct sink_receipt *
delivery(uint64_t probe_id, unsigned attempt)
{
	char tok[TOKEN_BUFLEN], rcpt[64], msg[256];
	const char *rcpts[1] = {rcpt};

	token_make(&key, probe_id, attempt, tok);
	snprintf(rcpt, sizeof(rcpt), "%s@" SINK, tok);
	snprintf(msg, sizeof(msg), "Subject: relay test %s\r\nMessage-ID: <%s@x>\r\n\r\nhi\r\n",
	         tok, tok);
	return sink_receipt_make(&key, "relay.customer.test", "probe@outside.test", rcpts, 1, msg,
	                         strlen(msg), 1024);
}

/* A Postfix-style bounce to the backscatter sender, quoting the original headers. */
static struct sink_receipt *
bounce(uint64_t probe_id, unsigned attempt)
{
	char tok[TOKEN_BUFLEN], rcpt[64], msg[1024];
	const char *rcpts[1] = {rcpt};

	token_make(&key, probe_id, attempt, tok);
	snprintf(rcpt, sizeof(rcpt), "%s@" SINK, tok);
	snprintf(msg, sizeof(msg),
	         "Subject: Undelivered Mail Returned to Sender\n"
	         "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
	         "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
	         "Final-Recipient: rfc822; nosuch@customer.test\nAction: failed\nStatus: 5.1.1\n\n"
	         "--b\nContent-Type: text/rfc822-headers\n\nSubject: test %s\n--b--\n",
	         tok);
	return sink_receipt_make(&key, "mx.customer.test", "", rcpts, 1, msg, strlen(msg), 1024);
}

TEST(relay_token_confirms_with_trick_and_delay)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1001, 2);
	const char *why = NULL;

	CHECK_INT(confirm_apply(res, r, &why), CONFIRM_RELAY | CONFIRM_TRICK | CONFIRM_USED);
	CHECK_INT(res->verdict, VERDICT_RELAY_CONFIRMED);
	CHECK_INT(res->stage, STAGE_SINK);
	CHECK_STR(res->trick, "spoof-ip/percent-ip");
	CHECK_INT(res->attempts[2].outcome, OUTCOME_RELAYED);
	CHECK_INT(res->attempts[2].stage, STAGE_SINK);
	CHECK(res->relay_delay_ms >= 400 && res->relay_delay_ms < 5000);
	/* The backscatter test is still waiting for its bounce. */
	CHECK_INT(res->backscatter, BACKSCATTER_ACCEPTED);
	CHECK(why == NULL);
	sink_receipt_free(r);
	result_free(res);
}

TEST(token_replayed_for_another_probe_is_refused)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1002, 2); /* a genuine token, of probe 1002 */
	const char *why = NULL;

	CHECK_INT(r->ntokens, 1);
	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_INT(res->verdict, VERDICT_ACCEPTED);
	CHECK_STR(why, "token of another probe");
	sink_receipt_free(r);
	result_free(res);
}

/* A token minted with another secret never reaches the receipt's token list. */
TEST(wrong_hmac_is_refused)
{
	struct probe_result *res = result_new(1001);
	struct token_key other;
	char tok[TOKEN_BUFLEN], rcpt[64];
	const char *rcpts[1] = {rcpt};
	struct sink_receipt *r;

	token_key_init(&other, "attacker", 8);
	token_make(&other, 1001, 2, tok);
	snprintf(rcpt, sizeof(rcpt), "%s@" SINK, tok);
	r = sink_receipt_make(&key, "h", "a@b", rcpts, 1, "Subject: x\n\n", 12, 100);
	CHECK_INT(r->ntokens, 0);
	CHECK_INT(r->forged, 1);
	CHECK_INT(confirm_apply(res, r, NULL), 0);
	CHECK_INT(res->verdict, VERDICT_ACCEPTED);
	sink_receipt_free(r);
	result_free(res);
}

TEST(attempt_never_sent_is_refused)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1001, 1); /* attempt 1 was refused at RCPT */
	const char *why = NULL;

	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_INT(res->verdict, VERDICT_ACCEPTED);
	CHECK_STR(why, "attempt's message was never sent");
	sink_receipt_free(r);
	result_free(res);
}

TEST(attempt_index_not_in_probe_is_refused)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1001, 9);
	const char *why = NULL;

	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_STR(why, "no such attempt in this probe");
	sink_receipt_free(r);
	result_free(res);
}

/* The result's attempt carried a different token (e.g. minted under a rotated secret). */
TEST(attempt_sent_with_other_token_is_refused)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1001, 2);
	struct token_key old;
	const char *why = NULL;

	token_key_init(&old, "old-secret", 10);
	token_make(&old, 1001, 2, res->attempts[2].token);
	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_STR(why, "attempt was sent with another token");
	sink_receipt_free(r);
	result_free(res);
}

TEST(backscatter_token_in_bounce_confirms_backscatter_only)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = bounce(1001, 0);

	CHECK(r->dsn);
	CHECK_INT(confirm_apply(res, r, NULL), CONFIRM_BACKSCATTER | CONFIRM_USED);
	CHECK_INT(res->backscatter, BACKSCATTER_CONFIRMED);
	CHECK_INT(res->verdict, VERDICT_ACCEPTED);
	CHECK(res->backscatter_delay_ms > 0);
	sink_receipt_free(r);
	result_free(res);
}

/* Bounces that are not DSNs (plain-text, null sender) count too: only a bounce goes to that sender. */
TEST(backscatter_token_in_plain_text_bounce_confirms)
{
	struct probe_result *res = result_new(1001);
	char tok[TOKEN_BUFLEN], rcpt[64];
	const char *rcpts[1] = {rcpt};
	const char *msg = "Subject: Mail delivery failed\n\nA message that you sent could not be "
			  "delivered.\n";
	struct sink_receipt *r;

	token_make(&key, 1001, 0, tok);
	snprintf(rcpt, sizeof(rcpt), "%s@" SINK, tok);
	r = sink_receipt_make(&key, "mx", "", rcpts, 1, msg, strlen(msg), 100);
	CHECK(!r->dsn);
	CHECK(r->bounce);
	CHECK_INT(confirm_apply(res, r, NULL), CONFIRM_BACKSCATTER | CONFIRM_USED);
	CHECK_INT(res->backscatter, BACKSCATTER_CONFIRMED);
	sink_receipt_free(r);
	result_free(res);
}

TEST(backscatter_token_in_plain_delivery_is_refused)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1001, 0);
	const char *why = NULL;

	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_INT(res->backscatter, BACKSCATTER_ACCEPTED);
	CHECK_STR(why, "backscatter token in a message that is not a bounce");
	sink_receipt_free(r);
	result_free(res);
}

/* A bounce of a relay attempt proves the server tried, not that it delivered. */
TEST(relay_token_in_bounce_is_refused)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = bounce(1001, 2);
	const char *why = NULL;

	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_INT(res->verdict, VERDICT_ACCEPTED);
	CHECK_STR(why, "relay token in a bounce, not a delivery");
	sink_receipt_free(r);
	result_free(res);
}

TEST(relay_token_only_in_body_is_refused)
{
	struct probe_result *res = result_new(1001);
	char tok[TOKEN_BUFLEN], msg[128];
	const char *rcpts[1] = {"someone@" SINK};
	struct sink_receipt *r;
	const char *why = NULL;

	token_make(&key, 1001, 2, tok);
	snprintf(msg, sizeof(msg), "Subject: fwd\n\nI got this: %s\n", tok);
	r = sink_receipt_make(&key, "h", "a@b", rcpts, 1, msg, strlen(msg), 100);
	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_STR(why, "relay token only quoted in the body");
	sink_receipt_free(r);
	result_free(res);
}

/* A receipt after the window still upgrades the stored verdict. */
TEST(late_receipt_upgrades_accepted_not_relayed)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1001, 2);

	confirm_expire(res);
	CHECK_INT(res->verdict, VERDICT_ACCEPTED_NOT_RELAYED);
	CHECK_INT(confirm_apply(res, r, NULL), CONFIRM_RELAY | CONFIRM_TRICK | CONFIRM_USED);
	CHECK_INT(res->verdict, VERDICT_RELAY_CONFIRMED);
	/* Applying it again changes nothing. */
	CHECK_INT(confirm_apply(res, r, NULL), 0);
	sink_receipt_free(r);
	result_free(res);
}

/* The replay of issue 11: a server that answered 554 after the final dot. */
TEST(token_of_attempt_refused_after_data_is_an_anomaly)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1001, 2);
	const char *why = NULL;

	res->verdict = VERDICT_CLOSED;
	res->attempts[2].eod.code = 554;
	res->attempts[2].outcome = OUTCOME_REFUSED;
	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_INT(res->verdict, VERDICT_CLOSED);
	CHECK_STR(why, "target refused the attempt's message after DATA");
	sink_receipt_free(r);
	result_free(res);
}

TEST(token_used_twice_is_a_replay)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1001, 2);
	const char *why = NULL;

	CHECK(confirm_apply(res, r, &why) & CONFIRM_RELAY);
	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_STR(why, "token already used by an earlier receipt");
	sink_receipt_free(r);
	result_free(res);
}

TEST(receipt_after_the_window_is_an_anomaly)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *r = delivery(1001, 2);
	const char *why = NULL;

	res->confirm_deadline_ms = r->received_ms - 1;
	CHECK_INT(confirm_apply(res, r, &why), 0);
	CHECK_INT(res->verdict, VERDICT_ACCEPTED);
	CHECK_STR(why, "arrived after the confirmation window");
	res->confirm_deadline_ms = r->received_ms;
	CHECK(confirm_apply(res, r, &why) & CONFIRM_RELAY);
	sink_receipt_free(r);
	result_free(res);
}

/* A form delivered in company names the trick only until one delivered alone arrives. */
TEST(trick_sent_alone_replaces_one_sent_in_company)
{
	struct probe_result *res = result_new(1001);
	struct sink_receipt *batch = delivery(1001, 0 + 2), *alone = NULL;

	res->attempts[2].rcpts = 3;
	CHECK_INT(confirm_apply(res, batch, NULL), CONFIRM_RELAY | CONFIRM_TRICK | CONFIRM_USED);
	CHECK_STR(res->trick, "spoof-ip/percent-ip");
	CHECK(!res->trick_alone);
	/* attempt 1 turned into a form that was accepted alone */
	res->attempts[1].eod.code = 250;
	res->attempts[1].outcome = OUTCOME_ACCEPTED;
	res->attempts[1].rcpts = 1;
	alone = delivery(1001, 1);
	CHECK_INT(confirm_apply(res, alone, NULL), CONFIRM_TRICK | CONFIRM_USED);
	CHECK_STR(res->trick, "outside/plain");
	CHECK(res->trick_alone);
	sink_receipt_free(batch);
	sink_receipt_free(alone);
	result_free(res);
}

/*
 * Two forms re-sent alone, both accepted: whichever message the relay
 * delivers first, the result waits for the simpler one while its message
 * may still come, so the trick named does not depend on delivery order.
 */
TEST(simpler_form_resent_alone_is_waited_for_whatever_arrives_first)
{
	struct probe_result *res = result_new(1002);
	struct sink_receipt *later_form = delivery(1002, 2), *simpler = delivery(1002, 1);

	res->backscatter = BACKSCATTER_REFUSED;
	for (size_t i = 1; i <= 2; i++) {
		res->attempts[i].eod.code = 250;
		res->attempts[i].outcome = OUTCOME_ACCEPTED;
		res->attempts[i].rcpts = 1;
		res->attempts[i].resend_of = 40 + (int)i;
	}
	CHECK(catalogue_rank("outside", "plain") < catalogue_rank("spoof-ip", "percent-ip"));
	confirm_apply(res, later_form, NULL);
	CHECK_STR(res->trick, "spoof-ip/percent-ip");
	CHECK(res->trick_alone);
	CHECK(confirm_waiting(res)); /* outside/plain's message may still come */
	confirm_apply(res, simpler, NULL);
	CHECK_STR(res->trick, "outside/plain");
	CHECK(!confirm_waiting(res));
	sink_receipt_free(later_form);
	sink_receipt_free(simpler);
	result_free(res);
}

TEST(received_chain_check_matches_whole_addresses_only)
{
	const char *chain = "from sim-127-0-20-1 ([127.0.20.1]) by sink\n"
	                    "from x ([2001:db8::7]) by y";

	CHECK(confirm_received_via(chain, "127.0.20.1"));
	CHECK(confirm_received_via(chain, "2001:db8::7"));
	CHECK(!confirm_received_via(chain, "127.0.20.10"));
	CHECK(!confirm_received_via(chain, "27.0.20.1"));
	CHECK(!confirm_received_via(chain, "2001:db8::"));
	CHECK(!confirm_received_via(NULL, "127.0.20.1"));
}

TEST(token_redact_keeps_probe_and_attempt_drops_the_mac)
{
	char tok[TOKEN_BUFLEN], text[256], want[256];

	token_make(&key, 77, 3, tok);
	snprintf(text, sizeof(text), "RCPT TO:<%s@" SINK "> x%s %s", tok, tok, tok);
	token_redact(text);
	snprintf(want, sizeof(want), "RCPT TO:<%.16s...@" SINK "> x%s %.16s...", tok, tok, tok);
	CHECK_STR(text, want);
	/* "rt", probe id 77 in 12 hex digits, attempt 3 in 2: nothing of the MAC */
	CHECK(strncmp(text + 9, "rt00000000004d03...", 19) == 0);
}

TEST(expire_leaves_other_verdicts_alone)
{
	struct probe_result *res = result_new(1001);

	res->verdict = VERDICT_CLOSED;
	confirm_expire(res);
	CHECK_INT(res->verdict, VERDICT_CLOSED);
	res->verdict = VERDICT_RELAY_CONFIRMED;
	confirm_expire(res);
	CHECK_INT(res->verdict, VERDICT_RELAY_CONFIRMED);
	result_free(res);
}

/* ---- the holding pen, on a real event loop ---- */

struct pen {
	struct event_base *base;
	struct probe_result *done[8];
	int ndone;
	int64_t done_at[8];
};

static void
pen_done(struct probe_result *res, void *arg)
{
	struct pen *p = arg;

	p->done_at[p->ndone] = now_mono_ms();
	p->done[p->ndone++] = res;
	event_base_loopbreak(p->base);
}

static void
pen_run(struct pen *p, int max_ms)
{
	struct timeval tv = {max_ms / 1000, (max_ms % 1000) * 1000};

	event_base_loopexit(p->base, &tv);
	event_base_dispatch(p->base);
}

TEST(window_passes_without_receipt)
{
	struct pen p = {event_base_new(), {0}, 0, {0}};
	struct confirm *c = confirm_new(p.base, 200, pen_done, &p);
	int64_t t0 = now_mono_ms();

	confirm_add(c, result_new(5));
	CHECK_INT(confirm_pending(c), 1);
	pen_run(&p, 3000);
	CHECK_INT(p.ndone, 1);
	CHECK(p.done_at[0] - t0 >= 190);
	CHECK_INT(p.done[0]->verdict, VERDICT_ACCEPTED_NOT_RELAYED);
	CHECK_INT(p.done[0]->backscatter, BACKSCATTER_ACCEPTED);
	CHECK_INT(confirm_pending(c), 0);
	result_free(p.done[0]);
	confirm_free(c);
	event_base_free(p.base);
}

TEST(receipts_in_window_release_at_once)
{
	struct pen p = {event_base_new(), {0}, 0, {0}};
	struct confirm *c = confirm_new(p.base, 60000, pen_done, &p);
	struct sink_receipt *d = delivery(6, 2), *b = bounce(6, 0);
	int64_t t0 = now_mono_ms();

	confirm_add(c, result_new(6));
	CHECK_INT(confirm_receipt(c, d), 1);
	/* Relay proven, but the backscatter test still waits: held. */
	CHECK_INT(confirm_pending(c), 1);
	CHECK_INT(p.ndone, 0);
	CHECK_INT(confirm_receipt(c, b), 1);
	/* Handed back from the loop, never from inside confirm_receipt. */
	CHECK_INT(p.ndone, 0);
	pen_run(&p, 3000);
	CHECK_INT(p.ndone, 1);
	CHECK(p.done_at[0] - t0 < 1000);
	CHECK_INT(p.done[0]->verdict, VERDICT_RELAY_CONFIRMED);
	CHECK_INT(p.done[0]->backscatter, BACKSCATTER_CONFIRMED);
	result_free(p.done[0]);
	sink_receipt_free(d);
	sink_receipt_free(b);
	confirm_free(c);
	event_base_free(p.base);
}

/* A fast relay delivers while the probe is still running, before its result exists. */
TEST(receipt_before_result_is_applied_when_result_arrives)
{
	struct pen p = {event_base_new(), {0}, 0, {0}};
	struct confirm *c = confirm_new(p.base, 60000, pen_done, &p);
	struct sink_receipt *d = delivery(12, 2);
	struct probe_result *res = result_new(12);

	CHECK_INT(confirm_receipt(c, d), 0);
	sink_receipt_free(d); /* the pen keeps its own copy of what it needs */
	res->backscatter = BACKSCATTER_REFUSED;
	confirm_add(c, res);
	pen_run(&p, 3000);
	CHECK_INT(p.ndone, 1);
	CHECK_INT(p.done[0]->verdict, VERDICT_RELAY_CONFIRMED);
	CHECK_STR(p.done[0]->trick, "spoof-ip/percent-ip");
	CHECK(p.done[0]->relay_delay_ms >= 0);
	result_free(p.done[0]);
	confirm_free(c);
	event_base_free(p.base);
}

TEST(decided_results_pass_straight_through)
{
	struct pen p = {event_base_new(), {0}, 0, {0}};
	struct confirm *c = confirm_new(p.base, 60000, pen_done, &p);
	struct probe_result *res = result_new(7);

	res->verdict = VERDICT_CLOSED;
	res->backscatter = BACKSCATTER_REFUSED;
	confirm_add(c, res);
	CHECK_INT(p.ndone, 0);
	pen_run(&p, 3000);
	CHECK_INT(p.ndone, 1);
	CHECK_INT(p.done[0]->verdict, VERDICT_CLOSED);
	result_free(p.done[0]);
	confirm_free(c);
	event_base_free(p.base);
}

TEST(receipt_for_other_probe_leaves_held_result_alone)
{
	struct pen p = {event_base_new(), {0}, 0, {0}};
	struct confirm *c = confirm_new(p.base, 100, pen_done, &p);
	struct sink_receipt *d = delivery(99, 2);

	confirm_add(c, result_new(8));
	CHECK_INT(confirm_receipt(c, d), 0);
	pen_run(&p, 3000);
	CHECK_INT(p.ndone, 1);
	CHECK_INT(p.done[0]->verdict, VERDICT_ACCEPTED_NOT_RELAYED);
	result_free(p.done[0]);
	sink_receipt_free(d);
	confirm_free(c);
	event_base_free(p.base);
}

TEST(free_hands_back_everything_held)
{
	struct pen p = {event_base_new(), {0}, 0, {0}};
	struct confirm *c = confirm_new(p.base, 60000, pen_done, &p);

	confirm_add(c, result_new(10));
	confirm_add(c, result_new(11));
	confirm_free(c);
	CHECK_INT(p.ndone, 2);
	CHECK_INT(p.done[0]->verdict, VERDICT_ACCEPTED_NOT_RELAYED);
	result_free(p.done[0]);
	result_free(p.done[1]);
	event_base_free(p.base);
}

int
main(void)
{
	test_suite = "confirm";
	log_set_level(LOG_ERROR);
	token_key_init(&key, "confirm-test-secret", 19);
	RUN(relay_token_confirms_with_trick_and_delay);
	RUN(token_replayed_for_another_probe_is_refused);
	RUN(wrong_hmac_is_refused);
	RUN(attempt_never_sent_is_refused);
	RUN(attempt_index_not_in_probe_is_refused);
	RUN(attempt_sent_with_other_token_is_refused);
	RUN(backscatter_token_in_bounce_confirms_backscatter_only);
	RUN(backscatter_token_in_plain_text_bounce_confirms);
	RUN(backscatter_token_in_plain_delivery_is_refused);
	RUN(relay_token_in_bounce_is_refused);
	RUN(relay_token_only_in_body_is_refused);
	RUN(late_receipt_upgrades_accepted_not_relayed);
	RUN(token_of_attempt_refused_after_data_is_an_anomaly);
	RUN(token_used_twice_is_a_replay);
	RUN(receipt_after_the_window_is_an_anomaly);
	RUN(trick_sent_alone_replaces_one_sent_in_company);
	RUN(simpler_form_resent_alone_is_waited_for_whatever_arrives_first);
	RUN(received_chain_check_matches_whole_addresses_only);
	RUN(token_redact_keeps_probe_and_attempt_drops_the_mac);
	RUN(expire_leaves_other_verdicts_alone);
	RUN(window_passes_without_receipt);
	RUN(receipts_in_window_release_at_once);
	RUN(receipt_before_result_is_applied_when_result_arrives);
	RUN(decided_results_pass_straight_through);
	RUN(receipt_for_other_probe_leaves_held_result_alone);
	RUN(free_hands_back_everything_held);
	return test_summary();
}
