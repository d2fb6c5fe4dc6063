#!/bin/bash
# A failing enforcer hook is retried with backoff and the case shows it;
# a temporary SMTP failure is retried, a permanent one is recorded once and
# never retried, and a message that keeps failing gives up after
# mail_max_attempts.
SUITE=workflow_retry
. "$(dirname "$0")/workflow_lib.sh"

# Fails its first two calls, like a firewall API that is briefly down.
cat >"$TEST_TMP/flaky-hook" <<HOOK
#!/bin/sh
n=\$(cat "$TEST_TMP/calls" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$TEST_TMP/calls"
if [ "\$n" -lt 2 ]; then
	echo "firewall API busy" >&2
	exit 1
fi
exec "$ROOT/deploy/enforcers/log-only" "\$@"
HOOK
chmod 755 "$TEST_TMP/flaky-hook"
WF_HOOK=$TEST_TMP/flaky-hook

wf_setup
wf_capture --reply rcpt:451:1
wf_config mail_max_attempts=2
wf_start

wf_probe relay_confirmed >/dev/null
wait_for 15 wf_eq "wf_case 'enforcement_error IS NOT NULL'" t
check_contains case_shows_failing_hook "$(wf_case enforcement_error)" "block failing (attempt 1): exit 1: firewall API busy"
check_eq failure_in_event_log "$(sql "SELECT count(*) FROM case_events WHERE event = 'enforcer_failed'")" 1
check_eq action_retried_with_error "$(sql "SELECT (state IN ('pending', 'running')) || ' ' || (last_error IS NOT NULL) FROM enforcement_actions")" "true true"
wait_for 20 wf_eq "sql 'SELECT state FROM enforcement_actions'" done
check_eq hook_retried_until_applied "$(sql "SELECT state || ' ' || attempts FROM enforcement_actions")" "done 3"
check_eq hook_calls "$(cat "$TEST_TMP/calls") $(wf_applied block)" "3 1"
check_eq case_error_cleared "$(wf_case "coalesce(enforcement_error, 'none')")" none
check_eq backoff_grows "$(sql "SELECT count(*) FROM case_events WHERE event = 'enforcer_failed'")" 1

# The first delivery got 451 at RCPT: deferred, then delivered.
wait_for 20 wf_eq "sql \"SELECT state FROM outbox WHERE kind = 'relay_blocked'\"" done
check_eq tempfail_retried "$(sql "SELECT state || ' ' || attempts FROM outbox WHERE kind = 'relay_blocked'")" "done 2"
check_eq one_mail_after_tempfail "$(wf_mails)" 1

# A permanent refusal is recorded and never retried.
wf_capture --reply rcpt:550
sql "INSERT INTO retest_requests (target_id, requested_by) SELECT id, 'customer-link' FROM targets" >/dev/null
wf_probe relay_confirmed >/dev/null
wait_for 20 wf_eq "sql \"SELECT state FROM outbox WHERE kind = 'still_open'\"" failed
sleep 3
check_eq permfail_not_retried "$(sql "SELECT state || ' ' || attempts FROM outbox WHERE kind = 'still_open'")" "failed 1"
check_contains permfail_reason "$(sql "SELECT last_error FROM outbox WHERE kind = 'still_open'")" "RCPT TO refused: capture says no"
check_eq permfail_in_case_log "$(sql "SELECT count(*) FROM case_events WHERE event = 'mail_failed'")" 1

# Temporary failures forever: given up after mail_max_attempts (2).
wf_capture --reply mail:451
sql "INSERT INTO retest_requests (target_id, requested_by) SELECT id, 'customer-link' FROM targets" >/dev/null
wf_probe relay_confirmed >/dev/null
wait_for 20 wf_eq "sql \"SELECT count(*) FROM outbox WHERE state = 'failed'\"" 2
check_contains gives_up_after_max_attempts "$(sql "SELECT attempts || ' ' || last_error FROM outbox ORDER BY id DESC LIMIT 1")" \
	"2 gave up after 2 attempts: MAIL FROM refused"
check_eq mails_total "$(wf_mails)" 1
wf_stop
