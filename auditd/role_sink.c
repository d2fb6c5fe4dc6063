/*
 * The sink role of relayauditd: the sink listens on the daemon's loop, each
 * receipt is stored in sink_receipts on a database thread, and unapplied
 * receipts are matched to their stored probe and attempt and upgraded with
 * the same rules as relayctl uses (confirm_apply). Receipts whose probe is
 * not written yet (a fast relay) are retried every few seconds, and a
 * receipt long after the window still upgrades its probe.
 */
#include "auditd/conf.h"
#include "auditd/daemon.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "db/dbthread.h"
#include "db/receipts.h"
#include "probe-engine/catalogue.h"
#include "probe-engine/confirm.h"
#include "probe-engine/sink.h"
#include "probe-engine/token.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_SINK_TICK_MS 2000
#define ROLE_SINK_BATCH 200
#define ROLE_SINK_MAX_AGE_S (30 * 86400) /* older unapplied receipts are left alone */
/* An orphan whose probe row has not appeared in a day never will: an anomaly then. */
#define ROLE_SINK_ORPHAN_MAX_S 86400

static struct {
	struct event_base *base;
	struct sink *sink;
	struct dbthread *db;
	struct event *tick;
	struct conf_sink conf;
	char *node;
	int64_t window_ms; /* confirm_window, for probes stored without a deadline */
	bool applying, stopping;
} rs;

struct role_sink_store {
	struct receipt_row rows[SINK_MAX_TOKENS];
	size_t nrows;
	char *where[SINK_MAX_TOKENS];
	char *chain, *peer, *excerpt, *mail_from;
	char **rcpts; /* shortened tokens: the row's probe_id and attempt name it */
	struct sink_receipt *r;
};

static void role_sink_kick(void);

static char *
role_sink_where(unsigned bits, bool dsn)
{
	char buf[160];
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned bit = 1; bit <= SINK_WHERE__LAST; bit <<= 1) {
		if (bits & bit)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? "," : "",
			                      sink_where_name(bit));
	}
	if (dsn)
		snprintf(buf + n, sizeof(buf) - n, "%sreport", n ? "," : "");
	return xstrdup(buf);
}

static unsigned
role_sink_where_parse(const char *s, bool *dsn)
{
	unsigned bits = 0;
	char copy[160], *save = NULL;

	*dsn = false;
	str_fmt(copy, sizeof(copy), "%s", s);
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "report") == 0)
			*dsn = true;
		for (unsigned bit = 1; bit <= SINK_WHERE__LAST; bit <<= 1) {
			if (strcmp(w, sink_where_name(bit)) == 0)
				bits |= bit;
		}
	}
	return bits;
}

/* ---- storing receipts ---- */

static int
role_sink_store_run(PGconn *c, void *arg)
{
	struct role_sink_store *st = arg;

	return receipts_insert(c, rs.node, st->rows, st->nrows);
}

static void
role_sink_store_done(void *arg, int status)
{
	struct role_sink_store *st = arg;

	if (status < 0)
		log_error("sink_receipt_lost", "id=%s reason=\"database write failed\"", st->r->id);
	for (size_t i = 0; i < st->nrows; i++)
		free(st->where[i]);
	free(st->chain);
	free(st->peer);
	free(st->excerpt);
	free(st->mail_from);
	for (size_t i = 0; i < st->r->nrcpts; i++)
		free(st->rcpts[i]);
	free(st->rcpts);
	sink_receipt_free(st->r);
	free(st);
	role_sink_kick();
}

