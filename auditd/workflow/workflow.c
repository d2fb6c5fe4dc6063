/*
 * The case state machine: one transition table, read by wf_apply(). A pair
 * (state, event) missing from the table, or present with a reason, is
 * refused and changes nothing; the runner records refusals of operator
 * commands and silently drops refused probe findings (the case already
 * covers them).
 */
#include "auditd/workflow/workflow.h"

#include <stddef.h>
#include <string.h>

#define MAIL(m)                                                                                    \
	{                                                                                          \
		WF_ACT_MAIL, WF_MAIL_##m                                                           \
	}
#define ACT(a)                                                                                     \
	{                                                                                          \
		WF_ACT_##a, 0                                                                      \
	}

struct wf_transition {
	enum wf_state from;
	enum wf_event event;
	enum wf_state to; /* ignored when why != NULL */
	const char *why;  /* non-NULL: refused with this reason */
	struct wf_action actions[WF_MAX_ACTIONS];
	int nactions;
};

#define T(f, e, t, n, ...)                                                                         \
	{                                                                                          \
		WF_##f, WF_EV_##e, WF_##t, NULL, {__VA_ARGS__}, n                                  \
	}
#define NO(f, e, reason)                                                                           \
	{                                                                                          \
		WF_##f, WF_EV_##e, WF_##f, reason, {{0, 0}}, 0                                     \
	}

/*
 * The policy of shared/DESIGN.md "Cases and workflow". A relay is blocked at
 * once; a suspicious acceptance or backscatter is told and re-probed early;
 * a complaint blocks before any test; a clean re-test ends the case and lifts
 * the block; a block that outlives escalate_after escalates.
 */
