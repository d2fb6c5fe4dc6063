/*
 * The probe role: the scheduler claims targets, the probe engine probes
 * them on the daemon's loop, and each result becomes a probe row (evidence
 * rendered by probe_json) written by persist. HUP re-reads limits,
 * exclusions and intervals; TERM stops claiming and lets in-flight probes
 * finish for shutdown_grace before the rest of the leases are given back.
 */
#include "auditd/conf.h"
#include "auditd/daemon.h"
#include "auditd/probe_json.h"
#include "auditd/scheduler.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/probe.h"
#include "probe-engine/token.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct port_ctx {
	struct sched_item *it;
	size_t port;
};

static struct {
	struct daemon *d;
	struct scheduler *sched;
	struct probe_engine *engine;
	struct conf_probe conf; /* the engine's parameters, from auditd/conf.c */
	struct evdns_base *rdns; /* probe_rdns: reverse DNS names for targets without one */
	int64_t confirm_window_ms;
	bool log_no_smtp;
} rp;

static void
role_probe_sched_params(const struct daemon *d, struct sched_params *sp)
{
	const struct config *cfg = d->cfg;

	memset(sp, 0, sizeof(*sp));
	sp->node = d->node_name;
	sp->roles = config_str(cfg, CFG_ROLES);
	sp->batch = (int)config_int(cfg, CFG_SCHEDULE_BATCH);
	/* Keep the engine's own queue short: TERM's grace then covers what is really running. */
	sp->max_in_flight = (int)config_int(cfg, CFG_PROBE_CONCURRENCY);
	sp->lease_s = config_int(cfg, CFG_LEASE_TIME);
	sp->poll_s = config_int(cfg, CFG_POLL_INTERVAL);
	sp->probe_interval_s = config_int(cfg, CFG_PROBE_INTERVAL);
	sp->no_smtp_interval_s = config_int(cfg, CFG_NO_SMTP_INTERVAL);
	sp->greylist_wait_s = config_int(cfg, CFG_GREYLIST_WAIT);
	sp->jitter_pct = (int)config_int(cfg, CFG_INTERVAL_JITTER);
	sp->retention_s = config_int(cfg, CFG_RETENTION);
	sp->result_buffer = (size_t)config_int(cfg, CFG_RESULT_BUFFER);
}

/* ---- result -> row ---- */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Attempts that got past RCPT are rows, so sink receipts can join to them. */
static bool
role_probe_keep_attempt(const struct probe_attempt *a)
{
	return a->outcome == OUTCOME_ACCEPTED || a->outcome == OUTCOME_RELAYED ||
	       a->outcome == OUTCOME_TEMPFAIL || (a->rcpt.code >= 200 && a->rcpt.code < 300);
}

/* The engine's trick (first accepted form, by index): was it sent alone? */
static bool
role_probe_trick_alone(const struct probe_result *res)
{
	for (size_t i = 0; i < res->nattempts; i++) {
		const struct probe_attempt *a = &res->attempts[i];

		if (a->outcome == OUTCOME_ACCEPTED || a->outcome == OUTCOME_RELAYED)
			return a->rcpts <= 1;
	}
	return true;
}