static void
role_sink_receipt(struct sink_receipt *r, void *arg)
{
	struct role_sink_store *st = xcalloc(1, sizeof(*st));
	char peer[ADDR_STRLEN], *hop;
	size_t len = 1, n;

	addr_format(&r->peer, peer, sizeof(peer));
	st->peer = xstrdup(peer);
	/*
	 * The chain starts with the hop the sink saw itself, as its Received:
	 * line would read: a relay that delivered directly is named there.
	 */
	hop = xasprintf("from %s ([%s]) by relayaudit sink", r->helo ? r->helo : "", peer);
	len += strlen(hop) + 1;
	for (size_t i = 0; i < r->nreceived; i++)
		len += strlen(r->received[i]) + 1;
	st->chain = xcalloc(1, len);
	n = (size_t)snprintf(st->chain, len, "%s", hop);
	for (size_t i = 0; i < r->nreceived; i++)
		n += (size_t)snprintf(st->chain + n, len - n, "\n%s", r->received[i]);
	free(hop);
	st->r = r;
	/* Outside the sink a token shows only its first characters (no replay from a reader). */
	token_redact(st->chain);
	st->excerpt = token_redact_dup(r->excerpt);
	st->mail_from = token_redact_dup(r->mail_from);
	st->rcpts = xcalloc(r->nrcpts + 1, sizeof(*st->rcpts));
	for (size_t i = 0; i < r->nrcpts; i++)
		st->rcpts[i] = token_redact_dup(r->rcpts[i]);
	st->nrows = r->ntokens ? r->ntokens : 1;
	for (size_t i = 0; i < st->nrows; i++) {
		struct receipt_row *row = &st->rows[i];

		row->peer = st->peer;
		row->helo = r->helo;
		row->mail_from = st->mail_from;
		row->rcpts = (const char *const *)st->rcpts;
		row->nrcpts = r->nrcpts;
		row->is_bounce = r->bounce;
		row->forged = r->forged;
		row->received_chain = st->chain;
		row->excerpt = st->excerpt;
		row->size = (int64_t)r->size;
		row->received_ms = r->received_ms;
		if (r->ntokens > 0) {
			row->probe_id = (int64_t)r->tokens[i].probe_id;
			row->attempt = (int)r->tokens[i].attempt;
			st->where[i] = role_sink_where(r->tokens[i].where, r->dsn);
			row->token_where = st->where[i];
		}
	}
	/* keep: a receipt is evidence; after a lost connection it is written again. */
	dbthread_submit(rs.db, role_sink_store_run, role_sink_store_done, st, true);
}

/* ---- applying them to their probes ---- */

/*
 * One stored receipt against its stored probe: the rules of confirm_apply.
 * A receipt its attempt could not have caused is settled as an anomaly with
 * the reason and changes nothing. After a change, the later receipts of the
 * same batch see the probe as it is now (its verdict, trick, used tokens).
 */
