#!/bin/bash
# A complaint blocks at once, before any test, and schedules a priority
# re-test; operator commands from case_commands are applied once with their
# actor; refused commands say why.
SUITE=workflow_complaint
. "$(dirname "$0")/workflow_lib.sh"

WF_LOCALE=de
wf_setup
wf_capture
wf_config
wf_start

sql "INSERT INTO complaints (address, source, actor) VALUES ('$WF_ADDR', 'spamcop', 'token:desk')" >/dev/null
wait_for 15 wf_eq "wf_applied block" 1 && wait_for 15 wf_eq wf_mails 1
check_eq complaint_blocks_at_once "$(wf_case "state || ' ' || finding || ' ' || blocked")" "blocked complaint true"
case_id=$(wf_case id)
check_eq complaint_processed "$(sql "SELECT (processed_at IS NOT NULL) || ' ' || case_id FROM complaints")" "true $case_id"
check_eq complaint_schedules_retest "$(sql "SELECT count(*) FROM retest_requests WHERE case_id = $case_id AND done_at IS NULL")" 1
check_eq target_priority_retest "$(sql "SELECT priority || ' ' || (next_probe_at <= now()) FROM targets")" "3 true"
check_eq complaint_actor "$(sql "SELECT actor FROM case_events WHERE event = 'complaint'")" "token:desk"
mail=$(wf_mail 1)
check_contains complaint_mail_german "$mail" "Content-Language: de"
check_contains complaint_mail_kind "$mail" "X-Relayaudit-Kind: complaint_blocked"
check_contains complaint_mail_german_text "$(wf_mail_text 1)" "Spam von Ihrer Adresse 192.0.2.25"

# The requested test finds an open relay: "still open", no second block.
wf_probe relay_confirmed >/dev/null
wait_for 15 wf_eq wf_mails 2
check_contains retest_still_open_mail "$(wf_mail 2)" "X-Relayaudit-Kind: still_open"
check_eq still_blocked "$(wf_case state) $(wf_applied block)" "blocked 1"

# Operator commands, as the API writes them.
sql "INSERT INTO case_commands (case_id, command, actor) VALUES ($case_id, 'block', 'token:alice')" >/dev/null
sql "INSERT INTO case_commands (case_id, command, note, actor) VALUES ($case_id, 'note', 'called the customer', 'token:alice')" >/dev/null
sql "INSERT INTO case_commands (case_id, command, actor) VALUES ($case_id, 'unblock', 'token:bob')" >/dev/null
wait_for 15 wf_eq "sql 'SELECT count(*) FROM case_commands WHERE applied_at IS NULL'" 0
check_eq refused_block_says_why "$(sql "SELECT result FROM case_commands WHERE command = 'block'")" "refused: already blocked"
check_eq note_applied "$(sql "SELECT result FROM case_commands WHERE command = 'note'")" ok
check_eq note_in_event_log "$(sql "SELECT actor || ' ' || (detail->>'note') FROM case_events WHERE event = 'note'")" \
	"token:alice called the customer"
check_eq unblock_applied "$(sql "SELECT result FROM case_commands WHERE command = 'unblock'")" ok
wait_for 15 wf_eq "wf_applied unblock" 1
check_eq operator_unblock "$(wf_case "state || ' ' || blocked") $(wf_applied unblock)" "notified false 1"
check_eq unblock_actor "$(sql "SELECT actor || ' ' || from_state || '>' || to_state FROM case_events WHERE event = 'unblock'")" \
	"token:bob blocked>notified"

sql "INSERT INTO case_commands (case_id, command, actor) VALUES ($case_id, 'close', 'token:bob')" >/dev/null
sql "INSERT INTO case_commands (case_id, command, actor) VALUES ($case_id, 'reopen', 'token:bob')" >/dev/null
wait_for 15 wf_eq "sql 'SELECT count(*) FROM case_commands WHERE applied_at IS NULL'" 0
check_eq close_then_reopen "$(wf_case "state || ' ' || (closed_at IS NULL)")" "open true"
check_eq command_events "$(sql "SELECT string_agg(event || ':' || to_state, ',' ORDER BY id) FROM case_events
	WHERE case_id = $case_id AND event IN ('complaint', 'retest_open', 'note', 'unblock', 'close', 'reopen')")" \
	"complaint:blocked,retest_open:blocked,note:blocked,unblock:notified,close:closed,reopen:open"
# An excluded target is never probed, so a complaint on it blocks but requests
# no re-test (the one re-test rule of db/retests.c, as the API and the link).
sql "INSERT INTO targets (customer_id, address, excluded, next_probe_at)
     SELECT id, '192.0.2.26', true, now() + interval '7 days' FROM customers WHERE ext_id = 'cust-1'" >/dev/null
sql "INSERT INTO complaints (address, source, actor) VALUES ('192.0.2.26', 'spamcop', 'token:desk')" >/dev/null
wait_for 15 wf_eq "sql \"SELECT count(*) FROM complaints WHERE processed_at IS NULL\"" 0
check_eq excluded_complaint_blocks "$(sql "SELECT state || ' ' || blocked FROM cases WHERE address = '192.0.2.26'")" "blocked true"
check_eq excluded_complaint_requests_no_retest \
	"$(sql "SELECT count(*) || ' ' || (SELECT priority FROM targets WHERE address = '192.0.2.26') FROM retest_requests r JOIN targets t ON t.id = r.target_id WHERE t.address = '192.0.2.26'")" "0 0"
wf_stop