static void
role_probe_row(const struct probe_result *res, struct probe_row *row)
{
	json_t *ev = probe_json_result(res, true, false);
	size_t n = 0;

	memset(row, 0, sizeof(*row));
	row->port = res->port;
	row->started_ms = res->started_ms;
	row->duration_ms = res->duration_ms;
	row->verdict = res->verdict;
	row->backscatter = res->backscatter;
	row->trick = dup_or_null(res->trick);
	row->trick_alone = role_probe_trick_alone(res);
	row->stage = xstrdup(stage_name(res->stage));
	/* Replies may echo a recipient: shortened tokens, as in the evidence. */
	row->error = token_redact_dup(res->error != NULL ? res->error : res->reason);
	row->banner = token_redact_dup(res->banner);
	row->evidence = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (res->verdict == VERDICT_ACCEPTED || res->backscatter == BACKSCATTER_ACCEPTED)
		row->confirm_deadline_ms = res->started_ms + res->duration_ms + rp.confirm_window_ms;
	row->attempts = xcalloc(res->nattempts + 1, sizeof(*row->attempts));
	for (size_t i = 0; i < res->nattempts; i++) {
		const struct probe_attempt *a = &res->attempts[i];
		struct attempt_row *r = &row->attempts[n];

		if (!role_probe_keep_attempt(a))
			continue;
		r->idx = (int)a->index;
		r->sender = dup_or_null(a->sender);
		r->form = dup_or_null(a->form);
		r->backscatter = a->backscatter;
		/* Shortened like the evidence: the token column alone keeps it whole, for matching. */
		r->mail_from = token_redact_dup(a->mail_from);
		r->rcpt_to = token_redact_dup(a->rcpt_to);
		r->rcpts = a->rcpts;
		r->tls = a->tls;
		r->token = xstrdup(a->token);
		r->mail_code = a->mail.code;
		r->rcpt_code = a->rcpt.code;
		r->data_code = a->data.code;
		r->eod_code = a->eod.code;
		r->stage = xstrdup(stage_name(a->stage));
		r->outcome = xstrdup(outcome_name(a->outcome));
		n++;
	}
	row->nattempts = n;
}

static void
role_probe_done(struct probe_result *res, void *arg)
{
	struct port_ctx *pc = res->user;
	struct probe_row row;

	role_probe_row(res, &row);
	/*
	 * One line per probe with its final verdict: a probe waiting for the
	 * sink gets it when the sink confirms (role_sink.c) or the window
	 * closes (scheduler.c), so here it is only a debug line.
	 */
	{
		char ip[ADDR_STRLEN];
		bool waiting = res->verdict == VERDICT_ACCEPTED;
		bool quiet = res->verdict == VERDICT_NO_SMTP && !rp.log_no_smtp;

		addr_format(&res->addr, ip, sizeof(ip));
		if (waiting || quiet)
			log_debug(waiting ? "probe_waiting_for_sink" : "verdict",
				  "address=%s port=%d verdict=%s probe=%" PRIu64 " duration_ms=%" PRId64,
				  ip, res->port, verdict_name(row.verdict), res->probe_id, res->duration_ms);
		else
			log_info("verdict", "address=%s port=%d verdict=%s backscatter=%s trick=%s"
				 " probe=%" PRIu64 " duration_ms=%" PRId64,
				 ip, res->port, verdict_name(row.verdict), backscatter_name(row.backscatter),
				 row.trick != NULL ? row.trick : "-", res->probe_id, res->duration_ms);
	}
	if (rp.sched != NULL)
		scheduler_port_done(rp.sched, pc->it, pc->port, &row);
	probe_row_clear(&row);
	probe_result_free(res);
	free(pc);
}

static int
role_probe_submit(void *arg, struct sched_item *it, const struct claimed_target *t, size_t port,
		  const char **why)
{
	struct probe_target pt;
	struct port_ctx *pc;

	memset(&pt, 0, sizeof(pt));
	if (addr_parse(t->address, &pt.addr) != 0) {
		*why = "unparsable address";
		return -1;
	}
	pc = xcalloc(1, sizeof(*pc));
	pc->it = it;
	pc->port = port;
	pt.port = t->ports[port];
	pt.domains = (const char *const *)t->domains;
	pt.ndomains = t->ndomains;
	pt.probe_id = (uint64_t)t->probe_ids[port];
	pt.user = pc;
	if (probe_engine_submit(rp.engine, &pt, why) != 0) {
		free(pc);
		return -1;
	}
	return 0;
}

/* ---- role callbacks ---- */