static int
role_sink_apply_one(PGconn *c, struct receipt_match *m, struct receipt_match *later,
                    int nlater, struct receipt_settled *settled, size_t *nsettled)
{
	struct probe_result res;
	struct probe_attempt a;
	struct sink_receipt r;
	const char *why = NULL;
	bool via = confirm_received_via(m->received_chain, m->address);
	int changed, rc;

	memset(&res, 0, sizeof(res));
	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	res.probe_id = (uint64_t)m->probe_id;
	if (verdict_parse(m->verdict, &res.verdict) < 0 ||
	    backscatter_parse(m->backscatter, &res.backscatter) < 0) {
		settled[(*nsettled)++] = (struct receipt_settled){
		    m->receipt_id, m->probe_id, m->attempt, false, "its probe has an unknown verdict", via};
		return 0;
	}
	res.started_ms = m->started_ms;
	res.duration_ms = m->duration_ms;
	/* The window as the probe stored it, else as this node counts it from the probe's end. */
	res.confirm_deadline_ms = m->confirm_deadline_ms != 0
	                              ? m->confirm_deadline_ms
	                              : m->started_ms + m->duration_ms + rs.window_ms;
	res.trick = m->trick[0] != '\0' ? xstrdup(m->trick) : NULL;
	res.trick_alone = m->trick_alone;
	if (m->have_attempt) {
		a.index = (unsigned)m->attempt;
		a.sender = m->sender;
		a.form = m->form;
		/* the greeting is the index's (catalogue.h): the trick names it as the probe did */
		a.helo_kind = (enum probe_helo)catalogue_greeting_of((size_t)m->attempt);
		a.backscatter = m->backscatter_attempt;
		str_fmt(a.token, sizeof(a.token), "%s", m->token);
		a.eod.code = m->eod_code;
		a.rcpts = m->rcpts;
		a.tls = m->tls;
		a.outcome = m->attempt_used ? OUTCOME_RELAYED : OUTCOME_ACCEPTED;
		res.attempts = &a;
		res.nattempts = 1;
	}
	snprintf(r.id, sizeof(r.id), "db:%" PRId64, m->receipt_id);
	r.ntokens = 1;
	r.tokens[0].probe_id = (uint64_t)m->probe_id;
	r.tokens[0].attempt = (unsigned)m->attempt;
	r.tokens[0].where = role_sink_where_parse(m->token_where, &r.dsn);
	token_make(&rs.conf.p.key, (uint64_t)m->probe_id, (unsigned)m->attempt, r.tokens[0].token);
	r.bounce = m->is_bounce;
	r.received_ms = m->received_ms;

	changed = confirm_apply(&res, &r, &why);
	if (!(changed & CONFIRM_USED)) {
		if (why == NULL)
			why = "no attempt of its probe could have sent it";
		log_warn("receipt_anomaly",
		         "probe=%" PRId64 " receipt=%" PRId64 " reason=\"%s\" via_target=%d",
		         m->probe_id, m->receipt_id, why, via);
		free(res.trick);
		settled[(*nsettled)++] = (struct receipt_settled){m->receipt_id, m->probe_id,
		                                                   m->attempt, false, why, via};
		return 0;
	}
	if (!(changed & (CONFIRM_RELAY | CONFIRM_BACKSCATTER | CONFIRM_TRICK))) {
		/* A token of a probe already decided: used now, nothing else moves. */
		free(res.trick);
		settled[(*nsettled)++] = (struct receipt_settled){m->receipt_id, m->probe_id,
		                                                   m->attempt, true, NULL, via};
		for (int i = 0; i < nlater; i++) {
			if (later[i].probe_id == m->probe_id && later[i].attempt == m->attempt)
				later[i].attempt_used = true;
		}
		return 0;
	}
	rc = receipts_apply(c, m, verdict_name(res.verdict), backscatter_name(res.backscatter),
	                    (changed & CONFIRM_TRICK) ? res.trick : NULL, res.trick_alone, true,
	                    via);
	if (rc == 0 && (changed & CONFIRM_RELAY))
		/* The probe's one verdict line: only the receipt that makes it a relay. */
		log_info("verdict",
		         "address=%s port=%d verdict=relay_confirmed backscatter=%s trick=%s alone=%d"
		         " probe=%" PRId64 " delay_ms=%" PRId64 " receipt=%" PRId64 " via_target=%d",
		         m->address, m->port, backscatter_name(res.backscatter), res.trick,
		         res.trick_alone, m->probe_id, res.relay_delay_ms, m->receipt_id, via);
	else if (rc == 0 && (changed & CONFIRM_TRICK))
		log_info("trick_named", "probe=%" PRId64 " trick=%s alone=%d receipt=%" PRId64,
		         m->probe_id, res.trick, res.trick_alone, m->receipt_id);
	if (rc == 0 && (changed & CONFIRM_BACKSCATTER))
		log_info("backscatter_confirmed",
		         "probe=%" PRId64 " delay_ms=%" PRId64 " receipt=%" PRId64, m->probe_id,
		         res.backscatter_delay_ms, m->receipt_id);
	for (int i = 0; rc == 0 && i < nlater; i++) {
		struct receipt_match *l = &later[i];

		if (l->probe_id != m->probe_id)
			continue;
		str_fmt(l->verdict, sizeof(l->verdict), "%s", verdict_name(res.verdict));
		str_fmt(l->backscatter, sizeof(l->backscatter), "%s",
		        backscatter_name(res.backscatter));
		str_fmt(l->trick, sizeof(l->trick), "%s", res.trick ? res.trick : "");
		l->trick_alone = res.trick_alone;
		if (l->attempt == m->attempt)
			l->attempt_used = true;
	}
	free(res.trick);
	return rc;
}

/*
 * One batch: fresh receipts (those without their probe row are marked
 * orphan, so the next batch starts past them), or orphans whose probe row
 * has appeared since. Every receipt read is settled or marked: no stall.
 */
static int
role_sink_apply_batch(PGconn *c, bool orphans)
{
	struct receipt_match *m = xcalloc(ROLE_SINK_BATCH, sizeof(*m));
	int64_t *orphan = xcalloc(ROLE_SINK_BATCH, sizeof(*orphan));
	struct receipt_settled *settled = xcalloc(ROLE_SINK_BATCH, sizeof(*settled));
	size_t norphan = 0, nsettled = 0;
	int n = receipts_pending(c, orphans, ROLE_SINK_MAX_AGE_S, m, ROLE_SINK_BATCH), rc = 0;

	for (int i = 0; i < n; i++) {
		if (!m[i].have_probe)
			orphan[norphan++] = m[i].receipt_id;
		else if (role_sink_apply_one(c, &m[i], &m[i + 1], n - i - 1, settled, &nsettled) < 0)
			rc = -1;
	}
	if (receipts_settle_many(c, settled, nsettled) < 0)
		rc = -1;
	if (norphan > 0 && receipts_orphan(c, orphan, norphan) < 0)
		rc = -1;
	if (norphan > 0)
		log_info("receipts_orphaned", "count=%zu reason=\"probe row not written yet\"",
		         norphan);
	receipts_match_free(m, n > 0 ? n : 0);
	free(m);
	free(orphan);
	free(settled);
	if (n < 0)
		return -1;
	return rc < 0 ? -1 : n;
}

