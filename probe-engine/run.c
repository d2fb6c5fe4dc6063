/*
 * A target's attempts and the rules of shared/RELAY-TESTS.md that decide
 * them. The verdict is computed from the set of outcomes alone, so the order
 * attempts ran in (batches, reconnects, retries) cannot change it.
 */
#include "probe-engine/run.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/catalogue.h"
#include "probe-engine/reply.h"

#include <stdlib.h>
#include <string.h>

struct probe_run *
run_new(const struct probe_params *p, const struct probe_target *t, int port, uint64_t probe_id,
	int64_t now_mono)
{
	struct probe_run *r = xcalloc(1, sizeof(*r));
	struct probe_result *res = xcalloc(1, sizeof(*res));
	size_t nd = t->ndomains < CATALOGUE_MAX_DOMAINS ? t->ndomains : CATALOGUE_MAX_DOMAINS;

	res->addr = t->addr;
	res->port = port;
	res->name = t->name ? xstrdup(t->name) : NULL;
	res->probe_id = probe_id;
	res->user = t->user;
	res->started_ms = now_wall_ms();
	r->res = res;
	r->params = p;
	r->err_budget = RUN_ERR_BUDGET;
	r->start_mono = now_mono;
	r->deadline_mono = now_mono + p->deadline_ms;
	r->transcript_cap = p->max_transcript;
	addr_literal(&t->addr, r->literal, sizeof(r->literal));
	if (nd > 0 && p->test_backscatter) {
		char **d = xcalloc(nd, sizeof(*d));

		for (size_t i = 0; i < nd; i++)
			d[i] = xstrdup(t->domains[i]);
		r->domains = (const char *const *)d;
		r->ndomains = nd;
	}
	return r;
}

void
run_free(struct probe_run *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ndomains; i++)
		free((char *)r->domains[i]);
	free((void *)r->domains);
	free(r->st);
	free(r->conn_reason);
	probe_result_free(r->res);
	free(r);
}

static void
run_attempt_init(struct probe_run *r, size_t i, const char *sender, const char *form,
		 bool backscatter)
{
	struct probe_attempt *a = &r->res->attempts[i];

	a->index = (unsigned)i;
	a->sender = sender;
	a->form = form;
	a->backscatter = backscatter;
	token_make(&r->params->key, r->res->probe_id, (unsigned)i, a->token);
}

/* Undoes a run_prepare that could not render every attempt. */
static void
run_unprepare(struct probe_run *r)
{
	struct probe_result *res = r->res;

	for (size_t i = 0; i < res->nattempts; i++) {
		free(res->attempts[i].mail_from);
		free(res->attempts[i].rcpt_to);
	}
	free(res->attempts);
	free(r->st);
	free(res->host);
	res->attempts = NULL;
	r->st = NULL;
	res->host = NULL;
	res->nattempts = 0;
	r->prepared = false;
}

int
run_prepare(struct probe_run *r, const char *host, const char **why)
{
	struct probe_result *res = r->res;
	size_t nrelay = catalogue_nrelay();
	size_t nback = r->params->test_backscatter ? 1 + r->ndomains : 0;
	char from[512], rcpt[512];

	if (r->prepared)
		return 0;
	r->prepared = true;
	res->host = xstrdup(host);
	r->nrelay = nrelay;
	res->nattempts = nrelay + nback;
	res->attempts = xcalloc(res->nattempts, sizeof(*res->attempts));
	r->st = xcalloc(res->nattempts, sizeof(*r->st));
	for (size_t i = 0; i < res->nattempts; i++) {
		struct probe_attempt *a = &res->attempts[i];
		struct form_ctx ctx;

		if (i < nrelay) {
			struct catalogue_attempt ca;

			catalogue_relay(i, &ca);
			run_attempt_init(r, i, catalogue_sender((size_t)ca.sender)->name,
					 catalogue_form((size_t)ca.form)->name, false);
		} else {
			run_attempt_init(r, i, "sink-token",
					 i == nrelay ? "nonexistent-user" : "nonexistent-user-domain",
					 true);
		}
		ctx = (struct form_ctx){a->token, r->params->sink_domain, host, r->literal,
					r->params->outside_domain};
		if (i < nrelay) {
			struct catalogue_attempt ca;

			catalogue_relay(i, &ca);
			if (catalogue_render(catalogue_sender((size_t)ca.sender)->pattern, &ctx, from,
					     sizeof(from)) < 0 ||
			    catalogue_render(catalogue_form((size_t)ca.form)->pattern, &ctx, rcpt,
					     sizeof(rcpt)) < 0) {
				/* H comes from the peer's greeting: its length is the peer's choice. */
				*why = "a relay form does not fit with this host name";
				run_unprepare(r);
				return -1;
			}
		} else {
			const char *dom = i == nrelay ? NULL : r->domains[i - nrelay - 1];

			if (catalogue_backscatter(&ctx, dom, from, sizeof(from), rcpt, sizeof(rcpt)) < 0) {
				*why = "a backscatter form does not fit with this host name";
				run_unprepare(r);
				return -1;
			}
		}
		a->mail_from = xstrdup(from);
		a->rcpt_to = xstrdup(rcpt);
	}
	return 0;
}