static int
role_probe_params(struct daemon *d)
{
	const char *why = NULL;

	conf_probe_free(&rp.conf);
	if (conf_probe_init(&rp.conf, d->cfg, true, NULL, 0, &why) < 0) {
		log_error("config_error", "option=secret reason=\"%s\"", why);
		return -1;
	}
	/* Targets always name their port: the scheduler submits one per port. */
	rp.conf.p.ports = NULL;
	rp.conf.p.nports = 0;
	/* The API, sink and database shares of the start-up budget stay out of reach. */
	rp.conf.p.fd_reserve = fd_budget_probe_reserve(&d->fds);
	rp.confirm_window_ms = config_int(d->cfg, CFG_CONFIRM_WINDOW) * 1000;
	rp.log_no_smtp = config_bool(d->cfg, CFG_LOG_NO_SMTP);
	return 0;
}

static int
role_probe_start(struct daemon *d)
{
	struct sched_params sp;

	const char *why = NULL;

	rp.d = d;
	if (role_probe_params(d) != 0)
		return -1;
	rp.rdns = conf_rdns_new(d->base, d->cfg, &why);
	if (rp.rdns == NULL && why != NULL) {
		log_error("config_error", "option=probe_rdns reason=\"%s\"", why);
		return -1;
	}
	rp.conf.p.rdns = rp.rdns;
	rp.engine = probe_engine_new(d->base, &rp.conf.p, role_probe_done, NULL);
	if (rp.engine == NULL) {
		log_error("role_failed", "role=probe reason=\"probe engine\"");
		return -1;
	}
	role_probe_sched_params(d, &sp);
	rp.sched = scheduler_new(d->base, d->conninfo, &sp, role_probe_submit, NULL);
	return 0;
}

static void
role_probe_reload(struct daemon *d)
{
	struct sched_params sp;
	struct conf_probe cp;
	const char *why = NULL;

	/* Limits and exclusions change on the running engine; the rest needs a restart. */
	if (conf_probe_init(&cp, d->cfg, true, NULL, 0, &why) < 0) {
		log_warn("reload_refused", "role=probe reason=\"%s\"", why);
		return;
	}
	probe_engine_set_limits(rp.engine, cp.p.concurrency, cp.p.rate, cp.p.per_net, cp.p.exclude,
				cp.p.nexclude);
	rp.confirm_window_ms = config_int(d->cfg, CFG_CONFIRM_WINDOW) * 1000;
	rp.log_no_smtp = config_bool(d->cfg, CFG_LOG_NO_SMTP);
	role_probe_sched_params(d, &sp);
	scheduler_set_params(rp.sched, &sp);
	log_info("reloaded", "role=probe exclude=%zu concurrency=%d rate=%d", cp.p.nexclude,
		 cp.p.concurrency, cp.p.rate);
	conf_probe_free(&cp);
}

static void
role_probe_idle(void *arg)
{
	daemon_role_idle(rp.d);
}

static void
role_probe_drain(struct daemon *d)
{
	scheduler_drain(rp.sched, role_probe_idle, NULL);
}

static bool
role_probe_busy(struct daemon *d)
{
	return scheduler_busy(rp.sched);
}

static void
role_probe_stop(struct daemon *d)
{
	int grace_ms = 5000;
	struct scheduler *s = rp.sched;

	scheduler_release_unfinished(s);
	if (probe_engine_busy(rp.engine)) {
		/*
		 * The grace period is over and probe_engine_free would wait for
		 * every dialogue to end: leave the engine to the process exit.
		 * Its leases are released above; late results are dropped.
		 */
		log_warn("probes_abandoned", "reason=\"shutdown_grace over\"");
		probe_engine_abandon(rp.engine);
		rp.engine = NULL;
	} else {
		probe_engine_free(rp.engine);
		rp.engine = NULL;
		if (rp.rdns != NULL)
			evdns_base_free(rp.rdns, 1);
		rp.rdns = NULL;
	}
	rp.sched = NULL;
	scheduler_free(s, grace_ms);
	conf_probe_free(&rp.conf);
}

const struct role_ops role_probe_ops = {
	.name = "probe",
	.start = role_probe_start,
	.reload = role_probe_reload,
	.drain = role_probe_drain,
	.busy = role_probe_busy,
	.stop = role_probe_stop,
};
