/*
 * The case runner (see workflow_runner.h). Each input is one transaction:
 * claim it (SKIP LOCKED), lock its address and case, run the transition
 * table, write the case, its event, the outbox and enforcement rows, and
 * mark the input consumed. Executors pick the rows up afterwards; their
 * idempotency keys name the case event that caused them.
 */
#include "auditd/workflow/workflow_runner.h"
#include "auditd/workflow/notify_case.h"
#include "auditd/workflow/workflow.h"
#include "common/config.h"
#include "common/log.h"
#include "common/retest_link.h"
#include "common/util.h"
#include "db/cases.h"
#include "db/db.h"
#include "db/enforcement.h"
#include "db/outbox.h"
#include "db/retests.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct wf_runner {
	const struct config *cfg;
	PGconn *conn;
	struct wf_policy policy;
};

/* What a mail shows as proof: one probe's result. */
struct wf_evidence {
	int64_t probe_id;
	int port;
	const char *verdict;
	const char *trick;
	const char *transcript;
	const char *found_at;
};

/* One event for the state machine, with what the runner knows beside it. */
struct wf_input {
	enum wf_event ev;
	const char *actor;
	json_t *detail;                     /* borrowed; copied into the event row */
	const struct wf_evidence *evidence; /* this round's proof, or NULL */
	const char *address;                /* for a case this event opens */
	int64_t target_id, customer_id;
};

struct wf_runner *
wf_runner_new(const struct config *cfg, PGconn *conn)
{
	struct wf_runner *r = xcalloc(1, sizeof(*r));

	r->cfg = cfg;
	r->conn = conn;
	wf_policy_defaults(&r->policy);
	r->policy.escalate_after = config_int(cfg, CFG_ESCALATE_AFTER);
	r->policy.reminder_after = config_int(cfg, CFG_REMINDER_AFTER);
	r->policy.reprobe_after = config_int(cfg, CFG_REPROBE_AFTER);
	r->policy.max_reminders = (int)config_int(cfg, CFG_MAX_REMINDERS);
	r->policy.complaint_by_operator =
	    strcmp(config_str(cfg, CFG_COMPLAINT_UNBLOCK), "operator") == 0;
	r->policy.complaint_min_block = config_int(cfg, CFG_COMPLAINT_MIN_BLOCK);
	return r;
}

void
wf_runner_free(struct wf_runner *r)
{
	free(r);
}

/* Now in whole seconds, rounded up, so a timer never fires early. */
static int64_t
wf_now_ceil(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec + (ts.tv_nsec > 0);
}