static bool
run_ready(const struct run_att *st, int64_t now)
{
	return st->state == ATT_PENDING || (st->state == ATT_WAIT_RETRY && st->retry_at <= now);
}

size_t
run_next_batch(struct probe_run *r, int64_t now, size_t *idx, size_t max)
{
	const char *from = NULL;
	size_t n = 0;

	if (r->relay_stop || !r->prepared)
		return 0;
	for (size_t i = 0; i < r->res->nattempts && n < max; i++) {
		if (!run_ready(&r->st[i], now))
			continue;
		if (from == NULL)
			from = r->res->attempts[i].mail_from;
		else if (strcmp(from, r->res->attempts[i].mail_from) != 0)
			continue;
		r->st[i].state = ATT_RUNNING;
		r->st[i].rcpt_ok = false;
		r->res->attempts[i].tries++;
		idx[n++] = i;
	}
	return n;
}

size_t
run_unfinished(const struct probe_run *r, int64_t now, size_t *ready, int64_t *next_retry)
{
	size_t n = 0, rd = 0;
	int64_t next = 0;

	for (size_t i = 0; r->prepared && i < r->res->nattempts; i++) {
		const struct run_att *st = &r->st[i];

		if (st->state == ATT_DONE)
			continue;
		n++;
		if (run_ready(st, now))
			rd++;
		else if (st->state == ATT_WAIT_RETRY && st->retry_at > next)
			next = st->retry_at;
	}
	if (ready)
		*ready = rd;
	if (next_retry)
		*next_retry = next;
	return n;
}

/*
 * Peer text as evidence: non-printable bytes become '?'. Quotes stay (the
 * quoted forms need them); every consumer escapes for its own format.
 */