static const struct wf_transition transitions[] = {
    /* No active case: findings and complaints open one. */
    T(NONE, RELAY_CONFIRMED, BLOCKED, 3, MAIL(RELAY_BLOCKED), ACT(BLOCK), ACT(TIMER_ESCALATION)),
    T(NONE, ACCEPTED_NOT_RELAYED, NOTIFIED, 3, MAIL(SUSPICIOUS), ACT(REPROBE), ACT(TIMER_REMINDER)),
    T(NONE, BACKSCATTER, NOTIFIED, 3, MAIL(BACKSCATTER), ACT(REPROBE), ACT(TIMER_REMINDER)),
    T(NONE, COMPLAINT, BLOCKED, 4, ACT(BLOCK), ACT(RETEST), MAIL(COMPLAINT_BLOCKED),
      ACT(TIMER_ESCALATION)),
    NO(NONE, RETEST_CLEAN, "no active case"),
    NO(NONE, RETEST_OPEN, "no active case"),

    /* open: reopened by an operator; nobody told, nothing blocked. */
    T(OPEN, RELAY_CONFIRMED, BLOCKED, 3, MAIL(RELAY_BLOCKED), ACT(BLOCK), ACT(TIMER_ESCALATION)),
    T(OPEN, ACCEPTED_NOT_RELAYED, NOTIFIED, 3, MAIL(SUSPICIOUS), ACT(REPROBE), ACT(TIMER_REMINDER)),
    T(OPEN, BACKSCATTER, NOTIFIED, 3, MAIL(BACKSCATTER), ACT(REPROBE), ACT(TIMER_REMINDER)),
    T(OPEN, RETEST_CLEAN, RESOLVED, 1, ACT(TIMER_CLEAR)),
    T(OPEN, RETEST_OPEN, NOTIFIED, 2, MAIL(STILL_OPEN), ACT(TIMER_REMINDER)),
    T(OPEN, COMPLAINT, BLOCKED, 4, ACT(BLOCK), ACT(RETEST), MAIL(COMPLAINT_BLOCKED),
      ACT(TIMER_ESCALATION)),
    T(OPEN, OP_BLOCK, BLOCKED, 2, ACT(BLOCK), ACT(TIMER_ESCALATION)),
    NO(OPEN, OP_UNBLOCK, "not blocked"),
    T(OPEN, OP_CLOSE, CLOSED, 1, ACT(TIMER_CLEAR)),
    NO(OPEN, OP_REOPEN, "already open"),
    T(OPEN, OP_NOTE, OPEN, 0),
    /* An operator may escalate at once what the timer would escalate later. */
    T(OPEN, OP_ESCALATE, ESCALATED, 4, ACT(BLOCK), ACT(ESCALATE), MAIL(ESCALATION), ACT(TIMER_CLEAR)),

    /* notified: told, not blocked; reminded while nothing changes. */
    T(NOTIFIED, RELAY_CONFIRMED, BLOCKED, 3, MAIL(RELAY_BLOCKED), ACT(BLOCK),
      ACT(TIMER_ESCALATION)),
    NO(NOTIFIED, ACCEPTED_NOT_RELAYED, "already notified"),
    NO(NOTIFIED, BACKSCATTER, "already notified"),
    T(NOTIFIED, RETEST_CLEAN, RESOLVED, 2, MAIL(RESOLVED), ACT(TIMER_CLEAR)),
    T(NOTIFIED, RETEST_OPEN, NOTIFIED, 2, MAIL(STILL_OPEN), ACT(TIMER_REMINDER)),
    T(NOTIFIED, COMPLAINT, BLOCKED, 4, ACT(BLOCK), ACT(RETEST), MAIL(COMPLAINT_BLOCKED),
      ACT(TIMER_ESCALATION)),
    T(NOTIFIED, OP_BLOCK, BLOCKED, 2, ACT(BLOCK), ACT(TIMER_ESCALATION)),
    NO(NOTIFIED, OP_UNBLOCK, "not blocked"),
    T(NOTIFIED, OP_CLOSE, CLOSED, 1, ACT(TIMER_CLEAR)),
    NO(NOTIFIED, OP_REOPEN, "already open"),
    T(NOTIFIED, OP_NOTE, NOTIFIED, 0),
    T(NOTIFIED, OP_ESCALATE, ESCALATED, 4, ACT(BLOCK), ACT(ESCALATE), MAIL(ESCALATION),
      ACT(TIMER_CLEAR)),
    T(NOTIFIED, TIMER_REMINDER, NOTIFIED, 2, MAIL(REMINDER), ACT(TIMER_REMINDER)),
    NO(NOTIFIED, TIMER_ESCALATION, "not blocked"),

    /* blocked: waits for a clean re-test or escalates. */
    NO(BLOCKED, RELAY_CONFIRMED, "already blocked"),
    NO(BLOCKED, ACCEPTED_NOT_RELAYED, "already blocked"),
    NO(BLOCKED, BACKSCATTER, "already blocked"),
    T(BLOCKED, RETEST_CLEAN, RESOLVED, 3, ACT(UNBLOCK), MAIL(RESOLVED), ACT(TIMER_CLEAR)),
    T(BLOCKED, RETEST_OPEN, BLOCKED, 1, MAIL(STILL_OPEN)),
    T(BLOCKED, COMPLAINT, BLOCKED, 1, ACT(RETEST)),
    NO(BLOCKED, OP_BLOCK, "already blocked"),
    T(BLOCKED, OP_UNBLOCK, NOTIFIED, 2, ACT(UNBLOCK), ACT(TIMER_REMINDER)),
    T(BLOCKED, OP_CLOSE, CLOSED, 2, ACT(UNBLOCK), ACT(TIMER_CLEAR)),
    NO(BLOCKED, OP_REOPEN, "already open"),
    T(BLOCKED, OP_NOTE, BLOCKED, 0),
    T(BLOCKED, OP_ESCALATE, ESCALATED, 3, ACT(ESCALATE), MAIL(ESCALATION), ACT(TIMER_CLEAR)),
    NO(BLOCKED, TIMER_REMINDER, "blocked cases escalate instead"),
    T(BLOCKED, TIMER_ESCALATION, ESCALATED, 3, ACT(ESCALATE), MAIL(ESCALATION), ACT(TIMER_CLEAR)),

    /* escalated: still blocked; only a clean re-test or an operator ends it. */
    NO(ESCALATED, RELAY_CONFIRMED, "already escalated"),
    NO(ESCALATED, ACCEPTED_NOT_RELAYED, "already escalated"),
    NO(ESCALATED, BACKSCATTER, "already escalated"),
    T(ESCALATED, RETEST_CLEAN, RESOLVED, 3, ACT(UNBLOCK), MAIL(RESOLVED), ACT(TIMER_CLEAR)),
    T(ESCALATED, RETEST_OPEN, ESCALATED, 1, MAIL(STILL_OPEN)),
    T(ESCALATED, COMPLAINT, ESCALATED, 1, ACT(RETEST)),
    NO(ESCALATED, OP_BLOCK, "already blocked"),
    T(ESCALATED, OP_UNBLOCK, NOTIFIED, 2, ACT(UNBLOCK), ACT(TIMER_REMINDER)),
    T(ESCALATED, OP_CLOSE, CLOSED, 2, ACT(UNBLOCK), ACT(TIMER_CLEAR)),
    NO(ESCALATED, OP_REOPEN, "already open"),
    T(ESCALATED, OP_NOTE, ESCALATED, 0),
    NO(ESCALATED, OP_ESCALATE, "already escalated"),
    NO(ESCALATED, TIMER_ESCALATION, "already escalated"),

    /* resolved and closed are final until an operator reopens; a new
     * finding on the address opens a new case (the NONE rows). */
    T(RESOLVED, OP_CLOSE, CLOSED, 0),
    T(RESOLVED, OP_REOPEN, OPEN, 0),
    T(RESOLVED, OP_NOTE, RESOLVED, 0),
    NO(RESOLVED, OP_BLOCK, "case is resolved; reopen it first"),
    NO(RESOLVED, OP_UNBLOCK, "not blocked"),
    NO(RESOLVED, OP_ESCALATE, "case is resolved; reopen it first"),
    NO(CLOSED, OP_CLOSE, "already closed"),
    T(CLOSED, OP_REOPEN, OPEN, 0),
    T(CLOSED, OP_NOTE, CLOSED, 0),
    NO(CLOSED, OP_BLOCK, "case is closed; reopen it first"),
    NO(CLOSED, OP_UNBLOCK, "not blocked"),
    NO(CLOSED, OP_ESCALATE, "case is closed; reopen it first"),
};