static char *
wf_evidence_json(const struct wf_evidence *e)
{
	json_t *o =
	    json_pack("{s:I, s:i, s:s, s:s?, s:s?, s:s?}", "probe_id", (json_int_t)e->probe_id,
	              "port", e->port, "verdict", e->verdict ? e->verdict : "", "trick", e->trick,
	              "found_at", e->found_at, "transcript", e->transcript);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

/* Queues one notification of kind for case c (rendered by notify_case.c). */
static int
wf_runner_mail(struct wf_runner *r, const struct db_case *c, enum wf_mail kind, int64_t event_id,
               const struct wf_evidence *round, bool was_blocked)
{
	struct db_customer cu;
	struct notify_case_out out;
	struct notify_round nr;
	const char *why = NULL;
	char *key;
	int rc = -1, found;

	found = c->customer_id ? db_customer_get(r->conn, c->customer_id, &cu) : 0;
	if (found < 0)
		return -1;
	if (found == 0) {
		log_warn("notify_skipped",
		         "case=%" PRId64 " kind=%s reason=\"no customer contact\"", c->id,
		         wf_mail_name(kind));
		return 0;
	}
	if (round != NULL)
		nr = (struct notify_round){round->probe_id, round->port,       round->verdict,
		                           round->trick,    round->transcript, round->found_at};
	key = xasprintf("case:%" PRId64 ":ev:%" PRId64 ":mail:%s", c->id, event_id,
	                wf_mail_name(kind));
	if (notify_case_render(r->conn, r->cfg, c, &cu, kind, round ? &nr : NULL, was_blocked, key,
	                       NULL, time(NULL), &out, &why) < 0) {
		log_error("notify_render_failed", "case=%" PRId64 " kind=%s error=\"%s\"", c->id,
		          wf_mail_name(kind), why);
	} else {
		rc = db_outbox_queue(r->conn, c->id, key, wf_mail_name(kind), out.locale, cu.email,
		                     out.subject, out.message_id, out.message);
		notify_case_out_clear(&out);
	}
	free(key);
	db_customer_clear(&cu);
	return rc;
}

static int
wf_runner_action(struct wf_runner *r, const struct db_case *c, const struct wf_action *a,
                 int64_t event_id, const struct wf_input *in, bool was_blocked)
{
	char *key;
	int rc;

	switch (a->kind) {
	case WF_ACT_MAIL:
		return wf_runner_mail(r, c, a->mail, event_id, in->evidence, was_blocked);
	case WF_ACT_BLOCK:
	case WF_ACT_UNBLOCK:
	case WF_ACT_ESCALATE:
		key = xasprintf("case:%" PRId64 ":ev:%" PRId64 ":%s", c->id, event_id,
		                wf_action_name(a->kind));
		rc = db_enforcement_queue(r->conn, c->id, key, wf_action_name(a->kind), c->address,
		                          c->mode);
		free(key);
		return rc;
	case WF_ACT_REPROBE:
		return c->target_id
		           ? db_target_reprobe(r->conn, c->target_id, r->policy.reprobe_after)
		           : 0;
	case WF_ACT_RETEST:
		if (c->target_id == 0) {
			log_warn("retest_skipped",
			         "case=%" PRId64 " reason=\"address is no target\"", c->id);
			return 0;
		}
		{
			struct retest_ask ask = {.target_id = c->target_id, .case_id = c->id,
			                         .actor = in->actor};
			const char *why = NULL;
			int64_t id;

			rc = retest_request(r->conn, &ask, &id, NULL, &why);
			if (rc == 0)
				log_warn("retest_skipped",
				         "case=%" PRId64 " reason=\"target excluded from probing\"", c->id);
			return rc < 0 ? -1 : 0;
		}
	default:
		return 0; /* timers live on the case row, saved with it */
	}
}

/* The case's enforcement mode: the customer's, else the configured default. */
static int
wf_runner_mode(struct wf_runner *r, struct db_case *c)
{
	struct db_customer cu;
	int found;

	snprintf(c->mode, sizeof(c->mode), "%s", config_str(r->cfg, CFG_ENFORCE_MODE_DEFAULT));
	if (c->customer_id == 0)
		return 0;
	found = db_customer_get(r->conn, c->customer_id, &cu);
	if (found > 0 && cu.mode && *cu.mode)
		snprintf(c->mode, sizeof(c->mode), "%s", cu.mode);
	db_customer_clear(&cu);
	return found < 0 ? -1 : 0;
}

static unsigned
wf_runner_stamps(const struct wf_result *res, enum wf_event ev)
{
	static const struct {
		enum wf_state to;
		unsigned stamp;
	} by_state[] = {
	    {WF_ESCALATED, DB_STAMP_ESCALATED},
	    {WF_RESOLVED, DB_STAMP_RESOLVED},
	    {WF_CLOSED, DB_STAMP_CLOSED},
	};
	unsigned stamps = ev == WF_EV_OP_REOPEN ? DB_STAMP_REOPENED : 0;

	for (size_t i = 0; i < sizeof(by_state) / sizeof(by_state[0]); i++) {
		if (res->to == by_state[i].to && res->from != by_state[i].to)
			stamps |= by_state[i].stamp;
	}
	for (int i = 0; i < res->nactions; i++) {
		if (res->actions[i].kind == WF_ACT_MAIL)
			stamps |= DB_STAMP_NOTIFIED;
		if (res->actions[i].kind == WF_ACT_BLOCK)
			stamps |= DB_STAMP_BLOCKED;
	}
	return stamps;
}

/*
 * Runs in->ev through the table for case c (have: c was loaded; else the
 * address has no active case). 1 applied, 0 refused (*why), -1 error.
 */
static int
wf_runner_apply(struct wf_runner *r, struct db_case *c, bool have, const struct wf_input *in,
                const char **why)
{
	struct wf_case wc = {.state = WF_NONE};
	struct wf_result res;
	char from[16] = "";
	bool was_blocked;
	json_t *detail, *actions;
	char *detail_s;
	int64_t event_id;

	if (have) {
		if (wf_state_parse(c->state, &wc.state) < 0)
			return -1;
		wc.blocked = c->blocked;
		wc.reminders = c->reminders;
		wc.next_timer_at = c->next_timer_at;
		wc.next_timer = strcmp(c->timer_kind, "escalation") == 0 ? WF_EV_TIMER_ESCALATION
		                                                         : WF_EV_TIMER_REMINDER;
		wc.complaint = strcmp(c->finding, "complaint") == 0;
		wc.blocked_at = c->blocked_at;
		snprintf(from, sizeof(from), "%s", c->state);
	}
	was_blocked = wc.blocked;
	wf_apply(&r->policy, &wc, in->ev, wf_now_ceil(), &res);
	if (!res.accepted) {
		*why = res.why;
		return 0;
	}
	if (res.opens_case) {
		db_case_clear(c);
		snprintf(c->address, sizeof(c->address), "%s", in->address);
		snprintf(c->finding, sizeof(c->finding), "%s", wf_event_finding(in->ev));
		snprintf(c->state, sizeof(c->state), "%s", wf_state_name(wc.state));
		c->target_id = in->target_id;
		c->customer_id = in->customer_id;
		if (in->evidence) {
			c->probe_id = in->evidence->probe_id;
			c->trick = in->evidence->trick ? xstrdup(in->evidence->trick) : NULL;
			c->evidence = wf_evidence_json(in->evidence);
		}
		if (wf_runner_mode(r, c) < 0 || db_case_insert(r->conn, c) < 0)
			return -1;
	} else if (c->mode[0] == '\0' && wf_runner_mode(r, c) < 0) {
		return -1;
	}
	snprintf(c->state, sizeof(c->state), "%s", wf_state_name(wc.state));
	c->blocked = wc.blocked;
	c->reminders = wc.reminders;
	c->next_timer_at = wc.next_timer_at;
	snprintf(c->timer_kind, sizeof(c->timer_kind), "%s",
	         wc.next_timer_at == 0                     ? ""
	         : wc.next_timer == WF_EV_TIMER_ESCALATION ? "escalation"
	                                                   : "reminder");
	if (db_case_save(r->conn, c, wf_runner_stamps(&res, in->ev)) < 0)
		return -1;

	detail = in->detail ? json_deep_copy(in->detail) : json_object();
	actions = json_array();
	for (int i = 0; i < res.nactions; i++) {
		const struct wf_action *a = &res.actions[i];

		if (a->kind == WF_ACT_MAIL)
			json_array_append_new(actions,
			                      json_sprintf("mail:%s", wf_mail_name(a->mail)));
		else
			json_array_append_new(actions, json_string(wf_action_name(a->kind)));
	}
	json_object_set_new(detail, "actions", actions);
	detail_s = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	event_id = db_case_event(r->conn, c->id, wf_event_name(in->ev), have ? from : NULL,
	                         c->state, in->actor, detail_s);
	free(detail_s);
	if (event_id < 0)
		return -1;
	log_info("case_transition", "case=%" PRId64 " address=%s event=%s from=%s to=%s actor=%s",
	         c->id, c->address, wf_event_name(in->ev), have ? from : "none", c->state,
	         in->actor);
	for (int i = 0; i < res.nactions; i++) {
		if (wf_runner_action(r, c, &res.actions[i], event_id, in, was_blocked) < 0)
			return -1;
	}
	return 1;
}

/* The worst outcome of a round and the probe that shows it. */
static enum wf_probe_outcome
wf_round_outcome(const struct db_probe *p, int n, int *decisive)
{
	enum wf_probe_outcome worst = WF_PROBE_INCONCLUSIVE;
	bool all_clean = n > 0;

	*decisive = n - 1;
	for (int i = 0; i < n; i++) {
		enum wf_probe_outcome o = wf_probe_outcome(p[i].verdict, p[i].backscatter);

		all_clean &= o == WF_PROBE_CLEAN;
		if (o > worst) {
			worst = o;
			*decisive = i;
		}
	}
	/* Clean means every port answered clean; a tempfail leaves it open. */
	if (worst <= WF_PROBE_CLEAN && !all_clean) {
		*decisive = n - 1;
		return WF_PROBE_INCONCLUSIVE;
	}
	if (worst == WF_PROBE_CLEAN)
		*decisive = n - 1;
	return worst;
}

static const char *const outcome_names[] = {
    [WF_PROBE_INCONCLUSIVE] = "inconclusive",
    [WF_PROBE_CLEAN] = "clean",
    [WF_PROBE_BACKSCATTER] = "backscatter",
    [WF_PROBE_ACCEPTED_NOT_RELAYED] = "accepted_not_relayed",
    [WF_PROBE_RELAY_CONFIRMED] = "relay_confirmed",
};

/*
 * One input of the workflow, as a source's take() found and locked it inside
 * the driver's transaction; the source's handle() acts on it in the same one.
 */
struct wf_item {
	char address[64];
	struct db_case c;
	int have; /* c holds the address's (or the command's) case */
	int64_t id, target_id, customer_id;
	char command[16];
	char *note, *actor;
	struct db_probe *p;
	int n;
};

static void
wf_item_clear(struct wf_item *it)
{
	free(it->note);
	free(it->actor);
	db_probes_free(it->p, it->n);
	db_case_clear(&it->c);
}

/* ---- probe rounds ---- */

static int
wf_round_take(struct wf_runner *r, struct wf_item *it)
{
	int found = db_probe_round_next(r->conn, it->address, sizeof(it->address));

	if (found <= 0)
		return found;
	if (db_workflow_lock_address(r->conn, it->address) < 0 ||
	    db_probe_round_load(r->conn, it->address, &it->p, &it->n) < 0 ||
	    (it->have = db_case_active(r->conn, it->address, &it->c)) < 0)
		return -1;
	return 1;
}

static int
wf_round_handle(struct wf_runner *r, struct wf_item *it)
{
	const struct db_probe *p = it->p;
	int n = it->n, decisive, answered = 0, ev, rc;
	int64_t target_id = 0, customer_id = 0;
	enum wf_probe_outcome outcome;
	enum wf_state state = WF_NONE;

	if (n == 0) /* another node judged it meanwhile */
		return 0;
	outcome = wf_round_outcome(p, n, &decisive);
	if (it->have) {
		target_id = it->c.target_id;
		customer_id = it->c.customer_id;
		wf_state_parse(it->c.state, &state);
	}
	if (target_id == 0 && db_target_of(r->conn, it->address, &target_id, &customer_id) < 0)
		return -1;
	/* An inconclusive round (tempfail, error) leaves the requests open for
	 * the next probe, which then still answers the customer. */
	if (target_id && outcome != WF_PROBE_INCONCLUSIVE &&
	    (answered = db_retest_answer(r->conn, target_id, p[n - 1].id)) < 0)
		return -1;
	ev = wf_classify(state, outcome, answered > 0);
	if (ev >= 0) {
		struct wf_evidence e = {p[decisive].id,         p[decisive].port,
		                        verdict_name(p[decisive].verdict), p[decisive].trick,
		                        p[decisive].transcript, p[decisive].finished};
		json_t *detail = json_pack("{s:s, s:b, s:I, s:[]}", "outcome",
		                           outcome_names[outcome], "requested", answered > 0,
		                           "probe_id", (json_int_t)p[decisive].id, "probes");
		struct wf_input in = {(enum wf_event)ev, "system",  detail,     &e,
		                      it->address,       target_id, customer_id};
		const char *why = NULL;

		for (int i = 0; i < n; i++)
			json_array_append_new(json_object_get(detail, "probes"),
			                      json_integer(p[i].id));
		rc = wf_runner_apply(r, &it->c, it->have, &in, &why);
		json_decref(detail);
		if (rc < 0)
			return -1;
		if (rc == 0)
			log_debug("finding_covered", "address=%s event=%s reason=\"%s\"", it->address,
			          wf_event_name((enum wf_event)ev), why);
	}
	return db_probe_round_done(r->conn, it->p, n);
}

/* Quiet probes in bulk, one statement: taking them is all there is to do. */
static int
wf_quiet_take(struct wf_runner *r, struct wf_item *it)
{
	int n = db_probes_skip_quiet(r->conn, 1000);

	return n < 0 ? -1 : n > 0;
}

/* ---- complaints ---- */

static int
wf_complaint_take(struct wf_runner *r, struct wf_item *it)
{
	int found = db_complaint_next(r->conn, &it->id, it->address, sizeof(it->address), &it->actor);

	if (found <= 0)
		return found;
	if (db_workflow_lock_address(r->conn, it->address) < 0 ||
	    (it->have = db_case_active(r->conn, it->address, &it->c)) < 0 ||
	    db_target_of(r->conn, it->address, &it->target_id, &it->customer_id) < 0)
		return -1;
	return 1;
}

static int
wf_complaint_handle(struct wf_runner *r, struct wf_item *it)
{
	json_t *detail = json_pack("{s:I}", "complaint_id", (json_int_t)it->id);
	struct wf_input in = {WF_EV_COMPLAINT, it->actor,     detail,          NULL,
	                      it->address,     it->target_id, it->customer_id};
	const char *why = NULL;
	int rc = wf_runner_apply(r, &it->c, it->have, &in, &why);

	json_decref(detail);
	if (rc < 0 || db_complaint_done(r->conn, it->id, it->c.id) < 0)
		return -1;
	return 0;
}

/* ---- operator commands ---- */

static const struct {
	const char *command;
	enum wf_event event;
} commands[] = {
    {"block", WF_EV_OP_BLOCK},   {"unblock", WF_EV_OP_UNBLOCK}, {"close", WF_EV_OP_CLOSE},
    {"reopen", WF_EV_OP_REOPEN}, {"note", WF_EV_OP_NOTE},
    {"escalate", WF_EV_OP_ESCALATE},
};

static int
wf_command_take(struct wf_runner *r, struct wf_item *it)
{
	int64_t case_id = 0;
	int found = db_command_next(r->conn, &it->id, &case_id, it->command, sizeof(it->command),
	                            &it->note, &it->actor);

	if (found <= 0)
		return found;
	if ((it->have = db_case_get(r->conn, case_id, &it->c)) < 0)
		return -1;
	it->c.id = case_id; /* named in the log even when there is no such case */
	return 1;
}

static int
wf_command_handle(struct wf_runner *r, struct wf_item *it)
{
	struct db_case *c = &it->c;
	const char *why = it->have ? "unknown command" : "no such case";
	char *result;
	int rc = 0;

	for (size_t i = 0; it->have && i < sizeof(commands) / sizeof(commands[0]); i++) {
		json_t *detail;
		struct wf_input in = {commands[i].event, it->actor, NULL, NULL, c->address, 0, 0};

		if (strcmp(commands[i].command, it->command) != 0)
			continue;
		/* Reopening must not make two active cases for one address. */
		if (commands[i].event == WF_EV_OP_REOPEN &&
		    (rc = db_case_other_active(r->conn, c->address, c->id)) != 0) {
			if (rc < 0)
				return -1;
			why = "another case is active for this address";
			rc = 0;
			break;
		}
		detail = json_pack("{s:I, s:s}", "command_id", (json_int_t)it->id, "note",
		                   it->note ? it->note : "");
		in.detail = detail;
		rc = wf_runner_apply(r, c, true, &in, &why);
		json_decref(detail);
		if (rc < 0)
			return -1;
		break;
	}
	result = rc > 0 ? xstrdup("ok") : xasprintf("refused: %s", why);
	rc = db_command_done(r->conn, it->id, result);
	if (rc == 0)
		log_info("case_command",
		         "command_id=%" PRId64 " case=%" PRId64 " command=%s result=\"%s\"", it->id,
		         c->id, it->command, result);
	free(result);
	return rc;
}

/* ---- timers ---- */

static int
wf_timer_take(struct wf_runner *r, struct wf_item *it)
{
	int64_t case_id = 0;
	int found = db_case_timer_next(r->conn, &case_id);

	if (found <= 0)
		return found;
	return db_case_get(r->conn, case_id, &it->c) <= 0 ? -1 : 1;
}

static int
wf_timer_handle(struct wf_runner *r, struct wf_item *it)
{
	struct db_case *c = &it->c;
	struct wf_input in = {strcmp(c->timer_kind, "escalation") == 0 ? WF_EV_TIMER_ESCALATION
	                                                               : WF_EV_TIMER_REMINDER,
	                      "system", NULL, NULL, c->address, 0, 0};
	const char *why = NULL;
	int rc = wf_runner_apply(r, c, true, &in, &why);

	if (rc < 0)
		return -1;
	if (rc == 0) {
		/* A timer the state no longer wants: drop it, or it fires forever. */
		log_info("timer_dropped", "case=%" PRId64 " timer=%s reason=\"%s\"", c->id,
		         c->timer_kind, why);
		c->next_timer_at = 0;
		if (db_case_save(r->conn, c, 0) < 0)
			return -1;
	}
	return 0;
}

/* ---- the driver ---- */

/* The workflow's inputs in the order they are served: operator intent first,
 * then complaints, findings (quiet probes in bulk before rounds) and timers. */
static const struct wf_source {
	const char *name;
	/* Finds and locks the next input: 1 found, 0 none waiting, -1 error. */
	int (*take)(struct wf_runner *r, struct wf_item *it);
	/* Acts on it: 0 or -1; NULL when taking it was all. */
	int (*handle)(struct wf_runner *r, struct wf_item *it);
} wf_sources[] = {
    {"command", wf_command_take, wf_command_handle},
    {"complaint", wf_complaint_take, wf_complaint_handle},
    {"quiet", wf_quiet_take, NULL},
    {"round", wf_round_take, wf_round_handle},
    {"timer", wf_timer_take, wf_timer_handle},
};

/* One input of src in one transaction: 1 handled, 0 nothing waiting, -1 error (rolled back). */
static int
wf_runner_one(struct wf_runner *r, const struct wf_source *src)
{
	struct wf_item it = {0};
	int found;

	if (db_begin(r->conn) < 0)
		return -1;
	found = src->take(r, &it);
	if (found > 0 && src->handle != NULL && src->handle(r, &it) < 0)
		found = -1;
	wf_item_clear(&it);
	if (found < 0) {
		log_debug("workflow_input_failed", "source=%s", src->name);
		db_rollback(r->conn);
		return -1;
	}
	if (db_commit(r->conn) < 0) {
		db_rollback(r->conn);
		return -1;
	}
	return found;
}

int
wf_runner_step(struct wf_runner *r, int limit)
{
	int handled = 0;

	for (size_t i = 0; i < sizeof(wf_sources) / sizeof(wf_sources[0]); i++) {
		while (handled < limit) {
			int rc = wf_runner_one(r, &wf_sources[i]);

			if (rc < 0)
				return -1;
			if (rc == 0)
				break;
			handled++;
		}
	}
	return handled;
}
