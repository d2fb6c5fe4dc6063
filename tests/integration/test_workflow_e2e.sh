#!/bin/bash
# The whole chain in one daemon (probe, sink, workflow roles): a simulated
# open relay is probed, the relayed test message reaches the sink, the case
# notifies and blocks; after the "fix" (the simulator turns closed) a
# re-test resolves it and unblocks.
SUITE=workflow_e2e
WF_ADDR=127.0.46.10
. "$(dirname "$0")/workflow_lib.sh"
SINK=127.0.46.1:2526

wf_setup
sql "UPDATE targets SET ports = '{2525}', next_probe_at = now()" >/dev/null
wf_capture
wf_config roles=probe,sink,workflow sink_listen=$SINK probe_ports=2525 confirm_window=20s \
	probe_timeout=5s greylist_wait=1s
start_sim() {
	"$RELAYSIM" "$WF_ADDR:2525=$1" --sink "$SINK" >>"$TEST_TMP/sim.log" 2>&1 &
	SIM_PID=$!
	BG_PIDS+=("$SIM_PID")
	wait_for 5 bash -c "exec 3<>/dev/tcp/${WF_ADDR}/2525" 2>/dev/null
}
start_sim open
"$RELAYAUDITD" -c "$WF_CONF" >"$TEST_TMP/daemon.log" 2>&1 &
DAEMON=$!
BG_PIDS+=("$DAEMON")
wait_for 10 grep -q "event=started" "$TEST_TMP/daemon.log"
if grep -q "role_not_built role=sink" "$TEST_TMP/daemon.log"; then
	echo "SKIP $SUITE: the sink role is not built in this tree"
	exit 0
fi

wait_for 60 wf_eq "wf_applied block" 1 && wait_for 20 wf_eq wf_mails 1
check_eq open_relay_case_blocked "$(wf_case "state || ' ' || finding")" "blocked relay_confirmed"
check_eq e2e_one_block "$(wf_applied block)" 1
check_eq e2e_one_mail "$(wf_mails)" 1
text=$(wf_mail_text 1)
# Which trick's message reached the sink first varies; the mail names it in words.
trick_line=$(grep -m1 "^  Test:" <<<"$text")
if [[ $trick_line =~ ^"  Test:    "an?" ".*"sender".*" to "an?" " ]] && [[ $trick_line != *"$(wf_case trick)"* ]]; then
	pass e2e_mail_names_the_trick_in_words
else
	fail e2e_mail_names_the_trick_in_words "got '$trick_line' for $(wf_case trick), want it in words"
fi
check_contains e2e_mail_says_the_verdict "$text" "Result:  open relay, proven"
check_contains e2e_mail_has_the_exchange_to_the_final_dot "$text" "  C: DATA
  S: 354"
check_contains e2e_mail_has_the_reply_after_the_dot "$text" "bytes>
  S: 250 2.0.0 Ok: queued"
check_contains e2e_mail_says_when_the_sink_got_it "$(wf_mail_flat 1)" "Our receiving server got this test message at"
check_contains e2e_mail_says_from_where "$(wf_mail_flat 1)" "from 127.0.0.1: your server passed it on"
if grep -qE "rt[0-9a-f]{16}" <<<"$text"; then fail e2e_mail_tokens_abbreviated "a whole token in the mail"; else pass e2e_mail_tokens_abbreviated; fi
check_contains e2e_mail_has_link "$text" "https://isp.example/r/$(wf_case id)."

# A re-test while the relay is still open: the daemon's probe writer records
# the answering probe and the workflow answers the request with "still open".
sql "INSERT INTO retest_requests (target_id, case_id, requested_by) SELECT target_id, id, 'customer-link' FROM cases" >/dev/null
sql "UPDATE targets SET next_probe_at = now(), priority = 3" >/dev/null
wait_for 60 wf_eq wf_mails 2
check_contains e2e_still_open_mail "$(wf_mail 2)" "X-Relayaudit-Kind: still_open"
check_eq e2e_still_open_request_answered "$(sql "SELECT count(*) FROM retest_requests WHERE done_at IS NOT NULL AND probe_id IS NOT NULL")" 1
check_eq e2e_still_open_stays_blocked "$(wf_case "state || ' ' || blocked")" "blocked true"

# The customer closes the relay and asks for a re-test.
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
start_sim closed
sql "INSERT INTO retest_requests (target_id, case_id, requested_by) SELECT target_id, id, 'customer-link' FROM cases" >/dev/null
sql "UPDATE targets SET next_probe_at = now(), priority = 3" >/dev/null
wait_for 60 wf_eq "wf_applied unblock" 1 && wait_for 20 wf_eq wf_mails 3
check_eq e2e_resolved "$(wf_case "state || ' ' || blocked")" "resolved false"
check_contains e2e_resolved_mail "$(wf_mail 3)" "X-Relayaudit-Kind: resolved"
kill -TERM "$DAEMON"
wait "$DAEMON"
check_eq e2e_daemon_stops_cleanly "$?" 0
