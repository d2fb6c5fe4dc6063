/*
 * The case state machine, row by row: every accepted transition of the
 * table with its target state and actions, every refusal with its reason,
 * and the effects on the case (blocked flag, timers, reminder cap).
 */
#include "auditd/workflow/workflow.h"
#include "tests/test.h"

#include <stdio.h>

#define NOW 1000000
#define ARRAY_LEN_T(a) (sizeof(a) / sizeof((a)[0]))

struct expect {
	enum wf_state from;
	enum wf_event event;
	const char *to;      /* NULL: refused */
	const char *actions; /* accepted: "mail:x,block,..."; refused: the reason */
};

/* The policy, written out independently of auditd/workflow.c. */
static const struct expect expected[] = {
    {WF_NONE, WF_EV_RELAY_CONFIRMED, "blocked", "mail:relay_blocked,block,timer_escalation"},
    {WF_NONE, WF_EV_ACCEPTED_NOT_RELAYED, "notified", "mail:suspicious,reprobe,timer_reminder"},
    {WF_NONE, WF_EV_BACKSCATTER, "notified", "mail:backscatter,reprobe,timer_reminder"},
    {WF_NONE, WF_EV_COMPLAINT, "blocked", "block,retest,mail:complaint_blocked,timer_escalation"},
    {WF_NONE, WF_EV_RETEST_CLEAN, NULL, "no active case"},
    {WF_NONE, WF_EV_RETEST_OPEN, NULL, "no active case"},

    {WF_OPEN, WF_EV_RELAY_CONFIRMED, "blocked", "mail:relay_blocked,block,timer_escalation"},
    {WF_OPEN, WF_EV_ACCEPTED_NOT_RELAYED, "notified", "mail:suspicious,reprobe,timer_reminder"},
    {WF_OPEN, WF_EV_BACKSCATTER, "notified", "mail:backscatter,reprobe,timer_reminder"},
    {WF_OPEN, WF_EV_RETEST_CLEAN, "resolved", "timer_clear"},
    {WF_OPEN, WF_EV_RETEST_OPEN, "notified", "mail:still_open,timer_reminder"},
    {WF_OPEN, WF_EV_COMPLAINT, "blocked", "block,retest,mail:complaint_blocked,timer_escalation"},
    {WF_OPEN, WF_EV_OP_BLOCK, "blocked", "block,timer_escalation"},
    {WF_OPEN, WF_EV_OP_UNBLOCK, NULL, "not blocked"},
    {WF_OPEN, WF_EV_OP_CLOSE, "closed", "timer_clear"},
    {WF_OPEN, WF_EV_OP_REOPEN, NULL, "already open"},
    {WF_OPEN, WF_EV_OP_NOTE, "open", ""},
    {WF_OPEN, WF_EV_OP_ESCALATE, "escalated", "block,escalate,mail:escalation,timer_clear"},

    {WF_NOTIFIED, WF_EV_RELAY_CONFIRMED, "blocked", "mail:relay_blocked,block,timer_escalation"},
    {WF_NOTIFIED, WF_EV_ACCEPTED_NOT_RELAYED, NULL, "already notified"},
    {WF_NOTIFIED, WF_EV_BACKSCATTER, NULL, "already notified"},
    {WF_NOTIFIED, WF_EV_RETEST_CLEAN, "resolved", "mail:resolved,timer_clear"},
    {WF_NOTIFIED, WF_EV_RETEST_OPEN, "notified", "mail:still_open,timer_reminder"},
    {WF_NOTIFIED, WF_EV_COMPLAINT, "blocked",
     "block,retest,mail:complaint_blocked,timer_escalation"},
    {WF_NOTIFIED, WF_EV_OP_BLOCK, "blocked", "block,timer_escalation"},
    {WF_NOTIFIED, WF_EV_OP_UNBLOCK, NULL, "not blocked"},
    {WF_NOTIFIED, WF_EV_OP_CLOSE, "closed", "timer_clear"},
    {WF_NOTIFIED, WF_EV_OP_REOPEN, NULL, "already open"},
    {WF_NOTIFIED, WF_EV_OP_NOTE, "notified", ""},
    {WF_NOTIFIED, WF_EV_OP_ESCALATE, "escalated", "block,escalate,mail:escalation,timer_clear"},
    {WF_NOTIFIED, WF_EV_TIMER_REMINDER, "notified", "mail:reminder,timer_reminder"},
    {WF_NOTIFIED, WF_EV_TIMER_ESCALATION, NULL, "not blocked"},

    {WF_BLOCKED, WF_EV_RELAY_CONFIRMED, NULL, "already blocked"},
    {WF_BLOCKED, WF_EV_ACCEPTED_NOT_RELAYED, NULL, "already blocked"},
    {WF_BLOCKED, WF_EV_BACKSCATTER, NULL, "already blocked"},
    {WF_BLOCKED, WF_EV_RETEST_CLEAN, "resolved", "unblock,mail:resolved,timer_clear"},
    {WF_BLOCKED, WF_EV_RETEST_OPEN, "blocked", "mail:still_open"},
    {WF_BLOCKED, WF_EV_COMPLAINT, "blocked", "retest"},
    {WF_BLOCKED, WF_EV_OP_BLOCK, NULL, "already blocked"},
    {WF_BLOCKED, WF_EV_OP_UNBLOCK, "notified", "unblock,timer_reminder"},
    {WF_BLOCKED, WF_EV_OP_CLOSE, "closed", "unblock,timer_clear"},
    {WF_BLOCKED, WF_EV_OP_REOPEN, NULL, "already open"},
    {WF_BLOCKED, WF_EV_OP_NOTE, "blocked", ""},
    {WF_BLOCKED, WF_EV_OP_ESCALATE, "escalated", "escalate,mail:escalation,timer_clear"},
    {WF_BLOCKED, WF_EV_TIMER_REMINDER, NULL, "blocked cases escalate instead"},
    {WF_BLOCKED, WF_EV_TIMER_ESCALATION, "escalated", "escalate,mail:escalation,timer_clear"},

    {WF_ESCALATED, WF_EV_RELAY_CONFIRMED, NULL, "already escalated"},
    {WF_ESCALATED, WF_EV_ACCEPTED_NOT_RELAYED, NULL, "already escalated"},
    {WF_ESCALATED, WF_EV_BACKSCATTER, NULL, "already escalated"},
    {WF_ESCALATED, WF_EV_RETEST_CLEAN, "resolved", "unblock,mail:resolved,timer_clear"},
    {WF_ESCALATED, WF_EV_RETEST_OPEN, "escalated", "mail:still_open"},
    {WF_ESCALATED, WF_EV_COMPLAINT, "escalated", "retest"},
    {WF_ESCALATED, WF_EV_OP_BLOCK, NULL, "already blocked"},
    {WF_ESCALATED, WF_EV_OP_UNBLOCK, "notified", "unblock,timer_reminder"},
    {WF_ESCALATED, WF_EV_OP_CLOSE, "closed", "unblock,timer_clear"},
    {WF_ESCALATED, WF_EV_OP_REOPEN, NULL, "already open"},
    {WF_ESCALATED, WF_EV_OP_NOTE, "escalated", ""},
    {WF_ESCALATED, WF_EV_OP_ESCALATE, NULL, "already escalated"},
    {WF_ESCALATED, WF_EV_TIMER_ESCALATION, NULL, "already escalated"},

    {WF_RESOLVED, WF_EV_OP_CLOSE, "closed", ""},
    {WF_RESOLVED, WF_EV_OP_REOPEN, "open", ""},
    {WF_RESOLVED, WF_EV_OP_NOTE, "resolved", ""},
    {WF_RESOLVED, WF_EV_OP_BLOCK, NULL, "case is resolved; reopen it first"},
    {WF_RESOLVED, WF_EV_OP_UNBLOCK, NULL, "not blocked"},
    {WF_RESOLVED, WF_EV_OP_ESCALATE, NULL, "case is resolved; reopen it first"},
    {WF_CLOSED, WF_EV_OP_CLOSE, NULL, "already closed"},
    {WF_CLOSED, WF_EV_OP_REOPEN, "open", ""},
    {WF_CLOSED, WF_EV_OP_NOTE, "closed", ""},
    {WF_CLOSED, WF_EV_OP_BLOCK, NULL, "case is closed; reopen it first"},
    {WF_CLOSED, WF_EV_OP_UNBLOCK, NULL, "not blocked"},
    {WF_CLOSED, WF_EV_OP_ESCALATE, NULL, "case is closed; reopen it first"},
};

