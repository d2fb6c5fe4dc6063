/*
 * Holds accepted probe results for the confirmation window and upgrades them
 * when the sink sees their tokens. The rules live in confirm_apply, a pure
 * function, so the daemon can apply a late receipt to a stored result too.
 */
#include "probe-engine/confirm.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/catalogue.h"

#include <ctype.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

/* Where a relayed message carries its token: a delivery, not a quotation. */
#define CONFIRM_DELIVERY_WHERE (SINK_IN_RCPT | SINK_IN_SUBJECT | SINK_IN_MESSAGE_ID)

static struct probe_attempt *
confirm_attempt(struct probe_result *res, unsigned index)
{
	for (size_t i = 0; i < res->nattempts; i++) {
		if (res->attempts[i].index == index)
			return &res->attempts[i];
	}
	return NULL;
}

static int64_t
confirm_delay(const struct probe_result *res, const struct sink_receipt *r)
{
	int64_t d = r->received_ms - (res->started_ms + res->duration_ms);

	return d > 0 ? d : 0;
}

/*
 * The refusal reasons, so a log line and a stored anomaly name each case the
 * same way. A receipt counts only when its attempt could have caused it.
 */
static const char *
confirm_check(struct probe_result *res, const struct sink_receipt *r, const struct sink_token *t,
              struct probe_attempt **out)
{
	struct probe_attempt *a;

	if (t->probe_id != res->probe_id)
		return "token of another probe";
	a = confirm_attempt(res, t->attempt);
	if (a == NULL)
		return "no such attempt in this probe";
	if (strcasecmp(a->token, t->token) != 0)
		return "attempt was sent with another token";
	/* eod.code is set only when the whole message went out and got a reply. */
	if (a->eod.code == 0)
		return "attempt's message was never sent";
	if (a->eod.code < 200 || a->eod.code > 299)
		return "target refused the attempt's message after DATA";
	if (a->outcome == OUTCOME_RELAYED)
		return "token already used by an earlier receipt";
	if (r->received_ms != 0 && r->received_ms < res->started_ms)
		return "arrived before the probe started";
	if (res->confirm_deadline_ms != 0 && r->received_ms > res->confirm_deadline_ms)
		return "arrived after the confirmation window";
	if (a->backscatter && !r->bounce)
		return "backscatter token in a message that is not a bounce";
	if (!a->backscatter && r->dsn)
		return "relay token in a bounce, not a delivery";
	if (!a->backscatter && !(t->where & CONFIRM_DELIVERY_WHERE))
		return "relay token only quoted in the body";
	*out = a;
	return NULL;
}

/* The rank of a "sender/form[+tls]" trick in the catalogue (SIZE_MAX when unknown). */
static size_t
confirm_trick_rank(const char *trick)
{
	char sender[64], form[64];
	const char *slash = trick ? strchr(trick, '/') : NULL;
	size_t flen;

	if (slash == NULL || (size_t)(slash - trick) >= sizeof(sender))
		return SIZE_MAX;
	memcpy(sender, trick, (size_t)(slash - trick));
	sender[slash - trick] = '\0';
	flen = strcspn(slash + 1, "+");
	if (flen >= sizeof(form))
		return SIZE_MAX;
	memcpy(form, slash + 1, flen);
	form[flen] = '\0';
	return catalogue_rank(sender, form);
}

/*
 * The trick is a form that relays on its own: one that shared its
 * transaction with other accepted recipients names the trick only until a
 * form sent alone is confirmed (a server that checks just the last
 * recipient relays a whole batch "in company"). Among forms alike in that,
 * the simplest (first in the catalogue) is named, whatever order their
 * receipts arrive in.
 */
static bool
confirm_names_trick(const struct probe_result *res, const struct probe_attempt *a)
{
	bool alone = a->rcpts <= 1;

	if (res->verdict != VERDICT_RELAY_CONFIRMED || res->trick == NULL)
		return true;
	if (alone != res->trick_alone)
		return alone;
	return catalogue_rank(a->sender, a->form) < confirm_trick_rank(res->trick);
}

