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

static void run_decide(struct probe_run *r, size_t i, enum attempt_outcome o,
		       enum probe_stage stage);

struct probe_run *
run_new(const struct probe_params *p, const struct probe_target *t, int port, uint64_t probe_id,
	int64_t now_mono)
{
	struct probe_run *r = xcalloc(1, sizeof(*r));
	struct probe_result *res = xcalloc(1, sizeof(*res));
	size_t nd = t->ndomains < RUN_DOMAINS_MAX ? t->ndomains : RUN_DOMAINS_MAX;

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
	r->retry_unit = (uint32_t)(p->deadline_ms / UINT16_MAX + 1);
	r->transcript_cap = p->max_transcript < UINT32_MAX ? (uint32_t)p->max_transcript : UINT32_MAX;
	addr_literal(&t->addr, r->literal, sizeof(r->literal));
	token_id_digits(probe_id, r->token_id);
	if (nd > 0) {
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
	free(r->spoof);
	free(r->st);
	free(r->retry_at);
	free(r->replies);
	free(r->late);
	free(r->conn_reason);
	txbuf_free(&r->tx);
	probe_result_free(r->res);
	free(r);
}

/* Slot i: attempt number index, its catalogue sender and form (-1, -1: backscatter). */
static void
run_att_init(struct probe_run *r, size_t i, size_t index, int sender, int form, size_t dom,
	     enum probe_helo helo)
{
	struct run_att *st = &r->st[i];

	memset(st, 0, sizeof(*st));
	st->index = (uint8_t)index;
	st->sender = (int8_t)sender;
	st->form = (int8_t)form;
	st->dom = (uint8_t)dom;
	st->backscatter = sender < 0;
	st->helo_kind = (uint8_t)helo;
	st->alone = run_att_has_last(r, i);
	st->state = ATT_PENDING;
}

void
run_att_token(const struct probe_run *r, size_t i, char *out)
{
	token_make_recent(&r->params->key, r->res->probe_id, r->st[i].index, out);
}

bool
run_att_has_last(const struct probe_run *r, size_t i)
{
	return r->st[i].form >= 0 && catalogue_form((size_t)r->st[i].form)->last != NULL;
}

/* Sender domain d of the spoof-domain attempts. */
static const char *
run_spoof_domain(const struct probe_run *r, size_t d)
{
	const char *p = r->spoof;

	while (d-- > 0)
		p += strlen(p) + 1;
	return p;
}

/*
 * Renders one of the attempt's addresses for H (res->host); -1 when it does
 * not fit (H comes from the peer's greeting: its length is the peer's choice).
 */
static int
run_att_render(const struct probe_run *r, size_t i, enum run_addr which, char *out)
{
	const struct run_att *st = &r->st[i];
	char token[TOKEN_BUFLEN], scratch[RUN_ADDR_MAX];
	struct form_ctx ctx = {token, r->params->sink_domain, r->res->host, r->literal,
			       r->params->outside_domain, NULL};
	const struct rcpt_form *f;
	const char *pattern;

	if (st->backscatter) {
		const char *dom = st->dom > 0 ? r->domains[st->dom - 1] : NULL;

		out[0] = '\0';
		if (which == RUN_ADDR_LAST)
			return 0;
		run_att_token(r, i, token);
		/* the pair is rendered together: the address not asked for goes to scratch */
		return catalogue_backscatter(&ctx, dom, which == RUN_ADDR_FROM ? out : scratch,
					     RUN_ADDR_MAX, which == RUN_ADDR_RCPT ? out : scratch,
					     RUN_ADDR_MAX);
	}
	if (st->dom > 0)
		ctx.domain = run_spoof_domain(r, st->dom - 1);
	f = catalogue_form((size_t)st->form);
	pattern = which == RUN_ADDR_FROM   ? catalogue_sender((size_t)st->sender)->pattern
		  : which == RUN_ADDR_RCPT ? f->pattern
					   : f->last;
	if (pattern == NULL) {
		out[0] = '\0';
		return 0;
	}
	/* most senders carry no token: none is made for them */
	token[0] = '\0';
	if (strstr(pattern, "{T}") != NULL)
		run_att_token(r, i, token);
	return catalogue_render(pattern, &ctx, out, RUN_ADDR_MAX);
}

void
run_att_addr(const struct probe_run *r, size_t i, enum run_addr which, char *out)
{
	/* every address was rendered once by run_prepare: it fits */
	if (run_att_render(r, i, which, out) < 0)
		out[0] = '\0';
}

/* Whether every address of attempt i fits with this H (run_prepare). */
static bool
run_att_fits(const struct probe_run *r, size_t i)
{
	char buf[RUN_ADDR_MAX];

	return run_att_render(r, i, RUN_ADDR_FROM, buf) == 0 &&
	       run_att_render(r, i, RUN_ADDR_RCPT, buf) == 0 &&
	       run_att_render(r, i, RUN_ADDR_LAST, buf) == 0;
}

/* The n sender domains one after the other, each NUL-terminated (NULL for none). */
static char *
run_spoof_pack(char (*domains)[DOMAINS_NAME_MAX], size_t n)
{
	size_t len = 0, o = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		len += strlen(domains[i]) + 1;
	if (len == 0)
		return NULL;
	out = xmalloc(len);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(domains[i]) + 1;

		memcpy(out + o, domains[i], l);
		o += l;
	}
	return out;
}

