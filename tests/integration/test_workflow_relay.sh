#!/bin/bash
# An open relay found -> one mail with the evidence and a re-test link, one
# block hook call -> a re-test after the fix -> one unblock call and one
# "resolved" mail; a relay found again on the resolved address opens a new case.
SUITE=workflow_relay
. "$(dirname "$0")/workflow_lib.sh"

wf_setup
wf_capture
wf_config
wf_start

# A sweep's worth of quiet results is judged in bulk and opens nothing.
sql "INSERT INTO probes (address, port, started_at, finished_at, verdict, backscatter)
     SELECT ('10.9.' || (i / 250) || '.' || (i % 250 + 1))::inet, 25, now(), now(),
            (ARRAY['closed', 'no_smtp', 'tempfail', 'rejected_banner'])[i % 4 + 1]::verdict, 'refused'
       FROM generate_series(0, 4999) i" >/dev/null
wait_for 20 wf_eq "sql 'SELECT count(*) FROM probes WHERE workflow_done_at IS NULL'" 0
check_eq quiet_sweep_judged "$(sql "SELECT count(*) FROM probes WHERE workflow_done_at IS NOT NULL") $(sql "SELECT count(*) FROM cases")" "5000 0"

probe=$(wf_probe relay_confirmed)
wait_for 15 wf_eq "wf_applied block" 1 && wait_for 15 wf_eq wf_mails 1
check_eq relay_opens_blocked_case "$(wf_case "state || ' ' || finding || ' ' || blocked")" \
	"blocked relay_confirmed true"
case_id=$(wf_case id)
check_eq one_block_hook_call "$(wf_applied block)" 1
check_eq one_mail_captured "$(wf_mails)" 1

mail=$(wf_mail 1)
text=$(wf_mail_text 1)
check_contains mail_to_customer "$mail" "X-Capture-To: postmaster@customer.example"
check_contains mail_envelope_from "$mail" "X-Capture-From: abuse@isp.example"
check_contains mail_auto_submitted "$mail" "Auto-Submitted: auto-generated"
check_contains mail_kind_relay_blocked "$mail" "X-Relayaudit-Kind: relay_blocked"
check_contains mail_subject "$mail" "Subject: Open mail relay at 192.0.2.25: blocked (case #$case_id)"
msgid=$(sql "SELECT message_id FROM outbox WHERE case_id = $case_id")
check_contains mail_message_id_is_the_outbox_one "$mail" "Message-ID: $msgid"
check_contains evidence_trick "$text" "Test:    an outside sender to an outside address hidden with"
check_contains evidence_transcript "$text" "C: RCPT TO:<rt0123@sink.relayaudit.test%customer.example>"
check_contains evidence_address "$text" "Address: 192.0.2.25
  Port:    25"
check_contains fix_postfix "$(wf_mail_flat 1)" "set allow_percent_hack = no"
check_contains flush_queue_reminder "$text" "postsuper -d ALL"
check_contains retest_link "$text" "https://isp.example/r/$case_id."
check_eq probe_consumed "$(sql "SELECT workflow_done_at IS NOT NULL FROM probes WHERE id = $probe")" t
check_eq opening_event "$(sql "SELECT coalesce(from_state::text, '-') || '>' || to_state || ' ' || actor
	FROM case_events WHERE case_id = $case_id AND event = 'relay_confirmed'")" "->blocked system"
wait_for 10 wf_eq "sql \"SELECT state FROM outbox WHERE case_id = $case_id\"" done
check_eq outbox_done "$(sql "SELECT state || ' ' || attempts FROM outbox WHERE case_id = $case_id")" "done 1"
check_eq escalation_timer_set "$(wf_case "next_timer_kind || ' ' || (next_timer_at > now() + interval '2 days')")" "escalation true"

# The customer fixes it and follows the link: the API records the request,
# the scheduler probes, the daemon writes a clean result.
sql "INSERT INTO retest_requests (target_id, case_id, requested_by)
     SELECT target_id, id, 'customer-link' FROM cases WHERE id = $case_id" >/dev/null
wf_probe closed >/dev/null
wait_for 15 wf_eq "wf_applied unblock" 1 && wait_for 15 wf_eq wf_mails 2
check_eq clean_retest_resolves "$(wf_case "state || ' ' || blocked || ' ' || (resolved_at IS NOT NULL)" "$case_id")" \
	"resolved false true"
check_eq one_unblock_hook_call "$(wf_applied unblock)" 1
check_eq resolved_mail "$(wf_mails)" 2
check_contains resolved_mail_kind "$(wf_mail 2)" "X-Relayaudit-Kind: resolved"
check_contains resolved_mail_says_unblocked "$(wf_mail_text 2)" "has been lifted"
check_eq retest_request_answered "$(sql "SELECT count(*) FROM retest_requests WHERE done_at IS NOT NULL AND probe_id IS NOT NULL")" 1
check_eq event_log "$(sql "SELECT string_agg(event || ':' || to_state, ',' ORDER BY id) FROM case_events
	WHERE case_id = $case_id AND event NOT IN ('mail_sent', 'enforcer_applied')")" \
	"relay_confirmed:blocked,retest_clean:resolved"
check_eq executor_events "$(sql "SELECT count(*) FILTER (WHERE event = 'mail_sent') || ' ' ||
	count(*) FILTER (WHERE event = 'enforcer_applied') FROM case_events WHERE case_id = $case_id")" "2 2"

# A later periodic probe that is still clean changes nothing.
wf_probe closed >/dev/null
sleep 2
check_eq clean_probe_without_case_is_quiet "$(sql "SELECT count(*) FROM cases")" 1

# Found again: a new case, blocked again.
wf_probe relay_confirmed >/dev/null
wait_for 15 wf_eq "wf_applied block" 2 && wait_for 15 wf_eq wf_mails 3
check_eq relay_again_opens_new_case "$(sql "SELECT count(*) || ' ' || max(id) FILTER (WHERE state = 'blocked') FROM cases")" \
	"2 $((case_id + 1))"
check_eq no_stray_actions "$(wf_applied block) $(wf_applied unblock) $(wf_mails)" "2 1 3"
wf_stop