int
confirm_apply(struct probe_result *res, const struct sink_receipt *r, const char **why)
{
	int changed = 0;

	if (why)
		*why = NULL;
	for (size_t i = 0; i < r->ntokens; i++) {
		const struct sink_token *t = &r->tokens[i];
		struct probe_attempt *a = NULL;
		const char *refused = confirm_check(res, r, t, &a);

		if (refused != NULL) {
			/* Another probe's token is simply not ours; only report our own. */
			if (why && t->probe_id == res->probe_id)
				*why = refused;
			else if (why && *why == NULL)
				*why = refused;
			continue;
		}
		/* Used: the same token in a later message is a replay. */
		a->outcome = OUTCOME_RELAYED;
		a->stage = STAGE_SINK;
		changed |= CONFIRM_USED;
		if (a->backscatter) {
			if (res->backscatter != BACKSCATTER_CONFIRMED) {
				res->backscatter = BACKSCATTER_CONFIRMED;
				res->backscatter_delay_ms = confirm_delay(res, r);
				changed |= CONFIRM_BACKSCATTER;
			}
			continue;
		}
		if (confirm_names_trick(res, a)) {
			free(res->trick);
			res->trick = probe_attempt_trick(a);
			res->trick_alone = a->rcpts <= 1;
			changed |= CONFIRM_TRICK;
		}
		if (res->verdict != VERDICT_RELAY_CONFIRMED) {
			res->verdict = VERDICT_RELAY_CONFIRMED;
			res->stage = STAGE_SINK;
			res->relay_delay_ms = confirm_delay(res, r);
			changed |= CONFIRM_RELAY;
		}
	}
	return changed;
}

static bool
confirm_addr_char(char c)
{
	return isxdigit((unsigned char)c) || c == '.' || c == ':';
}

bool
confirm_received_via(const char *chain, const char *address)
{
	size_t len = address != NULL ? strlen(address) : 0;

	if (chain == NULL || len == 0)
		return false;
	for (const char *p = chain; (p = strcasestr(p, address)) != NULL; p++) {
		/* "127.0.20.1" must not match inside "127.0.20.10" or "[IPv6:...]" parts. */
		if ((p == chain || !confirm_addr_char(p[-1])) && !confirm_addr_char(p[len]))
			return true;
	}
	return false;
}

void
confirm_expire(struct probe_result *res)
{
	if (res->verdict == VERDICT_ACCEPTED)
		res->verdict = VERDICT_ACCEPTED_NOT_RELAYED;
}

bool
confirm_waiting(const struct probe_result *res)
{
	if (res->verdict == VERDICT_ACCEPTED || res->backscatter == BACKSCATTER_ACCEPTED)
		return true;
	/*
	 * Confirmed only in company, or alone but by a form a simpler one may
	 * still beat: a form re-sent alone whose message is still on its way
	 * may name the trick. The trick must not depend on which of them the
	 * relay delivers first (bounded by the confirmation window).
	 */
	if (res->verdict == VERDICT_RELAY_CONFIRMED) {
		size_t named = res->trick_alone ? confirm_trick_rank(res->trick) : SIZE_MAX;

		for (size_t i = 0; i < res->nattempts; i++) {
			const struct probe_attempt *a = &res->attempts[i];

			if (a->resend_of >= 0 && a->outcome == OUTCOME_ACCEPTED &&
			    (!res->trick_alone || catalogue_rank(a->sender, a->form) < named))
				return true;
		}
	}
	return false;
}

/* ---- the holding pen ---- */

struct confirm_item {
	TAILQ_ENTRY(confirm_item) link;
	struct confirm *c;
	struct probe_result *res;
	struct event *timer;
	bool released;
};

TAILQ_HEAD(confirm_list, confirm_item);

/*
 * A fast relay delivers its test message while the probe is still running,
 * before the result reaches the pen. Such early receipts are kept (only what
 * confirm_apply reads, bounded) and applied when the result arrives.
 */
#define CONFIRM_EARLY_MAX 256

struct confirm {
	struct sink_receipt early[CONFIRM_EARLY_MAX]; /* ring; pointer fields cleared */
	size_t nearly, early_next;
	struct event_base *base;
	int64_t window_ms;
	confirm_done_fn done;
	void *arg;
	struct confirm_list held, out;
	struct event *release; /* hands results back outside the caller's stack */
	size_t nheld, nout;
};

static void
confirm_release_cb(evutil_socket_t fd, short what, void *arg)
{
	struct confirm *c = arg;
	struct confirm_item *it;

	while ((it = TAILQ_FIRST(&c->out)) != NULL) {
		TAILQ_REMOVE(&c->out, it, link);
		c->nout--;
		event_free(it->timer);
		struct probe_result *res = it->res;
		free(it);
		c->done(res, c->arg);
	}
}

/* Moves a held item to the out queue; expire says the window ended. */
static void
confirm_release(struct confirm_item *it, bool expire)
{
	struct confirm *c = it->c;

	if (it->released)
		return;
	it->released = true;
	evtimer_del(it->timer);
	if (expire) {
		bool was_accepted = it->res->verdict == VERDICT_ACCEPTED;

		confirm_expire(it->res);
		if (was_accepted)
			log_info("accepted_not_relayed", "probe=%" PRIu64 " window_ms=%" PRId64,
			         it->res->probe_id, c->window_ms);
	}
	TAILQ_REMOVE(&c->held, it, link);
	c->nheld--;
	TAILQ_INSERT_TAIL(&c->out, it, link);
	c->nout++;
	event_active(c->release, EV_TIMEOUT, 0);
}

