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
#include "probe-engine/confirm.h"
#include "probe-engine/sink.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_SINK_TICK_MS 2000
#define ROLE_SINK_BATCH 200
#define ROLE_SINK_MAX_AGE_S (30 * 86400) /* older unapplied receipts are left alone */

static struct {
	struct event_base *base;
	struct sink *sink;
	struct dbthread *db;
	struct event *tick;
	struct conf_sink conf;
	char *node;
	bool applying, stopping;
} rs;

struct role_sink_store {
	struct receipt_row rows[SINK_MAX_TOKENS];
	size_t nrows;
	char *where[SINK_MAX_TOKENS];
	char *chain, *peer;
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
	sink_receipt_free(st->r);
	free(st);
	role_sink_kick();
}

static void
role_sink_receipt(struct sink_receipt *r, void *arg)
{
	struct role_sink_store *st = xcalloc(1, sizeof(*st));
	char peer[ADDR_STRLEN];
	size_t len = 1;

	addr_format(&r->peer, peer, sizeof(peer));
	st->peer = xstrdup(peer);
	for (size_t i = 0; i < r->nreceived; i++)
		len += strlen(r->received[i]) + 1;
	st->chain = xcalloc(1, len);
	for (size_t i = 0, n = 0; i < r->nreceived; i++)
		n +=
		    (size_t)snprintf(st->chain + n, len - n, "%s%s", i ? "\n" : "", r->received[i]);
	st->r = r;
	st->nrows = r->ntokens ? r->ntokens : 1;
	for (size_t i = 0; i < st->nrows; i++) {
		struct receipt_row *row = &st->rows[i];

		row->peer = st->peer;
		row->helo = r->helo;
		row->mail_from = r->mail_from;
		row->rcpts = (const char *const *)r->rcpts;
		row->nrcpts = r->nrcpts;
		row->is_bounce = r->bounce;
		row->forged = r->forged;
		row->received_chain = st->chain;
		row->excerpt = r->excerpt;
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

/* One stored receipt against its stored probe: the rules of confirm_apply. */
static int
role_sink_apply_one(PGconn *c, const struct receipt_match *m, bool *relay_news)
{
	enum probe_verdict before;
	struct probe_result res;
	struct probe_attempt a;
	struct sink_receipt r;
	const char *why = NULL;
	int changed, rc;

	memset(&res, 0, sizeof(res));
	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	res.probe_id = (uint64_t)m->probe_id;
	if (verdict_parse(m->verdict, &res.verdict) < 0 ||
	    backscatter_parse(m->backscatter, &res.backscatter) < 0)
		return receipts_done(c, m->receipt_id);
	before = res.verdict;
	res.started_ms = m->started_ms;
	res.duration_ms = m->duration_ms;
	if (m->have_attempt) {
		a.index = (unsigned)m->attempt;
		a.sender = m->sender;
		a.form = m->form;
		a.backscatter = m->backscatter_attempt;
		str_fmt(a.token, sizeof(a.token), "%s", m->token);
		a.eod.code = m->eod_code;
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
	if (changed == 0) {
		if (why != NULL)
			log_warn("receipt_refused",
			         "probe=%" PRId64 " receipt=%" PRId64 " reason=\"%s\"", m->probe_id,
			         m->receipt_id, why);
		return receipts_done(c, m->receipt_id);
	}
	rc = receipts_apply(c, m->receipt_id, m->probe_id, m->attempt, verdict_name(res.verdict),
	                    backscatter_name(res.backscatter),
	                    (changed & CONFIRM_RELAY) ? res.trick : NULL,
	                    (changed & CONFIRM_RELAY) != 0);
	/* Only the receipt that turns the probe into a relay makes its verdict line. */
	if (rc == 0 && (changed & CONFIRM_RELAY) && before != VERDICT_RELAY_CONFIRMED && *relay_news)
		log_info("verdict",
		         "address=%s port=%d verdict=relay_confirmed backscatter=%s trick=%s probe=%" PRId64
		         " delay_ms=%" PRId64 " receipt=%" PRId64,
		         m->address, m->port, backscatter_name(res.backscatter), res.trick, m->probe_id,
		         res.relay_delay_ms, m->receipt_id);
	*relay_news = rc == 0 && (changed & CONFIRM_RELAY) ? false : *relay_news;
	if (rc == 0 && (changed & CONFIRM_BACKSCATTER))
		log_info("backscatter_confirmed",
		         "probe=%" PRId64 " delay_ms=%" PRId64 " receipt=%" PRId64, m->probe_id,
		         res.backscatter_delay_ms, m->receipt_id);
	free(res.trick);
	return rc;
}

static int
role_sink_apply_run(PGconn *c, void *arg)
{
	struct receipt_match *m = xcalloc(ROLE_SINK_BATCH, sizeof(*m));
	int n = receipts_pending(c, ROLE_SINK_MAX_AGE_S, m, ROLE_SINK_BATCH), rc = 0;

	for (int i = 0; i < n; i++) {
		bool relay_news = true;

		/* A probe still running has no row yet: the receipt waits for the next pass. */
		if (!m[i].have_probe)
			continue;
		/* The batch was read at once: an earlier receipt of it may have confirmed this probe. */
		for (int k = 0; k < i && relay_news; k++)
			relay_news = !(m[k].probe_id == m[i].probe_id && m[k].applied_relay);
		if (role_sink_apply_one(c, &m[i], &relay_news) < 0)
			rc = -1;
		m[i].applied_relay = !relay_news;
	}
	free(m);
	return n < 0 ? -1 : rc;
}

static void
role_sink_apply_done(void *arg, int status)
{
	rs.applying = false;
}

static void
role_sink_kick(void)
{
	if (rs.applying || rs.stopping || rs.db == NULL)
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
	/* No new receipts; what is queued is still written. */
	sink_free(rs.sink);
	rs.sink = NULL;
	rs.stopping = true;
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
