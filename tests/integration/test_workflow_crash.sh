#!/bin/bash
# kill -9 of the executor mid-action still gives exactly one hook application
# and exactly one mail: (a) killed while the block hook runs, (b) killed
# after the final dot went to the smarthost but before its answer, (c)
# killed before the dot (the mail is then sent by the restarted runner).
SUITE=workflow_crash
. "$(dirname "$0")/workflow_lib.sh"

# The hook applies through log-only, then lingers on its first call so the
# runner can be killed before it records the result.
cat >"$TEST_TMP/linger-hook" <<HOOK
#!/bin/sh
"$ROOT/deploy/enforcers/log-only" "\$@" || exit \$?
if [ ! -e "$TEST_TMP/lingered" ]; then
	touch "$TEST_TMP/lingered"
	sleep 3
fi
exit 0
HOOK
chmod 755 "$TEST_TMP/linger-hook"
WF_HOOK=$TEST_TMP/linger-hook

wf_setup
wf_capture
wf_config
wf_start

# (a) killed while the hook runs
wf_probe relay_confirmed >/dev/null
wait_for 15 test -e "$TEST_TMP/lingered"
wf_kill9
check_eq hook_applied_before_kill "$(wf_applied block)" 1
check_eq action_left_running "$(sql "SELECT state FROM enforcement_actions")" running
wf_start
wait_for 20 wf_eq "sql 'SELECT state FROM enforcement_actions'" done
wait_for 15 wf_eq wf_mails 1
check_eq block_applied_once_after_crash "$(wf_applied block)" 1
check_eq hook_called_again_as_repeat "$(grep -c ' repeat block ' "$WF_ENFORCER_LOG")" 1
check_eq action_attempts "$(sql "SELECT state || ' ' || attempts FROM enforcement_actions")" "done 2"
check_eq one_mail_after_hook_crash "$(wf_mails)" 1
wf_stop

# (b) killed between the final dot and the smarthost's answer
wf_capture --stall dot:8
sql "INSERT INTO retest_requests (target_id, requested_by) SELECT id, 'customer-link' FROM targets" >/dev/null
wf_probe relay_confirmed >/dev/null
wf_start
wait_for 20 wf_eq wf_mails 2 &&
	wait_for 10 wf_eq "sql \"SELECT handoff_at IS NOT NULL FROM outbox WHERE kind = 'still_open'\"" t
check_eq handoff_recorded_before_dot "$(sql "SELECT state || ' ' || (handoff_at IS NOT NULL) FROM outbox WHERE kind = 'still_open'")" \
	"running true"
wf_kill9
wf_start
wait_for 20 wf_eq "sql \"SELECT state FROM outbox WHERE kind = 'still_open'\"" done
sleep 2
check_eq not_resent_after_handoff "$(wf_mails)" 2
check_contains handoff_note "$(sql "SELECT last_error FROM outbox WHERE kind = 'still_open'")" "hand-off unconfirmed"
wf_stop

# (c) killed before the dot: the message was never taken, so it is sent once later
wf_capture --stall rcpt:8
sql "INSERT INTO retest_requests (target_id, requested_by) SELECT id, 'customer-link' FROM targets" >/dev/null
wf_probe relay_confirmed >/dev/null
wf_start
wait_for 20 wf_eq "sql \"SELECT count(*) FROM outbox WHERE state = 'running' AND handoff_at IS NULL\"" 1
sleep 1
wf_kill9
check_eq nothing_captured_before_dot "$(wf_mails)" 2
wf_start
wait_for 20 wf_eq wf_mails 3 &&
	wait_for 10 wf_eq "sql \"SELECT count(*) FROM outbox WHERE state = 'done'\"" 3
sleep 2
check_eq sent_once_after_crash "$(wf_mails)" 3
check_eq resent_outbox_row "$(sql "SELECT state || ' ' || attempts || ' ' || coalesce(last_error, '-') FROM outbox ORDER BY id DESC LIMIT 1")" \
	"done 2 -"
check_eq totals "$(wf_applied block) $(sql 'SELECT count(*) FROM outbox') $(wf_mails)" "1 3 3"
wf_stop
