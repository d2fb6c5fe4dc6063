#!/bin/bash
# An unresolved blocked case escalates after escalate_after (shortened to
# 2 s here): one escalate hook call and one escalation mail, once.
SUITE=workflow_escalation
. "$(dirname "$0")/workflow_lib.sh"

wf_setup
wf_capture
wf_config escalate_after=2s
wf_start

wf_probe relay_confirmed >/dev/null
wait_for 15 wf_eq "wf_case state" blocked
check_eq blocked_first "$(wf_case state)" blocked
wait_for 20 wf_eq "wf_case state" escalated && wait_for 15 wf_eq "wf_applied escalate" 1 &&
	wait_for 15 wf_eq wf_mails 2
check_eq escalates_after_delay "$(wf_case "state || ' ' || blocked || ' ' || (escalated_at - blocked_at >= interval '2 seconds')")" \
	"escalated true true"
check_eq one_escalate_hook_call "$(wf_applied escalate)" 1
check_eq escalation_mail "$(grep -l 'X-Relayaudit-Kind: escalation' "$WF_MAILDIR"/*.eml | wc -l)" 1
check_eq timer_cleared "$(wf_case "coalesce(next_timer_at::text, 'none')")" none
sleep 3
check_eq escalates_once "$(wf_applied escalate) $(wf_mails)" "1 2"
check_eq escalation_event "$(sql "SELECT from_state || '>' || to_state || ' ' || actor FROM case_events WHERE event = 'escalation'")" \
	"blocked>escalated system"

# A clean re-test of the escalated case still resolves and unblocks it.
wf_probe closed >/dev/null
wait_for 15 wf_eq "wf_applied unblock" 1 && wait_for 15 wf_eq wf_mails 3
check_eq escalated_clean_resolves "$(wf_case "state || ' ' || blocked")" "resolved false"
wf_stop