/* Undoes a run_prepare that could not render every attempt. */
static void
run_unprepare(struct probe_run *r)
{
	struct probe_result *res = r->res;

	free(r->st);
	free(r->retry_at);
	free(res->host);
	free(r->spoof);
	for (size_t i = 0; i < PROBE_HELO__COUNT; i++) {
		free(res->helo_names[i]);
		res->helo_names[i] = NULL;
	}
	r->st = NULL;
	r->retry_at = NULL;
	r->natt = r->att_cap = 0;
	r->spoof = NULL;
	r->nspoof = 0;
	res->host = NULL;
	r->prepared = false;
}

/* A relay attempt of the catalogue at slot i; false when it does not fit with H. */
static bool
run_add_relay(struct probe_run *r, size_t i, size_t index, const struct catalogue_attempt *ca,
	      enum probe_helo helo, size_t dom)
{
	run_att_init(r, i, index, ca->sender, ca->form, dom, helo);
	return run_att_fits(r, i);
}

/*
 * Every attempt in its slot: the combined relay attempts, the backscatter
 * ones, the late forms, spoof-domain per sender domain, the greetings as
 * the target; then room for the re-sends. Attempts that cannot apply (no
 * sender domain, H no name) are not made at all.
 */
int
run_prepare(struct probe_run *r, const char *host, const char **why)
{
	struct probe_result *res = r->res;
	size_t nrelay = catalogue_nrelay(), nlate = catalogue_nlate();
	size_t nback = r->params->test_backscatter
			       ? 1 + (r->ndomains < CATALOGUE_MAX_DOMAINS ? r->ndomains
									  : CATALOGUE_MAX_DOMAINS)
			       : 0;
	size_t nsf = catalogue_nspoof_forms(), ngs = catalogue_ngreeting_senders();
	bool host_is_name = strcmp(host, r->literal) != 0;
	enum probe_helo greetings[] = {PROBE_HELO_HOST, PROBE_HELO_LITERAL, PROBE_HELO_LOCALHOST};
	char spoof[CATALOGUE_MAX_SPOOF_DOMAINS][DOMAINS_NAME_MAX];
	size_t ngreet = 0, n = 0, total;
	struct catalogue_attempt ca;

	if (r->prepared)
		return 0;
	r->prepared = true;
	res->host = xstrdup(host);
	res->helo_names[PROBE_HELO_OURS] = xstrdup(r->params->helo_name);
	res->helo_names[PROBE_HELO_HOST] = host_is_name ? xstrdup(host) : NULL;
	res->helo_names[PROBE_HELO_LITERAL] = xstrdup(r->literal);
	res->helo_names[PROBE_HELO_LOCALHOST] = xstrdup("localhost");
	r->nspoof = domains_spoof_list(host, r->domains, r->ndomains, spoof,
				       CATALOGUE_MAX_SPOOF_DOMAINS, &res->spoof_domains_dropped);
	r->spoof = run_spoof_pack(spoof, r->nspoof);
	for (size_t g = 0; g < ARRAY_LEN(greetings); g++)
		ngreet += res->helo_names[greetings[g]] != NULL;
	r->nrelay = nrelay;
	r->nback = nback;
	total = nrelay + nback + nlate + r->nspoof * nsf + ngreet * ngs;
	r->st = xcalloc(total, sizeof(*r->st));
	r->natt = r->att_cap = r->resend_base = total;
	for (size_t i = 0; i < nrelay; i++, n++) {
		catalogue_relay(i, &ca);
		if (!run_add_relay(r, n, i, &ca, PROBE_HELO_OURS, 0))
			goto toolong;
	}
	for (size_t i = 0; i < nback; i++, n++) {
		run_att_init(r, n, nrelay + i, -1, -1, i, PROBE_HELO_OURS);
		if (!run_att_fits(r, n)) {
			*why = "a backscatter form does not fit with this host name";
			run_unprepare(r);
			return -1;
		}
	}
	for (size_t k = 0; k < nlate; k++, n++) {
		catalogue_late(k, &ca);
		if (!run_add_relay(r, n, catalogue_late_base() + k, &ca, PROBE_HELO_OURS, 0))
			goto toolong;
	}
	for (size_t d = 0; d < r->nspoof; d++) {
		for (size_t f = 0; f < nsf; f++, n++) {
			catalogue_spoof(f, &ca);
			if (!run_add_relay(r, n, catalogue_spoof_index(d, f), &ca, PROBE_HELO_OURS,
					   d + 1))
				goto toolong;
		}
	}
	for (size_t g = 0; g < ARRAY_LEN(greetings); g++) {
		if (res->helo_names[greetings[g]] == NULL)
			continue;
		for (size_t k = 0; k < ngs; k++, n++) {
			catalogue_greeting(k, &ca);
			if (!run_add_relay(r, n, catalogue_greeting_index(greetings[g], k), &ca,
					   greetings[g], 0))
				goto toolong;
		}
	}
	return 0;
toolong:
	*why = "a relay form does not fit with this host name";
	run_unprepare(r);
	return -1;
}