static const char *const state_names[WF_STATE__COUNT] = {
    [WF_NONE] = "none",       [WF_OPEN] = "open",           [WF_NOTIFIED] = "notified",
    [WF_BLOCKED] = "blocked", [WF_ESCALATED] = "escalated", [WF_RESOLVED] = "resolved",
    [WF_CLOSED] = "closed",
};

static const char *const event_names[WF_EV__COUNT] = {
    [WF_EV_RELAY_CONFIRMED] = "relay_confirmed",
    [WF_EV_ACCEPTED_NOT_RELAYED] = "accepted_not_relayed",
    [WF_EV_BACKSCATTER] = "backscatter",
    [WF_EV_RETEST_CLEAN] = "retest_clean",
    [WF_EV_RETEST_OPEN] = "retest_open",
    [WF_EV_COMPLAINT] = "complaint",
    [WF_EV_OP_BLOCK] = "block",
    [WF_EV_OP_UNBLOCK] = "unblock",
    [WF_EV_OP_CLOSE] = "close",
    [WF_EV_OP_REOPEN] = "reopen",
    [WF_EV_OP_NOTE] = "note",
    [WF_EV_OP_ESCALATE] = "escalate",
    [WF_EV_TIMER_REMINDER] = "reminder",
    [WF_EV_TIMER_ESCALATION] = "escalation",
};

static const char *const mail_names[WF_MAIL__COUNT] = {
    [WF_MAIL_RELAY_BLOCKED] = "relay_blocked", [WF_MAIL_SUSPICIOUS] = "suspicious",
    [WF_MAIL_BACKSCATTER] = "backscatter",     [WF_MAIL_COMPLAINT_BLOCKED] = "complaint_blocked",
    [WF_MAIL_REMINDER] = "reminder",           [WF_MAIL_ESCALATION] = "escalation",
    [WF_MAIL_STILL_OPEN] = "still_open",       [WF_MAIL_RESOLVED] = "resolved",
};

