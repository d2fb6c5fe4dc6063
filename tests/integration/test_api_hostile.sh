#!/bin/bash
# The API under a probe sweep and hostile clients, in one relayauditd (probe
# and api roles): 2,000 probes held open by tarpit relaysim listeners put the
# daemon far above select()'s 1,024 descriptors; then 1,000 slow-drip
# connections from one address, and unauthenticated 1 MB bodies from several.
# A fresh client on another loopback address must still be answered within
# 1 s, slow-drip requests must end at api_request_timeout, and the bodies
# must be refused with 401 before they are read (the daemon's memory stays put).
# Addresses: tarpits 127.0.80.0/21, API 127.0.90.1, slow-drip 127.0.91.1,
# big bodies 127.0.93.1-20, the fresh client 127.0.92.1.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
cd "$TEST_TMP" || exit 1
ulimit -n "$(ulimit -Hn)"
ATTACK=$ROOT/tests/integration/http_attack.py

daemon_migrate || { fail setup "migrate failed"; exit 1; }
sql "INSERT INTO customers (ext_id, contact_email) VALUES ('c1', 'c1@example.net')" >/dev/null
sql "INSERT INTO targets (customer_id, address, ports)
     SELECT 1, '127.0.80.0'::inet + g, '{2525}' FROM generate_series(1, 2000) g" >/dev/null

# Tarpits: one byte of greeting a minute, so every probe holds its socket.
bg_start "$RELAYSIM" --tarpit-ms 60000 --idle-secs 300 127.0.80.0/21:2525=tarpit >"$TEST_TMP/sim.out" 2>"$TEST_TMP/sim.log"
wait_for 20 grep -q ready "$TEST_TMP/sim.out" || { fail setup "relaysim not ready"; tail -3 "$TEST_TMP/sim.log"; exit 1; }

PORT=$(random_port)
daemon_conf "$TEST_TMP/d.conf" hostile-1 "roles = probe,api" "probe_concurrency = 2000" \
	"probe_timeout = 120s" "probe_deadline = 10m" "lease_time = 10m" "schedule_batch = 1000" \
	"api_listen = 127.0.90.1:$PORT" "api_threads = 2" "api_per_ip_connections = 16" \
	"api_request_timeout = 4s" "log_level = info"
daemon_start "$TEST_TMP/d.conf" "$TEST_TMP/d.log"
API=http://127.0.90.1:$PORT
wait_for 20 curl -sf -o /dev/null "$API/v1/health" || { fail setup "api not up"; tail -5 "$TEST_TMP/d.log"; exit 1; }

fds() { ls "/proc/$DAEMON_PID/fd" 2>/dev/null | wc -l; }
fds_at_least() { [ "$(fds)" -ge "$1" ]; }
wait_for 60 fds_at_least 2000
check_eq "probe_sweep_holds_2000_descriptors" "$( [ "$(fds)" -ge 2000 ] && echo yes || echo "no: $(fds)")" yes
check_contains "descriptor_budget_is_logged" "$(grep fd_budget "$TEST_TMP/d.log")" "probe_concurrency=2000"

# A fresh request from another address: status and seconds.
fresh() { curl -s -o /dev/null --interface 127.0.92.1 --max-time 5 -w '%{http_code} %{time_total}' "$API$1"; }
under_1s() { awk -v t="${1#* }" 'BEGIN { exit !(t < 1.0) }'; }

out=$(fresh /v1/health)
check_eq "api_answers_above_fd_setsize" "${out%% *}" 200