/* 1 + position of the attempt that i re-sends alone; 0: none. */
static size_t
run_resend_of(const struct probe_run *r, size_t i)
{
	return i >= r->resend_base && i - r->resend_base < RUN_RESEND_MAX
		       ? r->resend_of[i - r->resend_base]
		       : 0;
}

/*
 * Attempts that only widen the search: spoof-domain and the greetings as the
 * target. A re-send alone is not one: it names the trick.
 */
static bool
run_optional(const struct probe_run *r, size_t i)
{
	const struct run_att *st = &r->st[i];

	return run_resend_of(r, i) == 0 &&
	       (st->helo_kind != PROBE_HELO_OURS ||
		(st->sender >= 0 && strcmp(catalogue_sender((size_t)st->sender)->name,
					   "spoof-domain") == 0));
}

/*
 * Once a relay attempt was accepted the verdict is a relay whatever the
 * optional attempts say, and the trick named is the first by index: they
 * cannot change the result, so they do not run.
 */
static void
run_skip_optional(struct probe_run *r)
{
	for (size_t i = 0; i < r->natt; i++) {
		struct run_att *st = &r->st[i];

		if (st->state == ATT_DONE || st->state == ATT_RUNNING || !run_optional(r, i))
			continue;
		st->outcome = OUTCOME_SKIPPED;
		st->stage = STAGE_NONE;
		st->state = ATT_DONE;
	}
}

/*
 * A form accepted in company is sent once more on its own (bounded), with
 * a token of its own: only a receipt of that one names it the trick.
 */
static void
run_resend_alone(struct probe_run *r, size_t i)
{
	const struct run_att *orig = &r->st[i];
	size_t n = r->natt;

	if (r->nresend >= RUN_RESEND_MAX || orig->backscatter || orig->rcpts <= 1 ||
	    run_resend_of(r, i) != 0)
		return;
	for (size_t k = 0; k < r->nresend; k++) {
		if (r->resend_of[k] == i + 1)
			return;
	}
	if (n == r->att_cap) {
		/* re-sends are few (RUN_RESEND_MAX): grown by need; callers hold positions */
		r->att_cap = n + 1;
		r->st = xrealloc(r->st, r->att_cap * sizeof(*r->st));
		if (r->retry_at != NULL)
			r->retry_at = xrealloc(r->retry_at, r->att_cap * sizeof(*r->retry_at));
		orig = &r->st[i];
	}
	run_att_init(r, n, catalogue_resend_base() + r->nresend, orig->sender, orig->form,
		     orig->dom, (enum probe_helo)orig->helo_kind);
	r->st[n].alone = true;
	if (!run_att_fits(r, n)) {
		/* it fitted once with this H; keep the slot unused if it ever does not */
		memset(&r->st[n], 0, sizeof(r->st[n]));
		return;
	}
	r->resend_of[r->nresend] = (uint8_t)(i + 1);
	r->natt++;
	r->nresend++;
}

/* Attempt st's commands go on the wire: another try. */
static void
run_att_start(struct run_att *st)
{
	st->state = ATT_RUNNING;
	st->rcpt_ok = false;
	if (st->tries < RUN_TRIES_MAX) /* tries are few (breaks and 4xx end an attempt); a cap all the same */
		st->tries++;
}

/* When attempt st (ATT_WAIT_RETRY) runs again. */
static int64_t
run_retry_time(const struct probe_run *r, const struct run_att *st)
{
	return r->start_mono + (int64_t)r->retry_at[st - r->st] * r->retry_unit;
}