static struct wf_policy policy;

static void
format_actions(const struct wf_result *r, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < r->nactions && used < len; i++) {
		const struct wf_action *a = &r->actions[i];

		if (a->kind == WF_ACT_MAIL)
			used += snprintf(buf + used, len - used, "%smail:%s", i ? "," : "",
			                 wf_mail_name(a->mail));
		else
			used += snprintf(buf + used, len - used, "%s%s", i ? "," : "",
			                 wf_action_name(a->kind));
	}
}

/* A case in state s as the runner would load it. */
static struct wf_case
case_in(enum wf_state s)
{
	struct wf_case c = {.state = s};

	c.blocked = s == WF_BLOCKED || s == WF_ESCALATED;
	return c;
}

static void
check_row(const struct expect *e)
{
	struct wf_case c = case_in(e->from);
	struct wf_result r;
	char got[256];

	wf_apply(&policy, &c, e->event, NOW, &r);
	if (e->to == NULL) {
		if (r.accepted) {
			TEST_FAIL("%s + %s: got accepted -> %s, want refused (%s)",
			          wf_state_name(e->from), wf_event_name(e->event),
			          wf_state_name(r.to), e->actions);
			return;
		}
		CHECK_STR(r.why, e->actions);
		CHECK_INT(c.state, e->from);
		return;
	}
	CHECK_MSG(r.accepted, "%s + %s: got refused (%s), want -> %s", wf_state_name(e->from),
	          wf_event_name(e->event), r.why, e->to);
	CHECK_STR(wf_state_name(r.to), e->to);
	CHECK_STR(wf_state_name(c.state), e->to);
	format_actions(&r, got, sizeof(got));
	CHECK_MSG(strcmp(got, e->actions) == 0, "%s + %s: got actions \"%s\", want \"%s\"",
	          wf_state_name(e->from), wf_event_name(e->event), got, e->actions);
	CHECK_INT(r.opens_case, e->from == WF_NONE);
}

