#!/bin/bash
# Who lifts a complaint block, through relayauditd (probe, workflow, api)
# and relaysim: a complaint filed through the API blocks at once and its
# re-test finds the server clean. With complaint_unblock = operator (the
# default) the block stays, the clean result is in the case's events for the
# operator, the customer's page says an operator decides, and the operator's
# unblock lifts it. With after_clean_retest and complaint_min_block = 0 the
# clean re-test resolves the case and lifts the block.
SUITE=workflow_complaint_policy
. "$(dirname "$0")/workflow_lib.sh"
. "$(dirname "$0")/api_lib.sh"
IP=127.0.48.1
A1=127.0.48.10 A2=127.0.48.11

"$RELAYCTL" migrate >"$TEST_TMP/$SUITE.migrate.log" 2>&1 || { fail setup "relayctl migrate failed"; exit 1; }
sql "INSERT INTO customers (ext_id, name, contact_email, locale) VALUES ('c1', 'One', 'postmaster@one.example', 'en');
     INSERT INTO targets (customer_id, address, ports, next_probe_at)
       SELECT id, a::inet, '{2525}', now() + interval '7 days' FROM customers, unnest(ARRAY['$A1', '$A2']) a" >/dev/null
"$RELAYSIM" "$A1:2525=closed" "$A2:2525=closed" >"$TEST_TMP/sim.out" 2>"$TEST_TMP/sim.err" &
BG_PIDS+=($!)
wait_for 5 grep -qx ready "$TEST_TMP/sim.out" || { fail setup "relaysim not ready"; exit 1; }

start_daemon() { # extra config lines
	API_BASE=http://$IP:$API_PORT
	wf_config roles=probe,workflow,api probe_ports=2525 probe_timeout=5s greylist_wait=1s \
		smarthost= outbox_dir=$TEST_TMP/outbox api_listen=$IP:$API_PORT api_threads=2 \
		retest_url=$API_BASE/r/ retest_min_interval=0 "$@"
	API_CONF=$WF_CONF
	"$RELAYAUDITD" -c "$WF_CONF" >>"$TEST_TMP/daemon.log" 2>&1 &
	DAEMON=$!
	BG_PIDS+=("$DAEMON")
	wait_for 15 curl -sf -o /dev/null "$API_BASE/v1/health" ||
		{ fail "daemon starts" "$(tail -5 "$TEST_TMP/daemon.log")"; exit 1; }
}
stop_daemon() { kill -TERM "$DAEMON"; wait "$DAEMON"; check_eq "daemon_stops_cleanly_$1" "$?" 0; }
case_of() { sql "SELECT $2 FROM cases WHERE address = '$1' ORDER BY id DESC LIMIT 1"; }
retest_judged() { [ "$(sql "SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.address = '$1' AND e.event = 'retest_clean'")" -ge 1 ]; }

start_daemon
api_tokens
check_req "complaint_filed" 202 POST /v1/complaints "$OPERATOR" "{\"address\":\"$A1\",\"source\":\"test-fbl\"}"
wait_for 20 wf_eq "wf_applied block" 1
check_eq complaint_blocks "$(case_of $A1 "state || ' ' || blocked")" "blocked true"
wait_for 30 retest_judged $A1 || fail operator_policy_retest_judged "no retest_clean event after 30 s"
check_eq operator_policy_keeps_the_block "$(case_of $A1 "state || ' ' || blocked") $(wf_applied unblock)" "blocked true 0"
check_eq operator_sees_the_clean_retest "$(sql "SELECT from_state || '>' || to_state FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.address = '$A1' AND e.event = 'retest_clean'")" "blocked>blocked"
mailed=$(grep -rhoE "$API_BASE/r/[0-9]+\.[0-9]+\.[0-9a-f]+" "$TEST_TMP/outbox" | head -1)
check_contains complaint_mail_says_an_operator_decides "$(cat "$TEST_TMP"/outbox/*complaint_blocked.eml | tr -d '=\r\n')" "abuse desk lifts it"
status=$(curl -s "$mailed/status")
check_eq page_says_clean_but_kept "$(jq -r .state <<<"$status"):$(jq -r .can_request <<<"$status")" "clean:false"
check_contains page_explains_the_operator_decides "$(jq -r .message <<<"$status")" "our abuse desk lifts the block"
CASE=$(case_of $A1 id)
check_req "operator_unblocks" 202 POST "/v1/cases/$CASE/actions" "$OPERATOR" '{"action":"unblock"}'
wait_for 20 wf_eq "wf_applied unblock" 1
check_eq operator_unblock_lifts_it "$(case_of $A1 "blocked") $(wf_applied unblock)" "f 1"
stop_daemon operator

start_daemon complaint_unblock=after_clean_retest complaint_min_block=0
check_req "second_complaint_filed" 202 POST /v1/complaints "$OPERATOR" "{\"address\":\"$A2\"}"
resolved() { [ "$(case_of $A2 state)" = resolved ]; }
wait_for 40 resolved && pass after_clean_retest_resolves || fail after_clean_retest_resolves "got $(case_of $A2 "state || ' ' || blocked")"
wait_for 20 wf_eq "wf_applied unblock" 2
check_eq after_clean_retest_lifts_the_block "$(case_of $A2 blocked) $(wf_applied unblock)" "f 2"
stop_daemon after_clean_retest