static bool
run_ready(const struct probe_run *r, const struct run_att *st, int64_t now)
{
	return st->state == ATT_PENDING ||
	       (st->state == ATT_WAIT_RETRY && run_retry_time(r, st) <= now);
}

/* Attempts a and b send the same MAIL FROM (a sender with no token in it). */
static bool
run_same_sender(const struct run_att *a, const struct run_att *b)
{
	return !a->backscatter && !b->backscatter && a->sender == b->sender && a->dom == b->dom;
}

/* Put back with its RCPT accepted (run_put_back): runs again first, in the same company. */
static bool
run_replay(const struct run_att *st)
{
	return st->state == ATT_PENDING && st->rcpt_ok;
}

size_t
run_next_batch(struct probe_run *r, int64_t now, size_t *idx, size_t max)
{
	const struct run_att *first = NULL;
	size_t n = 0;
	bool replay = false;

	if (r->relay_stop || !r->prepared)
		return 0;
	/* only an open-looking server has any (the scan is for them alone) */
	for (size_t i = 0; r->rcpt_ok_seen && i < r->natt && !replay; i++)
		replay = run_replay(&r->st[i]) && r->st[i].helo_kind == r->helo_kind;
	for (size_t i = 0; i < r->natt && n < max; i++) {
		struct run_att *st = &r->st[i];

		if (!run_ready(r, st, now) || st->helo_kind != r->helo_kind ||
		    (replay && !run_replay(st)))
			continue;
		if (st->alone || st->backscatter) {
			/* its own transaction: the first thing picked, or left for later */
			if (n > 0)
				continue;
			run_att_start(st);
			idx[n++] = i;
			return n;
		}
		if (first == NULL)
			first = st;
		else if (!run_same_sender(first, st))
			continue;
		run_att_start(st);
		idx[n++] = i;
	}
	return n;
}

bool
run_replay_pending(const struct probe_run *r)
{
	for (size_t i = 0; r->rcpt_ok_seen && !r->relay_stop && i < r->natt; i++) {
		if (run_replay(&r->st[i]))
			return true;
	}
	return false;
}

enum probe_helo
run_next_helo(const struct probe_run *r, int64_t now)
{
	for (size_t i = 0; r->rcpt_ok_seen && !r->relay_stop && i < r->natt; i++) {
		if (run_replay(&r->st[i]))
			return (enum probe_helo)r->st[i].helo_kind;
	}
	for (size_t i = 0; r->prepared && !r->relay_stop && i < r->natt; i++) {
		if (run_ready(r, &r->st[i], now))
			return (enum probe_helo)r->st[i].helo_kind;
	}
	return PROBE_HELO_OURS;
}

static uint16_t run_reply_store(struct probe_run *r, const struct reply_view *rv, const char *addr,
				char mark);

void
run_greeting_refused(struct probe_run *r, enum probe_helo h, const struct reply_view *rv)
{
	if (h == PROBE_HELO_OURS || !r->prepared)
		return;
	r->helo_reply[h] = rv != NULL ? run_reply_store(r, rv, NULL, 0) : 0;
	for (size_t i = 0; i < r->natt; i++) {
		if (r->st[i].helo_kind != h || r->st[i].state == ATT_DONE)
			continue;
		run_decide(r, i, OUTCOME_REFUSED, STAGE_EHLO);
	}
}