/* One PASS/FAIL line per row of the table. */
static void
run_rows(void)
{
	for (size_t i = 0; i < ARRAY_LEN_T(expected); i++) {
		char name[128];

		snprintf(name, sizeof(name), "%s_%s", wf_state_name(expected[i].from),
		         wf_event_name(expected[i].event));
		test_current = name;
		test_current_failed = 0;
		check_row(&expected[i]);
		if (test_current_failed) {
			test_failed++;
		} else {
			test_passed++;
			printf("PASS %s: transition %s\n", test_suite, name);
		}
	}
}

/* Pairs not listed above must be refused: the table has no hidden rows. */
TEST(unlisted_pairs_are_refused)
{
	for (int s = 0; s < WF_STATE__COUNT; s++) {
		for (int e = 0; e < WF_EV__COUNT; e++) {
			bool listed = false;
			struct wf_case c = case_in((enum wf_state)s);
			struct wf_result r;

			for (size_t i = 0; i < ARRAY_LEN_T(expected); i++)
				listed |= expected[i].from == (enum wf_state)s &&
				          expected[i].event == (enum wf_event)e;
			if (listed)
				continue;
			wf_apply(&policy, &c, (enum wf_event)e, NOW, &r);
			CHECK_MSG(!r.accepted, "%s + %s: got accepted -> %s, want refused",
			          wf_state_name((enum wf_state)s), wf_event_name((enum wf_event)e),
			          wf_state_name(r.to));
			CHECK_INT(c.state, s);
		}
	}
}

TEST(relay_sets_blocked_and_escalation_timer)
{
	struct wf_case c = case_in(WF_NONE);
	struct wf_result r;

	wf_apply(&policy, &c, WF_EV_RELAY_CONFIRMED, NOW, &r);
	CHECK(c.blocked);
	CHECK_INT(c.next_timer_at, NOW + policy.escalate_after);
	CHECK_INT(c.next_timer, WF_EV_TIMER_ESCALATION);
}

TEST(clean_retest_of_blocked_case_unblocks_and_clears_timer)
{
	struct wf_case c = case_in(WF_BLOCKED);
	struct wf_result r;

	c.next_timer_at = NOW + 5;
	c.next_timer = WF_EV_TIMER_ESCALATION;
	wf_apply(&policy, &c, WF_EV_RETEST_CLEAN, NOW, &r);
	CHECK(!c.blocked);
	CHECK_INT(c.next_timer_at, 0);
	CHECK_STR(wf_state_name(c.state), "resolved");
}

TEST(complaint_block_waits_for_an_operator_after_clean_retest)
{
	struct wf_policy p = policy;
	struct wf_case c = case_in(WF_BLOCKED);
	struct wf_result r;

	p.complaint_by_operator = true;
	c.complaint = true;
	c.blocked_at = NOW - 86400;
	wf_apply(&p, &c, WF_EV_RETEST_CLEAN, NOW, &r);
	CHECK(r.accepted); /* recorded for the operator */
	CHECK_INT(r.nactions, 0);
	CHECK(c.blocked);
	CHECK_STR(wf_state_name(c.state), "blocked");
	wf_apply(&p, &c, WF_EV_OP_UNBLOCK, NOW, &r);
	CHECK(r.accepted);
	CHECK(!c.blocked);
}