static int
role_sink_apply_run(PGconn *c, void *arg)
{
	int n, rc = 0;

	if (receipts_settle(c, ROLE_SINK_ORPHAN_MAX_S) < 0)
		return -1;
	/*
	 * A few batches per pass, so a burst does not wait for the next tick; at
	 * shutdown (set on the loop thread) the pass ends after its batch, and
	 * what is left is read again at the next start.
	 */
	for (int k = 0; k < 20 && !__atomic_load_n(&rs.stopping, __ATOMIC_RELAXED); k++) {
		n = role_sink_apply_batch(c, false);
		if (n < 0)
			return -1;
		if (n < ROLE_SINK_BATCH)
			break;
	}
	for (int k = 0; k < 5 && !__atomic_load_n(&rs.stopping, __ATOMIC_RELAXED); k++) {
		n = role_sink_apply_batch(c, true);
		if (n < 0)
			rc = -1;
		if (n < ROLE_SINK_BATCH)
			break;
	}
	return rc;
}

static void
role_sink_apply_done(void *arg, int status)
{
	rs.applying = false;
}

static void
role_sink_kick(void)
{
	if (rs.applying || __atomic_load_n(&rs.stopping, __ATOMIC_RELAXED) || rs.db == NULL)
		return;
	rs.applying = true;
	dbthread_submit(rs.db, role_sink_apply_run, role_sink_apply_done, NULL, false);
}

static void
role_sink_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	role_sink_kick();
}

static int
role_sink_start(struct daemon *d)
{
	struct event_base *base = d->base;
	const struct config *cfg = d->cfg;
	const char *why = NULL;
	struct timeval tv = {ROLE_SINK_TICK_MS / 1000, (ROLE_SINK_TICK_MS % 1000) * 1000};

	memset(&rs, 0, sizeof(rs));
	rs.base = base;
	if (strlen(config_str(cfg, CFG_SECRET)) < 16) {
		log_error("sink_role_failed",
		          "reason=\"the sink needs secret (at least 16 characters)"
		          " to verify tokens\"");
		return -1;
	}
	if (conf_sink_init(&rs.conf, cfg, &why) < 0) {
		log_error("sink_role_failed", "reason=\"%s\"", why);
		return -1;
	}
	rs.window_ms = config_int(cfg, CFG_CONFIRM_WINDOW) * 1000;
	rs.node = xstrdup(d->node_name);
	rs.sink =
	    sink_new(base, &rs.conf.p, &rs.conf.addr, rs.conf.port, role_sink_receipt, NULL, &why);
	if (rs.sink == NULL) {
		log_error("sink_role_failed", "listen=%s reason=\"%s\"",
		          config_str(cfg, CFG_SINK_LISTEN), why);
		conf_sink_free(&rs.conf);
		free(rs.node);
		return -1;
	}
	rs.db = dbthread_new(base, "sink", d->conninfo, NULL, NULL, NULL);
	rs.tick = event_new(base, -1, EV_PERSIST, role_sink_tick_cb, NULL);
	evtimer_add(rs.tick, &tv);
	log_info("sink_listening", "listen=%s port=%d domains=%zu",
	         config_str(cfg, CFG_SINK_LISTEN), sink_port(rs.sink), rs.conf.ndomains);
	return 0;
}

static void
role_sink_stop(struct daemon *d)
{
	if (rs.sink == NULL)
		return;
	/* No new receipts; what is queued is still written, no new matching pass starts. */
	__atomic_store_n(&rs.stopping, true, __ATOMIC_RELAXED);
	sink_free(rs.sink);
	rs.sink = NULL;
	event_free(rs.tick);
	dbthread_free(rs.db, 5000);
	rs.db = NULL;
	conf_sink_free(&rs.conf);
	free(rs.node);
}

/* The sink listens on the daemon's loop and writes its receipts (and applies
 * them to their probes) through its own database thread. */
const struct role_ops role_sink_ops = {
	.name = "sink",
	.start = role_sink_start,
	.stop = role_sink_stop,
};