size_t
run_unfinished(const struct probe_run *r, int64_t now, size_t *ready, int64_t *next_retry)
{
	size_t n = 0, rd = 0;
	int64_t next = 0;

	for (size_t i = 0; r->prepared && i < r->natt; i++) {
		const struct run_att *st = &r->st[i];

		if (st->state == ATT_DONE)
			continue;
		n++;
		if (run_ready(r, st, now))
			rd++;
		else if (st->state == ATT_WAIT_RETRY && run_retry_time(r, st) > next)
			next = run_retry_time(r, st);
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

/*
 * While the dialogue runs, a reply text that repeats the attempt's own
 * recipient (or sender) keeps it as one marker byte: "5.7.1 \1: Relay access
 * denied" is then one reply for every attempt of the target instead of one
 * each. run_finish puts the address back. Censored text has no control
 * bytes, so a marker cannot come from the peer.
 */
#define RUN_MARK_RCPT '\001'
#define RUN_MARK_MAIL '\002'
#define RUN_REPLY_LOOKBACK 16 /* distinct replies compared before a new one is stored */

/*
 * The position (+ 1) in the run's reply table of a censored, bounded copy
 * of rv, with addr (when the text repeats it) as the marker byte mark. A
 * target repeats a handful of replies; what it varies is stored once each.
 */
static uint16_t
run_reply_store(struct probe_run *r, const struct reply_view *rv, const char *addr, char mark)
{
	char buf[RUN_TEXT_KEEP + 1], packed[RUN_TEXT_KEEP + 1], enh[sizeof(r->replies->enhanced)];
	const char *text = buf, *at;
	struct smtp_reply_rec *rec;

	str_fmt(enh, sizeof(enh), "%s", rv->enhanced ? rv->enhanced : "");
	run_censor(buf, sizeof(buf), rv->text ? rv->text : "", strlen(rv->text ? rv->text : ""));
	if (addr != NULL && addr[0] != '\0' && (at = strstr(buf, addr)) != NULL) {
		str_fmt(packed, sizeof(packed), "%.*s%c%s", (int)(at - buf), buf, mark,
			at + strlen(addr));
		text = packed;
	}
	for (size_t k = r->nreplies; k > 0 && k + RUN_REPLY_LOOKBACK > r->nreplies; k--) {
		rec = &r->replies[k - 1];
		if (rec->code == rv->code && strcmp(rec->enhanced, enh) == 0 &&
		    strcmp(rec->text, text) == 0)
			return (uint16_t)k;
	}
	/* bounded: a few replies per attempt and try, far below the table's 65535 */
	if (r->nreplies >= UINT16_MAX)
		return 0;
	if (r->nreplies == r->replies_cap) {
		r->replies_cap = r->replies_cap ? r->replies_cap * 2 : 4; /* a closed server gives three or four */
		r->replies = xrealloc(r->replies, r->replies_cap * sizeof(*r->replies));
	}
	rec = &r->replies[r->nreplies++];
	rec->code = rv->code;
	memcpy(rec->enhanced, enh, sizeof(enh));
	rec->text = probe_strings_dup(&r->res->strings, text);
	return (uint16_t)r->nreplies;
}

/* Reply ref (1 + position) into rec of the result, the marker back to addr. */
static void
run_reply_unpack(struct probe_run *r, uint16_t ref, const char *addr, struct smtp_reply_rec *rec)
{
	char buf[RUN_TEXT_KEEP * 2 + RUN_ADDR_MAX];
	const char *m;

	if (ref == 0)
		return;
	*rec = r->replies[ref - 1];
	if (addr == NULL || (m = strpbrk(rec->text, "\001\002")) == NULL)
		return;
	str_fmt(buf, sizeof(buf), "%.*s%s%s", (int)(m - rec->text), rec->text, addr, m + 1);
	rec->text = probe_strings_dup(&r->res->strings, buf);
}

/* Attempt i's DATA and end-of-data replies (added when add), or NULL. */
static struct run_late_reply *
run_late(struct probe_run *r, size_t i, bool add)
{
	for (size_t k = 0; k < r->nlate; k++) {
		if (r->late[k].pos == i)
			return &r->late[k];
	}
	if (!add)
		return NULL;
	if (r->nlate == r->late_cap) {
		r->late_cap = r->late_cap ? r->late_cap * 2 : 4;
		r->late = xrealloc(r->late, r->late_cap * sizeof(*r->late));
	}
	r->late[r->nlate] = (struct run_late_reply){(uint16_t)i, 0, 0, 0, 0};
	return &r->late[r->nlate++];
}

/* Attempt i's MAIL or RCPT reply: 1 + position in r->replies, 0: none. */
static void
run_att_set_reply(struct probe_run *r, size_t i, int slot, uint16_t v)
{
	struct run_late_reply *lr;

	if (v < RUN_REPLY_FAR) {
		r->st[i].reply[slot] = (uint8_t)v;
		return;
	}
	/* a server of more than 254 distinct replies: kept beside */
	lr = run_late(r, i, true);
	*(slot == RUN_REPLY_MAIL ? &lr->mail : &lr->rcpt) = v;
	r->st[i].reply[slot] = RUN_REPLY_FAR;
}

static uint16_t
run_att_reply(struct probe_run *r, size_t i, int slot)
{
	const struct run_late_reply *lr;

	if (r->st[i].reply[slot] != RUN_REPLY_FAR)
		return r->st[i].reply[slot];
	lr = run_late(r, i, false);
	return lr == NULL ? 0 : slot == RUN_REPLY_MAIL ? lr->mail : lr->rcpt;
}

static void
run_decide(struct probe_run *r, size_t i, enum attempt_outcome o, enum probe_stage stage)
{
	struct run_att *st = &r->st[i];

	if (st->state == ATT_DONE)
		return;
	st->outcome = (uint8_t)o;
	st->stage = (uint8_t)stage;
	st->state = ATT_DONE;
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
	struct run_att *st = &r->st[i];
	enum run_reply_slot slot = stage == STAGE_MAIL	 ? RUN_REPLY_MAIL
				   : stage == STAGE_RCPT ? RUN_REPLY_RCPT
				   : stage == STAGE_DATA ? RUN_REPLY_DATA
							 : RUN_REPLY_EOD;
	char addr[RUN_ADDR_MAX];

	if (st->state != ATT_RUNNING)
		return;
	if (slot == RUN_REPLY_MAIL || slot == RUN_REPLY_RCPT) {
		/*
		 * Only a text that could repeat the address is searched for it
		 * (every address sent has a "<" or an "@"): "250 2.1.0 Ok" is not
		 * worth rendering the address for. Stored as is, it is the same.
		 */
		addr[0] = '\0';
		if (rv->text != NULL && strpbrk(rv->text, "<@") != NULL)
			run_att_addr(r, i, slot == RUN_REPLY_MAIL ? RUN_ADDR_FROM : RUN_ADDR_RCPT,
				     addr);
		run_att_set_reply(r, i, slot,
				  run_reply_store(r, rv, addr,
						  slot == RUN_REPLY_RCPT ? RUN_MARK_RCPT : RUN_MARK_MAIL));
	} else {
		struct run_late_reply *lr = run_late(r, i, true);

		*(slot == RUN_REPLY_DATA ? &lr->data : &lr->eod) = run_reply_store(r, rv, NULL, 0);
	}
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
			int64_t due = now + r->params->greylist_wait_ms - r->start_mono;

			st->state = ATT_WAIT_RETRY;
			/* rounded up: never before the wait is over; within the deadline, so it fits */
			if (r->retry_at == NULL) /* only servers that say 4xx need these */
				r->retry_at = xcalloc(r->att_cap, sizeof(*r->retry_at));
			r->retry_at[i] = (uint16_t)((due + r->retry_unit - 1) / r->retry_unit);
		}
	} else if (stage == STAGE_EOD && reply_ok(rv->code)) {
		run_decide(r, i, OUTCOME_ACCEPTED, stage);
		run_resend_alone(r, i);
		st = &r->st[i]; /* a re-send may have moved the array */
		if (!st->backscatter && !r->relay_accepted) {
			r->relay_accepted = true;
			run_skip_optional(r);
		}
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
		run_decide(r, i, OUTCOME_ERROR, (enum probe_stage)st->stage);
		return;
	}
	st->state = ATT_PENDING;
}