TEST(complaint_block_lasts_complaint_min_block)
{
	struct wf_policy p = policy;
	struct wf_case c = case_in(WF_BLOCKED);
	struct wf_result r;

	p.complaint_by_operator = false;
	p.complaint_min_block = 3600;
	c.complaint = true;
	c.blocked_at = NOW - 60;
	wf_apply(&p, &c, WF_EV_RETEST_CLEAN, NOW, &r);
	CHECK(r.accepted);
	CHECK_INT(r.nactions, 1);
	CHECK_STR(wf_action_name(r.actions[0].kind), "reprobe");
	CHECK(c.blocked);
	wf_apply(&p, &c, WF_EV_RETEST_CLEAN, NOW + 3600 - 60, &r);
	CHECK(!c.blocked);
	CHECK_STR(wf_state_name(c.state), "resolved");
}

TEST(relay_block_is_lifted_by_clean_retest_whatever_the_complaint_policy)
{
	struct wf_policy p = policy;
	struct wf_case c = case_in(WF_BLOCKED);
	struct wf_result r;

	p.complaint_by_operator = true;
	c.blocked_at = NOW - 60;
	wf_apply(&p, &c, WF_EV_RETEST_CLEAN, NOW, &r);
	CHECK(!c.blocked);
	CHECK_STR(wf_state_name(c.state), "resolved");
}

TEST(suspicious_sets_reminder_timer_not_block)
{
	struct wf_case c = case_in(WF_NONE);
	struct wf_result r;

	wf_apply(&policy, &c, WF_EV_ACCEPTED_NOT_RELAYED, NOW, &r);
	CHECK(!c.blocked);
	CHECK_INT(c.next_timer_at, NOW + policy.reminder_after);
	CHECK_INT(c.next_timer, WF_EV_TIMER_REMINDER);
}

TEST(reminders_stop_after_max_reminders)
{
	struct wf_case c = case_in(WF_NOTIFIED);
	struct wf_result r;
	int mails = 0;

	for (int i = 0; i < policy.max_reminders + 2; i++) {
		wf_apply(&policy, &c, WF_EV_TIMER_REMINDER, NOW + i, &r);
		if (c.next_timer_at == 0)
			break;
		mails++;
	}
	/* The last reminder clears the timer; the runner fires no further one. */
	CHECK_INT(c.reminders, policy.max_reminders);
	CHECK_INT(c.next_timer_at, 0);
	CHECK_INT(mails, policy.max_reminders - 1);
}

TEST(refusal_leaves_case_untouched)
{
	struct wf_case c = case_in(WF_BLOCKED), before;
	struct wf_result r;

	c.next_timer_at = NOW + 7;
	c.next_timer = WF_EV_TIMER_ESCALATION;
	before = c;
	wf_apply(&policy, &c, WF_EV_OP_BLOCK, NOW, &r);
	CHECK(!r.accepted);
	CHECK_INT(r.nactions, 0);
	CHECK_INT(c.state, before.state);
	CHECK_INT(c.blocked, before.blocked);
	CHECK_INT(c.next_timer_at, before.next_timer_at);
	CHECK_INT(c.next_timer, before.next_timer);
	CHECK_INT(c.reminders, before.reminders);
}

TEST(relay_on_resolved_address_opens_new_case)
{
	/* The runner looks up only active cases, so a resolved address is NONE. */
	CHECK_INT(wf_classify(WF_NONE, WF_PROBE_RELAY_CONFIRMED, false), WF_EV_RELAY_CONFIRMED);
	CHECK_INT(wf_classify(WF_RESOLVED, WF_PROBE_RELAY_CONFIRMED, true), WF_EV_RELAY_CONFIRMED);
}

TEST(classify_clean_only_matters_with_active_case)
{
	CHECK_INT(wf_classify(WF_NONE, WF_PROBE_CLEAN, false), -1);
	CHECK_INT(wf_classify(WF_BLOCKED, WF_PROBE_CLEAN, false), WF_EV_RETEST_CLEAN);
	CHECK_INT(wf_classify(WF_NOTIFIED, WF_PROBE_CLEAN, true), WF_EV_RETEST_CLEAN);
	CHECK_INT(wf_classify(WF_BLOCKED, WF_PROBE_INCONCLUSIVE, true), -1);
}

