#!/bin/bash
# A sweep started through the API and probed by the real daemon (probe
# writer, not SQL) is followed with GET /v1/sweeps/{id} until it reports
# finished: true with done equal to the sweep's size, and its verdicts.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/api_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }
CONF=$TEST_TMP/sweep-api.conf
LOG=$TEST_TMP/sweep-api.log
N=30
daemon_targets $N 900
sql "UPDATE targets SET next_probe_at = now() + interval '1 day'" >/dev/null
daemon_conf "$CONF" sweep-api-1 "roles = probe,api" "api_listen = 127.0.44.250:$API_PORT" "api_threads = 2"
API_BASE=http://127.0.44.250:$API_PORT
API_CONF=$CONF
daemon_start "$CONF" "$LOG"
wait_for 15 curl -sf -o /dev/null "$API_BASE/v1/health" ||
	{ fail "relayauditd serves the API" "$(tail -5 "$LOG")"; exit 1; }
api_tokens

check_req "sweep_api_created" 201 POST /v1/sweeps "$OPERATOR" '{"scope":"all"}'
sid=$(jqr .id)
check_eq "sweep_api_total_is_the_targets" "$(jqr .total)" "$N"
finished() { req GET "/v1/sweeps/$sid" "$VIEWER"; [ "$(jqr .finished)" = true ]; }
if wait_for 30 finished; then
	pass "sweep_api_reaches_finished"
else
	fail "sweep_api_reaches_finished" "got $BODY after 30 s, want finished: true"
fi
check_eq "sweep_api_done_equals_size" "$(jqr .done)/$(jqr .total)" "$N/$N"
check_eq "sweep_api_has_finished_at" "$(jqr '.finished_at != null')" "true"
check_eq "sweep_api_counts_verdicts" "$(jqr .verdicts.no_smtp)" "$N"
check_eq "sweep_api_agrees_with_the_table" "$(sql "SELECT done FROM sweeps WHERE id = $sid")" "$N"
daemon_stop "$DAEMON_PID"
check_eq "term_exits_0" "$DAEMON_RC" 0