void
run_put_back(struct probe_run *r, size_t i)
{
	struct run_att *st = &r->st[i];

	if (st->state != ATT_RUNNING)
		return;
	/* rcpt_ok stays: an accepted one runs again first (run_next_batch) */
	st->state = ATT_PENDING;
	st->tries--;
	/* the re-run records its own replies; none of this try's may outlive it */
	st->reply[RUN_REPLY_MAIL] = 0;
	st->reply[RUN_REPLY_RCPT] = 0;
}

void
run_abandon(struct probe_run *r, enum attempt_outcome outcome)
{
	run_abandon_at(r, outcome, STAGE_NONE);
}

void
run_abandon_at(struct probe_run *r, enum attempt_outcome outcome, enum probe_stage stage)
{
	for (size_t i = 0; r->prepared && i < r->natt; i++)
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

/*
 * The transcript while the probe runs is packed: what the probe itself put
 * on the wire and the server echoes (its tokens, the sink domain, H, the
 * address literal, the EHLO and outside domains) is one or two bytes each,
 * a control byte the censored text cannot hold, and run_finish unpacks it.
 * A closed target's 8 KB transcript is about a third of that in flight.
 * transcript_len and the cap count the unpacked bytes, so what is kept and
 * where it is cut are as if nothing were packed.
 */
enum {
	TX_TOKEN = 1, /* followed by one byte: 1 + the attempt's position */
	TX_SINK,
	TX_HOST,
	TX_LITERAL,
	TX_OUTSIDE,
	TX_HELO,
	TX__COUNT
};

static const char *
run_tx_word(const struct probe_run *r, int code)
{
	switch (code) {
	case TX_SINK: return r->params->sink_domain;
	case TX_HOST: return r->prepared ? r->res->host : NULL;
	case TX_LITERAL: return r->literal;
	case TX_OUTSIDE: return r->params->outside_domain;
	case TX_HELO: return r->params->helo_name;
	default: return NULL;
	}
}

/* The position of the attempt whose token starts s (TOKEN_LEN bytes there), or -1. */
static int
run_tx_token(const struct probe_run *r, const char *s, size_t left)
{
	char token[TOKEN_BUFLEN];
	size_t guess;
	unsigned hi, lo;

	/* "rt", the probe id (the same in every token of the probe), the attempt index, a MAC */
	if (left < TOKEN_LEN || s[0] != 'r' || s[1] != 't' || !r->prepared || r->natt == 0 ||
	    memcmp(s + 2, r->token_id, TOKEN_ID_DIGITS) != 0)
		return -1;
	hi = (unsigned)(s[14] <= '9' ? s[14] - '0' : (s[14] | 0x20) - 'a' + 10);
	lo = (unsigned)(s[15] <= '9' ? s[15] - '0' : (s[15] | 0x20) - 'a' + 10);
	guess = (hi & 15) << 4 | (lo & 15);
	/* a relay attempt's index is its position; later ones are looked for */
	if (guess < r->natt && r->st[guess].index == guess) {
		run_att_token(r, guess, token);
		return memcmp(token, s, TOKEN_LEN) == 0 && guess < 255 ? (int)guess : -1;
	}
	for (size_t i = 0; i < r->natt && i < 255; i++) {
		if (r->st[i].index != guess)
			continue;
		run_att_token(r, i, token);
		return memcmp(token, s, TOKEN_LEN) == 0 ? (int)i : -1;
	}
	return -1;
}

static void
run_tx_put(struct probe_run *r, const char *p, size_t n)
{
	txbuf_put(&r->tx, p, n);
}

static void
run_tx_pack(struct probe_run *r, const char *line, size_t len)
{
	size_t i = 0, lit = 0, wl[TX__COUNT] = {0};
	const char *w[TX__COUNT] = {NULL};

	/* the words once per line, not per byte */
	for (int c = TX_SINK; c < TX__COUNT; c++) {
		w[c] = run_tx_word(r, c);
		wl[c] = w[c] ? strlen(w[c]) : 0;
	}
	while (i < len) {
		char code[2];
		size_t n = 0, clen = 1;
		int pos = line[i] == 'r' ? run_tx_token(r, line + i, len - i) : -1;

		if (pos >= 0) {
			code[0] = TX_TOKEN;
			code[1] = (char)(pos + 1);
			clen = 2;
			n = TOKEN_LEN;
		} else {
			for (int c = TX_SINK; c < TX__COUNT; c++) {
				if (wl[c] > 2 && wl[c] <= len - i && line[i] == w[c][0] &&
				    memcmp(line + i, w[c], wl[c]) == 0) {
					code[0] = (char)c;
					n = wl[c];
					break;
				}
			}
		}
		if (n == 0) {
			i++;
			continue;
		}
		run_tx_put(r, line + lit, i - lit);
		run_tx_put(r, code, clen);
		i += n;
		lit = i;
	}
	run_tx_put(r, line + lit, len - lit);
	txbuf_seal(&r->tx);
}

/* The packed transcript as shown, into res->transcript (run_finish). */
static void
run_tx_unpack(struct probe_run *r)
{
	struct probe_result *res = r->res;
	size_t o = 0, used;
	char *tx;

	if (r->tx.total == 0)
		return;
	tx = txbuf_take(&r->tx, &used);
	res->transcript = xmalloc(res->transcript_len + 1);
	for (size_t i = 0; i < used && o < res->transcript_len; i++) {
		unsigned char c = (unsigned char)tx[i];
		const char *w = NULL;
		char token[TOKEN_BUFLEN];
		size_t wl;

		if (c >= TX__COUNT || c == 0) {
			res->transcript[o++] = (char)c;
			continue;
		}
		if (c == TX_TOKEN && i + 1 < used) {
			run_att_token(r, (unsigned char)tx[++i] - 1, token);
			w = token;
		} else
			w = run_tx_word(r, c);
		wl = w ? strlen(w) : 0;
		if (wl > res->transcript_len - o)
			wl = res->transcript_len - o;
		memcpy(res->transcript + o, w, wl);
		o += wl;
	}
	res->transcript[o] = '\0';
	res->transcript_len = o;
	free(tx);
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
		txbuf_close(&r->tx); /* the rest of the dialogue holds it deflated */
		return;
	}
	run_tx_pack(r, line, need);
	res->transcript_len += need;
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

	for (size_t i = 0; i < res->nattempts; i++) {
		enum backscatter_result x = BACKSCATTER_UNTESTED;

		if (!res->attempts[i].backscatter)
			continue;

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

struct probe_result *
run_take_result(struct probe_run *r)
{
	struct probe_result *res;

	run_finish(r, r->end_mono);
	res = r->res;
	r->res = NULL;
	run_free(r);
	return res;
}

size_t
run_attempts_made(const struct probe_run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->natt; i++)
		n += r->st[i].outcome != OUTCOME_NOT_RUN && r->st[i].outcome != OUTCOME_SKIPPED;
	return n;
}

/* The name of the backscatter attempts' "forms". */
static const char *
run_backscatter_form(const struct run_att *st)
{
	return st->dom > 0 ? "nonexistent-user-domain" : "nonexistent-user";
}

void
run_att_record(struct probe_run *r, size_t i, struct probe_attempt *a)
{
	const struct run_att *st = &r->st[i];
	struct probe_result *res = r->res;
	const struct run_late_reply *late;
	char from[RUN_ADDR_MAX], rcpt[RUN_ADDR_MAX], last[RUN_ADDR_MAX];

	a->sender = st->backscatter ? "sink-token" : catalogue_sender((size_t)st->sender)->name;
	a->form = st->backscatter ? run_backscatter_form(st) : catalogue_form((size_t)st->form)->name;
	run_att_addr(r, i, RUN_ADDR_FROM, from);
	run_att_addr(r, i, RUN_ADDR_RCPT, rcpt);
	run_att_addr(r, i, RUN_ADDR_LAST, last);
	a->mail_from = probe_strings_dup(&res->strings, from);
	a->rcpt_to = probe_strings_dup(&res->strings, rcpt);
	a->rcpt_last = last[0] != '\0' ? probe_strings_dup(&res->strings, last) : NULL;
	a->helo_kind = (enum probe_helo)st->helo_kind;
	a->helo = res->helo_names[st->helo_kind];
	run_reply_unpack(r, run_att_reply(r, i, RUN_REPLY_MAIL), from, &a->mail);
	run_reply_unpack(r, run_att_reply(r, i, RUN_REPLY_RCPT), rcpt, &a->rcpt);
	if ((late = run_late(r, i, false)) != NULL) {
		run_reply_unpack(r, late->data, NULL, &a->data);
		run_reply_unpack(r, late->eod, NULL, &a->eod);
	}
	/* the attempts a refused greeting decided carry its reply */
	if (st->outcome == OUTCOME_REFUSED && st->stage == STAGE_EHLO)
		run_reply_unpack(r, r->helo_reply[st->helo_kind], NULL, &a->helo_reply);
	a->index = st->index;
	a->stage = (enum probe_stage)st->stage;
	a->outcome = (enum attempt_outcome)st->outcome;
	a->tries = st->tries;
	a->rcpts = st->rcpts;
	a->resend_of = run_resend_of(r, i) > 0 ? (int)r->st[run_resend_of(r, i) - 1].index : -1;
	run_att_token(r, i, a->token);
	a->backscatter = st->backscatter;
	a->tls = st->tls;
	a->alone = st->alone;
}

/* res->attempts from the compact ones; these go, the run is done with them. */
static void
run_records(struct probe_run *r)
{
	struct probe_result *res = r->res;

	res->attempts = r->natt > 0 ? xcalloc(r->natt, sizeof(*res->attempts)) : NULL;
	res->nattempts = r->natt;
	for (size_t i = 0; i < r->natt; i++)
		run_att_record(r, i, &res->attempts[i]);
	free(r->st);
	free(r->retry_at);
	free(r->replies);
	free(r->late);
	r->st = NULL;
	r->retry_at = NULL;
	r->replies = NULL;
	r->late = NULL;
	r->natt = r->nreplies = r->replies_cap = r->nlate = r->late_cap = 0;
}

void
run_finish(struct probe_run *r, int64_t now_mono)
{
	struct probe_result *res = r->res;
	bool seen[OUTCOME__COUNT] = {false};
	size_t first[OUTCOME__COUNT];

	res->duration_ms = now_mono - r->start_mono;
	res->pipelining = r->pipelining;
	run_tx_unpack(r);
	if (r->prepared && r->st != NULL)
		run_records(r);
	if (!r->prepared) {
		res->verdict = r->conn_verdict;
		res->stage = r->conn_stage;
		res->reason = xstrdup(r->conn_reason ? r->conn_reason : verdict_name(res->verdict));
		if (res->verdict == VERDICT_NO_SMTP || res->verdict == VERDICT_ERROR ||
		    res->verdict == VERDICT_TEMPFAIL)
			res->error = xstrdup(res->reason);
		return;
	}
	for (size_t i = 0; i < res->nattempts; i++) {
		enum attempt_outcome o = res->attempts[i].outcome;

		if (res->attempts[i].backscatter)
			continue;

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

/* 10,000 probes in flight hold about a hundred each (see struct run_att). */
_Static_assert(sizeof(struct run_att) <= 10, "struct run_att grew");