static void
confirm_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	confirm_release(arg, true);
}

struct confirm *
confirm_new(struct event_base *base, int64_t window_ms, confirm_done_fn done, void *arg)
{
	struct confirm *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->window_ms = window_ms < 0 ? 0 : window_ms;
	c->done = done;
	c->arg = arg;
	TAILQ_INIT(&c->held);
	TAILQ_INIT(&c->out);
	c->release = event_new(base, -1, 0, confirm_release_cb, c);
	return c;
}

static bool
confirm_names(const struct sink_receipt *r, uint64_t probe_id)
{
	for (size_t i = 0; i < r->ntokens; i++) {
		if (r->tokens[i].probe_id == probe_id)
			return true;
	}
	return false;
}

/* Applies r to one held result, logs, and releases it once decided; 1 when it changed. */
static int
confirm_one(struct confirm_item *it, const struct sink_receipt *r)
{
	const char *why = NULL;
	int changed = confirm_apply(it->res, r, &why);

	if (why != NULL)
		log_warn("receipt_refused", "probe=%" PRIu64 " receipt=%s reason=\"%s\"",
		         it->res->probe_id, r->id, why);
	/* The owner of the result logs its one verdict line; per receipt is detail. */
	if (changed & CONFIRM_RELAY)
		log_debug("relay_confirmed",
		         "probe=%" PRIu64 " trick=%s delay_ms=%" PRId64 " receipt=%s",
		         it->res->probe_id, it->res->trick, it->res->relay_delay_ms, r->id);
	if (changed & CONFIRM_BACKSCATTER)
		log_info("backscatter_confirmed",
		         "probe=%" PRIu64 " delay_ms=%" PRId64 " receipt=%s", it->res->probe_id,
		         it->res->backscatter_delay_ms, r->id);
	if (!confirm_waiting(it->res))
		confirm_release(it, false);
	return changed != 0;
}

/* Keeps the parts of r that confirm_apply reads, for a result not yet added. */
static void
confirm_keep_early(struct confirm *c, const struct sink_receipt *r)
{
	struct sink_receipt *e = &c->early[c->early_next];

	memset(e, 0, sizeof(*e));
	memcpy(e->id, r->id, sizeof(e->id));
	memcpy(e->tokens, r->tokens, sizeof(e->tokens));
	e->ntokens = r->ntokens;
	e->null_sender = r->null_sender;
	e->dsn = r->dsn;
	e->bounce = r->bounce;
	e->received_ms = r->received_ms;
	c->early_next = (c->early_next + 1) % CONFIRM_EARLY_MAX;
	if (c->nearly < CONFIRM_EARLY_MAX)
		c->nearly++;
}

int
confirm_receipt(struct confirm *c, const struct sink_receipt *r)
{
	struct confirm_item *it, *next;
	int n = 0;
	size_t matched = 0;

	for (it = TAILQ_FIRST(&c->held); it != NULL; it = next) {
		next = TAILQ_NEXT(it, link);
		if (!confirm_names(r, it->res->probe_id))
			continue;
		matched++;
		n += confirm_one(it, r);
	}
	/* Some token names no held probe: perhaps one still running. */
	if (r->ntokens > matched)
		confirm_keep_early(c, r);
	return n;
}

void
confirm_add(struct confirm *c, struct probe_result *res)
{
	struct confirm_item *it = xcalloc(1, sizeof(*it));
	struct timeval tv = {c->window_ms / 1000, (c->window_ms % 1000) * 1000};

	it->c = c;
	it->res = res;
	it->timer = evtimer_new(c->base, confirm_timer_cb, it);
	if (res->confirm_deadline_ms == 0)
		res->confirm_deadline_ms = now_wall_ms() + c->window_ms;
	TAILQ_INSERT_TAIL(&c->held, it, link);
	c->nheld++;
	if (!confirm_waiting(res)) {
		confirm_release(it, false);
		return;
	}
	evtimer_add(it->timer, &tv);
	/* Test messages that arrived while this probe was still running. */
	for (size_t i = 0; i < c->nearly && !it->released; i++) {
		if (confirm_names(&c->early[i], res->probe_id))
			confirm_one(it, &c->early[i]);
	}
}

size_t
confirm_pending(const struct confirm *c)
{
	return c->nheld + c->nout;
}

void
confirm_expire_all(struct confirm *c)
{
	struct confirm_item *it;

	while ((it = TAILQ_FIRST(&c->held)) != NULL)
		confirm_release(it, true);
}

void
confirm_free(struct confirm *c)
{
	if (c == NULL)
		return;
	confirm_expire_all(c);
	confirm_release_cb(-1, 0, c);
	event_free(c->release);
	free(c);
}