static void
run_censor(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = 0;

	for (size_t i = 0; i < srclen && src[i] != '\0' && n + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[n++] = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	dst[n] = '\0';
}

void
reply_rec_set(struct smtp_reply_rec *rec, const struct reply_view *rv)
{
	char buf[RUN_TEXT_KEEP + 1];

	rec->code = rv->code;
	str_fmt(rec->enhanced, sizeof(rec->enhanced), "%s", rv->enhanced ? rv->enhanced : "");
	free(rec->text);
	run_censor(buf, sizeof(buf), rv->text ? rv->text : "", strlen(rv->text ? rv->text : ""));
	rec->text = xstrdup(buf);
}

static void
run_decide(struct probe_run *r, size_t i, enum attempt_outcome o, enum probe_stage stage)
{
	struct probe_attempt *a = &r->res->attempts[i];

	if (r->st[i].state == ATT_DONE)
		return;
	a->outcome = o;
	a->stage = stage;
	r->st[i].state = ATT_DONE;
	r->decided++;
}

/* Enhanced status X.7.1: delivery not authorised (Postfix's "454 4.7.1 Relay access denied"). */
static bool
run_is_x71(const char *enh)
{
	return enh != NULL && enh[0] != '\0' && strcmp(enh + 1, ".7.1") == 0;
}

/*
 * A refusal that is about TLS, not relaying: 530 (must STARTTLS, or must
 * authenticate, which a server may demand only outside TLS) or X.7.0 whose
 * text names TLS. The code alone cannot tell STARTTLS from AUTH here, and
 * both are retried inside TLS, so the text only widens the net beyond 530.
 */
static bool
run_wants_tls(const struct reply_view *rv)
{
	if (rv->code == 530)
		return true;
	if (!reply_perm(rv->code) && !reply_temp(rv->code))
		return false;
	return rv->enhanced != NULL && rv->enhanced[0] != '\0' &&
	       strcmp(rv->enhanced + 1, ".7.0") == 0 && rv->text != NULL &&
	       strcasestr(rv->text, "TLS") != NULL;
}

void
run_reply(struct probe_run *r, size_t i, enum probe_stage stage, const struct reply_view *rv,
	  int64_t now)
{
	struct probe_attempt *a = &r->res->attempts[i];
	struct run_att *st = &r->st[i];
	struct smtp_reply_rec *rec = stage == STAGE_MAIL ? &a->mail
				     : stage == STAGE_RCPT ? &a->rcpt
				     : stage == STAGE_DATA ? &a->data
							   : &a->eod;

	if (st->state != ATT_RUNNING)
		return;
	reply_rec_set(rec, rv);
	if (run_wants_tls(rv) && r->starttls_offered && !r->in_tls) {
		/* not a relay decision: the attempt runs again inside TLS after a fresh EHLO */
		r->tls_wanted = true;
		st->state = ATT_PENDING;
		return;
	}
	if (rv->code == 530) {
		/* authentication required: the server relays for nobody unauthenticated */
		run_decide(r, i, OUTCOME_AUTH_REQUIRED, stage);
		r->relay_stop = true;
	} else if (reply_perm(rv->code)) {
		run_decide(r, i, OUTCOME_REFUSED, stage);
	} else if (reply_temp(rv->code)) {
		st->temps++;
		if (st->temps >= 2) {
			run_decide(r, i,
				   run_is_x71(rv->enhanced) ? OUTCOME_DEFERRED_REFUSAL
							    : OUTCOME_TEMPFAIL,
				   stage);
		} else if (now + r->params->greylist_wait_ms >= r->deadline_mono) {
			/* no time left to retry: unconcluded */
			run_decide(r, i, OUTCOME_TEMPFAIL, stage);
		} else {
			st->state = ATT_WAIT_RETRY;
			st->retry_at = now + r->params->greylist_wait_ms;
		}
	} else if (stage == STAGE_EOD && reply_ok(rv->code)) {
		run_decide(r, i, OUTCOME_ACCEPTED, stage);
	} else if (stage == STAGE_RCPT && reply_ok(rv->code)) {
		st->rcpt_ok = true;
		r->rcpt_ok_seen = true;
	}
}

void
run_error(struct probe_run *r, size_t i, enum probe_stage stage)
{
	if (r->st[i].state == ATT_RUNNING)
		run_decide(r, i, OUTCOME_ERROR, stage);
}

void
run_interrupted(struct probe_run *r, size_t i)
{
	struct run_att *st = &r->st[i];

	if (st->state != ATT_RUNNING)
		return;
	if (++st->breaks >= RUN_BREAKS_MAX) {
		run_decide(r, i, OUTCOME_ERROR, r->res->attempts[i].stage);
		return;
	}
	st->state = ATT_PENDING;
}

void
run_abandon(struct probe_run *r, enum attempt_outcome outcome)
{
	run_abandon_at(r, outcome, STAGE_NONE);
}

void
run_abandon_at(struct probe_run *r, enum attempt_outcome outcome, enum probe_stage stage)
{
	for (size_t i = 0; r->prepared && i < r->res->nattempts; i++)
		run_decide(r, i, outcome, stage);
}

void
run_set_conn(struct probe_run *r, enum probe_verdict v, enum probe_stage stage, const char *reason)
{
	char *copy = reason ? xstrdup(reason) : NULL; /* reason may be r->conn_reason itself */

	r->conn_verdict = v;
	r->conn_stage = stage;
	free(r->conn_reason);
	r->conn_reason = copy;
}

void
run_log(struct probe_run *r, char dir, const char *text, size_t len)
{
	struct probe_result *res = r->res;
	size_t need;
	char line[RUN_TEXT_KEEP * 2 + 8];

	if (res->transcript_truncated || r->transcript_cap == 0)
		return;
	if (len > sizeof(line) - 5)
		len = sizeof(line) - 5;
	line[0] = dir;
	line[1] = ':';
	line[2] = ' ';
	run_censor(line + 3, sizeof(line) - 4, text, len);
	need = strlen(line);
	line[need++] = '\n';
	if (res->transcript_len + need + 1 > r->transcript_cap) {
		res->transcript_truncated = true;
		return;
	}
	/* grow in steps so a probe that says little costs little */
	size_t have = res->transcript ? res->transcript_len + 1 : 0;
	if (res->transcript == NULL || res->transcript_len + need + 1 > have) {
		size_t cap = 256;

		while (cap < res->transcript_len + need + 1)
			cap *= 2;
		if (cap > r->transcript_cap)
			cap = r->transcript_cap;
		res->transcript = xrealloc(res->transcript, cap);
	}
	memcpy(res->transcript + res->transcript_len, line, need);
	res->transcript_len += need;
	res->transcript[res->transcript_len] = '\0';
}

/* Verdict precedence over the set of relay-attempt outcomes. */
static const struct {
	enum attempt_outcome outcome;
	enum probe_verdict verdict;
	const char *reason;
} run_precedence[] = {
	{OUTCOME_RELAYED, VERDICT_RELAY_CONFIRMED, "a test message reached the sink"},
	{OUTCOME_ACCEPTED, VERDICT_ACCEPTED, "a relay attempt was accepted through end of data"},
	{OUTCOME_AUTH_REQUIRED, VERDICT_CLOSED, "authentication required (530)"},
	{OUTCOME_TEMPFAIL, VERDICT_TEMPFAIL, "4xx replies persisted after the greylisting retry"},
	{OUTCOME_ERROR, VERDICT_ERROR, "the dialogue was cut off repeatedly"},
	{OUTCOME_NOT_RUN, VERDICT_ERROR, "not every relay attempt could run"},
	{OUTCOME_DEFERRED_REFUSAL, VERDICT_CLOSED, "relay refused with a persistent 4.7.1"},
	{OUTCOME_REFUSED, VERDICT_CLOSED, "every relay attempt was refused"},
};

static void
run_backscatter(struct probe_run *r)
{
	struct probe_result *res = r->res;
	enum backscatter_result b = BACKSCATTER_UNTESTED;

	for (size_t i = r->nrelay; i < res->nattempts; i++) {
		enum backscatter_result x = BACKSCATTER_UNTESTED;

		switch (res->attempts[i].outcome) {
		case OUTCOME_RELAYED: x = BACKSCATTER_CONFIRMED; break;
		case OUTCOME_ACCEPTED: x = BACKSCATTER_ACCEPTED; break;
		case OUTCOME_REFUSED:
		case OUTCOME_DEFERRED_REFUSAL:
		case OUTCOME_AUTH_REQUIRED: x = BACKSCATTER_REFUSED; break;
		default: break;
		}
		/* the enum runs untested < refused < accepted < confirmed: keep the strongest */
		if (x > b)
			b = x;
	}
	res->backscatter = b;
}

void
run_finish(struct probe_run *r, int64_t now_mono)
{
	struct probe_result *res = r->res;
	bool seen[OUTCOME__COUNT] = {false};
	size_t first[OUTCOME__COUNT];

	res->duration_ms = now_mono - r->start_mono;
	res->pipelining = r->pipelining;
	if (!r->prepared) {
		res->verdict = r->conn_verdict;
		res->stage = r->conn_stage;
		res->reason = xstrdup(r->conn_reason ? r->conn_reason : verdict_name(res->verdict));
		if (res->verdict == VERDICT_NO_SMTP || res->verdict == VERDICT_ERROR ||
		    res->verdict == VERDICT_TEMPFAIL)
			res->error = xstrdup(res->reason);
		return;
	}
	for (size_t i = 0; i < r->nrelay; i++) {
		enum attempt_outcome o = res->attempts[i].outcome;

		if (!seen[o])
			first[o] = i;
		seen[o] = true;
	}
	for (size_t k = 0; k < ARRAY_LEN(run_precedence); k++) {
		enum attempt_outcome o = run_precedence[k].outcome;
		struct probe_attempt *a;

		if (!seen[o])
			continue;
		/* 530 ends the relay attempts; the ones it cut short do not make it an error */
		if ((o == OUTCOME_NOT_RUN || o == OUTCOME_ERROR) && seen[OUTCOME_AUTH_REQUIRED])
			continue;
		a = &res->attempts[first[o]];
		res->verdict = run_precedence[k].verdict;
		res->stage = a->stage;
		if (o == OUTCOME_RELAYED || o == OUTCOME_ACCEPTED)
			res->trick = probe_attempt_trick(a);
		if (o == OUTCOME_NOT_RUN || o == OUTCOME_ERROR)
			res->reason = xstrdup(r->conn_reason ? r->conn_reason
							     : run_precedence[k].reason);
		else if (o == OUTCOME_TEMPFAIL || o == OUTCOME_DEFERRED_REFUSAL ||
			 o == OUTCOME_AUTH_REQUIRED) {
			const struct smtp_reply_rec *rec = a->stage == STAGE_MAIL   ? &a->mail
							   : a->stage == STAGE_RCPT ? &a->rcpt
							   : a->stage == STAGE_DATA ? &a->data
										    : &a->eod;
			/* the text carries the enhanced code when the server sent one */
			res->reason = xasprintf("%s: %d %s", run_precedence[k].reason, rec->code,
						rec->text ? rec->text : "");
		} else {
			res->reason = xstrdup(run_precedence[k].reason);
		}
		break;
	}
	if (res->reason == NULL) {
		/* no relay attempt at all (cannot happen with a non-empty catalogue) */
		res->verdict = VERDICT_ERROR;
		res->reason = xstrdup("no relay attempt ran");
	}
	if (res->verdict == VERDICT_ERROR || res->verdict == VERDICT_TEMPFAIL)
		res->error = xstrdup(res->reason);
	run_backscatter(r);
}
