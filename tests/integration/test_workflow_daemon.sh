#!/bin/bash
# The workflow as a role of relayauditd (its own thread, connection and
# mail loop): a relay probe row is notified and blocked, NOTIFY wakes it at
# once, and TERM stops the daemon cleanly.
SUITE=workflow_daemon
. "$(dirname "$0")/workflow_lib.sh"

wf_setup
wf_capture
wf_config roles=workflow poll_interval=30s
"$RELAYAUDITD" -c "$WF_CONF" >"$TEST_TMP/daemon.log" 2>&1 &
DAEMON=$!
BG_PIDS+=("$DAEMON")
wait_for 10 grep -q workflow_started "$TEST_TMP/daemon.log"

# poll_interval is 30 s: only the NOTIFY can make this quick.
start=$SECONDS
wf_probe relay_confirmed >/dev/null
sql "NOTIFY relayaudit_workflow, 'probe'" >/dev/null
wait_for 15 wf_eq "wf_applied block" 1 && wait_for 15 wf_eq wf_mails 1
check_eq daemon_role_blocks_and_notifies "$(wf_case state) $(wf_applied block) $(wf_mails)" "blocked 1 1"
check_eq woken_by_notify "$((SECONDS - start < 10))" 1

kill -TERM "$DAEMON"
wait "$DAEMON"
check_eq daemon_stops_cleanly "$?" 0
check_contains workflow_stop_logged "$(cat "$TEST_TMP/daemon.log")" "workflow_stopped"