static const char *const action_names[WF_ACT__COUNT] = {
    [WF_ACT_MAIL] = "mail",
    [WF_ACT_BLOCK] = "block",
    [WF_ACT_UNBLOCK] = "unblock",
    [WF_ACT_ESCALATE] = "escalate",
    [WF_ACT_REPROBE] = "reprobe",
    [WF_ACT_RETEST] = "retest",
    [WF_ACT_TIMER_REMINDER] = "timer_reminder",
    [WF_ACT_TIMER_ESCALATION] = "timer_escalation",
    [WF_ACT_TIMER_CLEAR] = "timer_clear",
};

void
wf_policy_defaults(struct wf_policy *p)
{
	p->escalate_after = 3 * 86400;
	p->reminder_after = 86400;
	p->reprobe_after = 6 * 3600;
	p->max_reminders = 3;
}

static const struct wf_transition *
wf_find(enum wf_state from, enum wf_event ev)
{
	for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
		if (transitions[i].from == from && transitions[i].event == ev)
			return &transitions[i];
	}
	return NULL;
}

/* Effects of the actions on the case row itself; the rest is the runner's. */
static void
wf_effect(const struct wf_policy *p, struct wf_case *c, const struct wf_action *a, int64_t now,
          struct wf_result *res)
{
	switch (a->kind) {
	case WF_ACT_BLOCK:
		c->blocked = true;
		break;
	case WF_ACT_UNBLOCK:
		c->blocked = false;
		break;
	case WF_ACT_MAIL:
		if (a->mail == WF_MAIL_REMINDER)
			c->reminders++;
		break;
	case WF_ACT_TIMER_REMINDER:
		c->next_timer_at = now + p->reminder_after;
		c->next_timer = WF_EV_TIMER_REMINDER;
		break;
	case WF_ACT_TIMER_ESCALATION:
		c->next_timer_at = now + p->escalate_after;
		c->next_timer = WF_EV_TIMER_ESCALATION;
		break;
	case WF_ACT_TIMER_CLEAR:
		c->next_timer_at = 0;
		break;
	default:
		break;
	}
	res->actions[res->nactions++] = *a;
}

void
wf_apply(const struct wf_policy *p, struct wf_case *c, enum wf_event ev, int64_t now,
         struct wf_result *res)
{
	const struct wf_transition *t = wf_find(c->state, ev);

	memset(res, 0, sizeof(*res));
	res->from = res->to = c->state;
	/*
	 * A complaint names causes a relay test cannot see (stolen passwords,
	 * infected machines), so its block outlasts a clean re-test: the result
	 * is recorded for the operator as a reason to lift it, and nothing else
	 * happens. With complaint_unblock = after_clean_retest only the shortest
	 * block holds it, and a later probe (reprobe_after) asks again.
	 */
	if (ev == WF_EV_RETEST_CLEAN && c->complaint && c->blocked &&
	    (p->complaint_by_operator || now < c->blocked_at + p->complaint_min_block)) {
		res->accepted = true;
		if (!p->complaint_by_operator)
			wf_effect(p, c, &(struct wf_action){WF_ACT_REPROBE, 0}, now, res);
		return;
	}
	if (t == NULL || t->why != NULL) {
		res->why = t ? t->why : "not applicable in this state";
		return;
	}
	res->accepted = true;
	res->opens_case = c->state == WF_NONE;
	if (res->opens_case)
		c->reminders = 0;
	for (int i = 0; i < t->nactions; i++) {
		const struct wf_action *a = &t->actions[i];

		/* A notified case is reminded max_reminders times, then left to
		 * the periodic probes; the last reminder schedules no other. */
		if (a->kind == WF_ACT_TIMER_REMINDER && ev == WF_EV_TIMER_REMINDER &&
		    c->reminders >= p->max_reminders) {
			wf_effect(p, c, &(struct wf_action){WF_ACT_TIMER_CLEAR, 0}, now, res);
			continue;
		}
		wf_effect(p, c, a, now, res);
	}
	c->state = t->to;
	res->to = t->to;
}