# -- 1,000 slow-drip connections from one address
python3 "$ATTACK" slowdrip 127.0.90.1 "$PORT" 127.0.91.1 1000 12 >"$TEST_TMP/drip.out" 2>&1 &
DRIP=$!
BG_PIDS+=($DRIP)
sleep 2
out=$(fresh /v1/health)
if [ "${out%% *}" = 200 ] && under_1s "$out"; then pass "fresh_request_answered_within_1s_during_slow_drip"
else fail "fresh_request_answered_within_1s_during_slow_drip" "got '$out' (status seconds), want 200 in under 1 s"; fi
out=$(fresh /r/not-a-token)
if [ "${out%% *}" != 000 ] && under_1s "$out"; then pass "retest_page_answered_within_1s_during_slow_drip"
else fail "retest_page_answered_within_1s_during_slow_drip" "got '$out', want an answer in under 1 s"; fi
wait "$DRIP"
drip=$(cat "$TEST_TMP/drip.out")
accepted=$(sed -n 's/.*accepted=\([0-9]*\).*/\1/p' <<<"$drip")
if [ -n "$accepted" ] && [ "$accepted" -ge 1 ] && [ "$accepted" -le 16 ]; then pass "per_address_limit_holds_slow_drip_to_16"
else fail "per_address_limit_holds_slow_drip_to_16" "got '$drip', want 1 <= accepted <= 16"; fi
if [ "${accepted:-0}" -ge 1 ] && [[ $drip == *"closed_by_server=$accepted still_open=0"* ]]; then pass "slow_drip_requests_end_at_the_deadline"
else fail "slow_drip_requests_end_at_the_deadline" "got '$drip', want every accepted connection closed by the server"; fi

# -- unauthenticated 1 MB bodies: 401 at once, nothing kept
hwm() { awk '/VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status"; }
before=$(hwm)
srcs=$(seq -s, -f '127.0.93.%g' 1 20)
out=$(python3 "$ATTACK" bigbody 127.0.90.1 "$PORT" "$srcs" 300 1000000 2>&1)
after=$(hwm)
check_contains "unauthenticated_bodies_get_401" "$out" "replies=300 status401=300"
slowest=$(sed -n 's/.*slowest_ms=\([0-9]*\).*/\1/p' <<<"$out")
if [[ $out == replies=300* ]] && [ -n "$slowest" ] && [ "$slowest" -lt 2000 ]; then pass "unauthenticated_bodies_refused_at_once"
else fail "unauthenticated_bodies_refused_at_once" "got slowest reply $slowest ms ($out), want < 2000, before the body is sent"; fi
grew=$(( (after - before) / 1024 ))
if [[ $out == replies=300* ]] && [ "$grew" -lt 64 ]; then pass "unauthenticated_bodies_are_not_kept"
else fail "unauthenticated_bodies_are_not_kept" "daemon peak memory grew by $grew MB, want < 64"; fi

out=$(fresh /v1/health)
check_eq "api_still_answers_after_the_attacks" "${out%% *}" 200
check_eq "daemon_survived" "$(kill -0 "$DAEMON_PID" 2>/dev/null && echo alive)" alive
daemon_stop "$DAEMON_PID" 30

# -- a small RLIMIT_NOFILE: the API and database keep their shares, probing gives way
PORT2=$(random_port)
daemon_conf "$TEST_TMP/small.conf" hostile-2 "roles = probe,api" "probe_concurrency = 1000" \
	"api_listen = 127.0.90.2:$PORT2" "api_threads = 2" "log_level = info"
( ulimit -n 1500; exec "$RELAYAUDITD" -c "$TEST_TMP/small.conf" ) >>"$TEST_TMP/small.log" 2>&1 &
SMALL_PID=$!
BG_PIDS+=($SMALL_PID)
wait_for 20 grep -q fd_budget_capped "$TEST_TMP/small.log"
check_contains "probe_concurrency_capped_by_the_descriptor_budget" "$(grep fd_budget "$TEST_TMP/small.log")" \
	"nofile=1500 reserve=64 database=9 sink=0 api=1012 probe=399 probe_concurrency=399"
check_contains "capping_says_why" "$(grep fd_budget_capped "$TEST_TMP/small.log")" "probe_concurrency=1000 capped=399"
daemon_stop "$SMALL_PID" 30
