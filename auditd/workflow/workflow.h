/*
 * The case workflow as a pure state machine: (case, event) -> (case', actions).
 * One transition table decides everything; this file does no I/O, so every
 * row is unit-tested. The runner (workflow_runner.c) feeds it events read
 * from PostgreSQL and writes the resulting case, event and action rows.
 */
#ifndef RELAYAUDIT_WORKFLOW_H
#define RELAYAUDIT_WORKFLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "probe-engine/probe.h"

/* WF_NONE: no active case for the address (never stored). */
enum wf_state {
	WF_NONE,
	WF_OPEN,      /* a case exists, the customer has not been told, nothing blocked */
	WF_NOTIFIED,  /* the customer was told; not blocked */
	WF_BLOCKED,   /* blocked through the enforcer hook */
	WF_ESCALATED, /* blocked and escalated after escalate_after */
	WF_RESOLVED,  /* a clean re-test ended it */
	WF_CLOSED,    /* an operator ended it */
	WF_STATE__COUNT
};

enum wf_event {
	/* Findings: probe results that show a problem. */
	WF_EV_RELAY_CONFIRMED,
	WF_EV_ACCEPTED_NOT_RELAYED,
	WF_EV_BACKSCATTER,
	/* Probe results on an address with a case. */
	WF_EV_RETEST_CLEAN, /* every port answered clean */
	WF_EV_RETEST_OPEN,  /* a requested re-test still shows the problem */
	WF_EV_COMPLAINT,
	/* Operator actions (case_commands). */
	WF_EV_OP_BLOCK,
	WF_EV_OP_UNBLOCK,
	WF_EV_OP_CLOSE,
	WF_EV_OP_REOPEN,
	WF_EV_OP_NOTE,
	WF_EV_OP_ESCALATE,
	/* Timers (cases.next_timer_at). */
	WF_EV_TIMER_REMINDER,
	WF_EV_TIMER_ESCALATION,
	WF_EV__COUNT
};

/* One template per kind; the names are the outbox.kind values. */
enum wf_mail {
	WF_MAIL_RELAY_BLOCKED,
	WF_MAIL_SUSPICIOUS,
	WF_MAIL_BACKSCATTER,
	WF_MAIL_COMPLAINT_BLOCKED,
	WF_MAIL_REMINDER,
	WF_MAIL_ESCALATION,
	WF_MAIL_STILL_OPEN,
	WF_MAIL_RESOLVED,
	WF_MAIL__COUNT
};

enum wf_action_kind {
	WF_ACT_MAIL,             /* queue a notification (mail) */
	WF_ACT_BLOCK,            /* enforcer hook: block */
	WF_ACT_UNBLOCK,          /* enforcer hook: unblock */
	WF_ACT_ESCALATE,         /* enforcer hook: escalate */
	WF_ACT_REPROBE,          /* probe the target again after reprobe_after */
	WF_ACT_RETEST,           /* priority re-test at once */
	WF_ACT_TIMER_REMINDER,   /* next timer: reminder after reminder_after */
	WF_ACT_TIMER_ESCALATION, /* next timer: escalation after escalate_after */
	WF_ACT_TIMER_CLEAR,
	WF_ACT__COUNT
};

struct wf_action {
	enum wf_action_kind kind;
	enum wf_mail mail; /* WF_ACT_MAIL only */
};

#define WF_MAX_ACTIONS 6

/* Policy from the configuration (durations in seconds). */
struct wf_policy {
	int64_t escalate_after;
	int64_t reminder_after;
	int64_t reprobe_after;
	int max_reminders; /* reminders per case while notified */
	/* A complaint block outlasts a clean re-test: until an operator lifts it,
	 * or (false) until complaint_min_block has passed since the block. */
	bool complaint_by_operator;
	int64_t complaint_min_block;
};

/* What the state machine needs of a case. */
struct wf_case {
	enum wf_state state;
	bool blocked;
	int reminders;            /* reminders sent so far */
	int64_t next_timer_at;    /* unix seconds; 0 = none */
	enum wf_event next_timer; /* WF_EV_TIMER_* when next_timer_at != 0 */
	bool complaint;           /* the case was opened on a spam complaint */
	int64_t blocked_at;       /* unix seconds; 0 = unknown */
};

/* What happened: an accepted transition or a refusal. */
struct wf_result {
	bool accepted;   /* false: the event does not apply in this state */
	const char *why; /* refusal reason (accepted == false) */
	bool opens_case; /* the transition creates a new case */
	enum wf_state from, to;
	struct wf_action actions[WF_MAX_ACTIONS];
	int nactions;
};

void wf_policy_defaults(struct wf_policy *p);

/*
 * Applies event to c at time now (unix seconds): fills *res and, when the
 * transition is accepted, updates *c (state, blocked, reminders, timer).
 * For WF_NONE the caller starts from a zeroed case.
 */
void wf_apply(const struct wf_policy *p, struct wf_case *c, enum wf_event ev, int64_t now,
              struct wf_result *res);

/* The aggregated outcome of the probes of one address (one round). */
enum wf_probe_outcome {
	WF_PROBE_INCONCLUSIVE, /* tempfail, error: no event */
	WF_PROBE_CLEAN,
	WF_PROBE_BACKSCATTER,
	WF_PROBE_ACCEPTED_NOT_RELAYED,
	WF_PROBE_RELAY_CONFIRMED,
};

/*
 * Turns a round of probe results of one address into an event, or -1 for
 * none. state: the address's active case (WF_NONE without one). requested:
 * the round answers a re-test request (customer link, operator, complaint).
 */
int wf_classify(enum wf_state state, enum wf_probe_outcome outcome, bool requested);

/* Worst outcome of one probe, from its verdict's class and its backscatter result. */
enum wf_probe_outcome wf_probe_outcome(enum probe_verdict verdict,
                                       enum backscatter_result backscatter);

const char *wf_state_name(enum wf_state s);
int wf_state_parse(const char *s, enum wf_state *out);
const char *wf_event_name(enum wf_event e);
int wf_event_parse(const char *s, enum wf_event *out);
const char *wf_mail_name(enum wf_mail m);
int wf_mail_parse(const char *s, enum wf_mail *out);
const char *wf_action_name(enum wf_action_kind a);
/* The finding recorded on a case opened by ev ("relay_confirmed", ...). */
const char *wf_event_finding(enum wf_event ev);

#endif