int
wf_classify(enum wf_state state, enum wf_probe_outcome outcome, bool requested)
{
	static const enum wf_event findings[] = {
	    [WF_PROBE_BACKSCATTER] = WF_EV_BACKSCATTER,
	    [WF_PROBE_ACCEPTED_NOT_RELAYED] = WF_EV_ACCEPTED_NOT_RELAYED,
	    [WF_PROBE_RELAY_CONFIRMED] = WF_EV_RELAY_CONFIRMED,
	};
	bool active = state != WF_NONE && state != WF_RESOLVED && state != WF_CLOSED;
	bool blocked = state == WF_BLOCKED || state == WF_ESCALATED;

	if (outcome == WF_PROBE_INCONCLUSIVE)
		return -1;
	if (outcome == WF_PROBE_CLEAN)
		return active ? WF_EV_RETEST_CLEAN : -1;
	/* A requested re-test answers the customer ("still open"), except that
	 * a relay found on a case that is not blocked must block it. Periodic and
	 * early re-probes stay findings; the table drops those already covered. */
	if (active && requested && !(outcome == WF_PROBE_RELAY_CONFIRMED && !blocked))
		return WF_EV_RETEST_OPEN;
	return findings[outcome];
}

enum wf_probe_outcome
wf_probe_outcome(enum probe_verdict verdict, enum backscatter_result backscatter)
{
	enum wf_probe_outcome o = WF_PROBE_INCONCLUSIVE;

	switch (verdict_class(verdict)) {
	case VERDICT_CLEAN:
		o = WF_PROBE_CLEAN;
		break;
	case VERDICT_INCONCLUSIVE:
		o = WF_PROBE_INCONCLUSIVE;
		break;
	case VERDICT_FINDING:
		o = verdict == VERDICT_RELAY_CONFIRMED ? WF_PROBE_RELAY_CONFIRMED
		                                       : WF_PROBE_ACCEPTED_NOT_RELAYED;
		break;
	}
	/* Backscatter ranks between a clean relay test and a suspicious one. */
	if (backscatter == BACKSCATTER_CONFIRMED &&
	    (o == WF_PROBE_CLEAN || o == WF_PROBE_INCONCLUSIVE))
		o = WF_PROBE_BACKSCATTER;
	return o;
}

static int
name_parse(const char *const *names, int count, const char *s)
{
	for (int i = 0; s && i < count; i++) {
		if (names[i] && strcmp(names[i], s) == 0)
			return i;
	}
	return -1;
}

const char *
wf_state_name(enum wf_state s)
{
	return (unsigned)s < WF_STATE__COUNT ? state_names[s] : "?";
}

int
wf_state_parse(const char *s, enum wf_state *out)
{
	int i = name_parse(state_names, WF_STATE__COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum wf_state)i;
	return 0;
}

const char *
wf_event_name(enum wf_event e)
{
	return (unsigned)e < WF_EV__COUNT ? event_names[e] : "?";
}

int
wf_event_parse(const char *s, enum wf_event *out)
{
	int i = name_parse(event_names, WF_EV__COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum wf_event)i;
	return 0;
}

const char *
wf_mail_name(enum wf_mail m)
{
	return (unsigned)m < WF_MAIL__COUNT ? mail_names[m] : "?";
}

int
wf_mail_parse(const char *s, enum wf_mail *out)
{
	int i = name_parse(mail_names, WF_MAIL__COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum wf_mail)i;
	return 0;
}

const char *
wf_action_name(enum wf_action_kind a)
{
	return (unsigned)a < WF_ACT__COUNT ? action_names[a] : "?";
}

const char *
wf_event_finding(enum wf_event ev)
{
	switch (ev) {
	case WF_EV_RELAY_CONFIRMED:
		return "relay_confirmed";
	case WF_EV_ACCEPTED_NOT_RELAYED:
		return "accepted_not_relayed";
	case WF_EV_BACKSCATTER:
		return "backscatter";
	case WF_EV_COMPLAINT:
		return "complaint";
	default:
		return NULL;
	}
}