TEST(classify_requested_retest_still_open)
{
	CHECK_INT(wf_classify(WF_BLOCKED, WF_PROBE_RELAY_CONFIRMED, true), WF_EV_RETEST_OPEN);
	CHECK_INT(wf_classify(WF_ESCALATED, WF_PROBE_BACKSCATTER, true), WF_EV_RETEST_OPEN);
	CHECK_INT(wf_classify(WF_NOTIFIED, WF_PROBE_ACCEPTED_NOT_RELAYED, true), WF_EV_RETEST_OPEN);
}

TEST(classify_relay_on_unblocked_case_is_a_finding)
{
	CHECK_INT(wf_classify(WF_NOTIFIED, WF_PROBE_RELAY_CONFIRMED, true), WF_EV_RELAY_CONFIRMED);
	CHECK_INT(wf_classify(WF_OPEN, WF_PROBE_RELAY_CONFIRMED, false), WF_EV_RELAY_CONFIRMED);
}

TEST(classify_periodic_probe_is_a_finding)
{
	CHECK_INT(wf_classify(WF_BLOCKED, WF_PROBE_RELAY_CONFIRMED, false), WF_EV_RELAY_CONFIRMED);
	CHECK_INT(wf_classify(WF_NOTIFIED, WF_PROBE_ACCEPTED_NOT_RELAYED, false),
	          WF_EV_ACCEPTED_NOT_RELAYED);
}

TEST(probe_outcome_from_verdicts)
{
	CHECK_INT(wf_probe_outcome(VERDICT_RELAY_CONFIRMED, BACKSCATTER_CONFIRMED), WF_PROBE_RELAY_CONFIRMED);
	CHECK_INT(wf_probe_outcome(VERDICT_ACCEPTED_NOT_RELAYED, BACKSCATTER_UNTESTED),
	          WF_PROBE_ACCEPTED_NOT_RELAYED);
	CHECK_INT(wf_probe_outcome(VERDICT_CLOSED, BACKSCATTER_CONFIRMED), WF_PROBE_BACKSCATTER);
	CHECK_INT(wf_probe_outcome(VERDICT_CLOSED, BACKSCATTER_REFUSED), WF_PROBE_CLEAN);
	CHECK_INT(wf_probe_outcome(VERDICT_NO_SMTP, BACKSCATTER_UNTESTED), WF_PROBE_CLEAN);
	CHECK_INT(wf_probe_outcome(VERDICT_TEMPFAIL, BACKSCATTER_UNTESTED), WF_PROBE_INCONCLUSIVE);
	CHECK_INT(wf_probe_outcome(VERDICT_ERROR, BACKSCATTER_CONFIRMED), WF_PROBE_BACKSCATTER);
}

TEST(names_round_trip)
{
	for (int s = 0; s < WF_STATE__COUNT; s++) {
		enum wf_state back;

		CHECK_INT(wf_state_parse(wf_state_name((enum wf_state)s), &back), 0);
		CHECK_INT(back, s);
	}
	for (int e = 0; e < WF_EV__COUNT; e++) {
		enum wf_event back;

		CHECK_INT(wf_event_parse(wf_event_name((enum wf_event)e), &back), 0);
		CHECK_INT(back, e);
	}
	for (int m = 0; m < WF_MAIL__COUNT; m++) {
		enum wf_mail back;

		CHECK_INT(wf_mail_parse(wf_mail_name((enum wf_mail)m), &back), 0);
		CHECK_INT(back, m);
	}
	CHECK(wf_state_parse("bogus", &(enum wf_state){0}) < 0);
}

int
main(void)
{
	test_suite = "workflow";
	wf_policy_defaults(&policy);
	run_rows();
	RUN(unlisted_pairs_are_refused);
	RUN(relay_sets_blocked_and_escalation_timer);
	RUN(clean_retest_of_blocked_case_unblocks_and_clears_timer);
	RUN(complaint_block_waits_for_an_operator_after_clean_retest);
	RUN(complaint_block_lasts_complaint_min_block);
	RUN(relay_block_is_lifted_by_clean_retest_whatever_the_complaint_policy);
	RUN(suspicious_sets_reminder_timer_not_block);
	RUN(reminders_stop_after_max_reminders);
	RUN(refusal_leaves_case_untouched);
	RUN(relay_on_resolved_address_opens_new_case);
	RUN(classify_clean_only_matters_with_active_case);
	RUN(classify_requested_retest_still_open);
	RUN(classify_relay_on_unblocked_case_is_a_finding);
	RUN(classify_periodic_probe_is_a_finding);
	RUN(probe_outcome_from_verdicts);
	RUN(names_round_trip);
	return test_summary();
}
