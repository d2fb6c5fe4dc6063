#!/bin/bash
# Benchmark: the HTTP API under wrk with 100,000 targets (20,000 customers,
# one probe each, 5,000 blocked cases) in a throwaway PostgreSQL.
#   GET /v1/targets/{ip}          a random target per request, with its latest probes
#   GET /v1/cases?state=blocked   the first page (50 cases)
# Prints requests/s and latency percentiles; the goal on the 2-core reference
# machine is >= 5,000 req/s with p99 < 20 ms.
#
#   tests/bench/bench_api.sh [SECONDS] [CONNECTIONS]
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SECS=${1:-10}
CONNS=${2:-32}
TARGETS=100000
IP=127.0.63.1
PORT=$((20000 + RANDOM % 20000))
. deploy/pg.sh
command -v wrk >/dev/null || { echo "bench_api: wrk is not installed (apt-get install wrk)"; exit 1; }
TMP=$(mktemp -d /tmp/relayaudit-bench.XXXXXX)
chmod 755 "$TMP"
API_PID=
cleanup() {
	[ -n "$API_PID" ] && { kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; }
	pg_stop "$TMP/pg"
	rm -rf "$TMP"
}
trap cleanup EXIT

pg_start "$TMP/pg" >/dev/null || { echo "bench_api: cannot start PostgreSQL"; exit 1; }
pg_createdb "$TMP/pg" bench || exit 1
export RELAYAUDIT_DATABASE
RELAYAUDIT_DATABASE=$(pg_conninfo "$TMP/pg" bench)
"$ROOT/bin/relayctl" migrate --dir "$ROOT/migrations" >/dev/null 2>&1 || { echo "bench_api: migrate failed"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 "$RELAYAUDIT_DATABASE" <<SQL || { echo "bench_api: seeding failed"; exit 1; }
INSERT INTO customers (ext_id, name, contact_email)
  SELECT 'cust' || g, 'Customer ' || g, 'abuse@c' || g || '.example' FROM generate_series(0, 19999) g;
INSERT INTO targets (customer_id, address, last_verdict, last_probed_at, next_probe_at)
  SELECT (SELECT min(id) FROM customers) + g / 5, '10.0.0.0'::inet + g,
         (ARRAY['closed', 'no_smtp', 'closed', 'relay_confirmed', 'tempfail'])[g % 5 + 1]::verdict,
         now() - interval '1 day', now() + interval '6 days'
  FROM generate_series(0, $TARGETS - 1) g;
INSERT INTO probes (target_id, address, port, started_at, finished_at, duration_ms, verdict, trick, stage)
  SELECT id, address, 25, last_probed_at, last_probed_at + interval '3 seconds', 3000, last_verdict,
         CASE WHEN last_verdict = 'relay_confirmed' THEN 'outside/plain' END, 'rcpt'
  FROM targets;
UPDATE targets t SET last_probe_id = p.id FROM probes p WHERE p.target_id = t.id;
INSERT INTO cases (target_id, customer_id, address, state, finding, probe_id, blocked, blocked_at, opened_at)
  SELECT id, customer_id, address,
         CASE WHEN row_number() OVER (ORDER BY id) <= 5000 THEN 'blocked' ELSE 'notified' END::case_state,
         'relay_confirmed', last_probe_id, row_number() OVER (ORDER BY id) <= 5000, now(), now() - interval '3 days'
  FROM targets WHERE last_verdict = 'relay_confirmed';
ANALYZE;
SQL

cat >"$TMP/api.conf" <<CONF
api_listen = $IP:$PORT
api_threads = ${API_THREADS:-4}
log_level = warn
CONF
"$ROOT/bin/relayctl" api serve -c "$TMP/api.conf" 2>"$TMP/api.log" &
API_PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://$IP:$PORT/v1/health" && break; sleep 0.1; done
TOKEN=$("$ROOT/bin/relayctl" token create --name bench --role viewer -c "$TMP/api.conf" 2>/dev/null)
[ -n "$TOKEN" ] || { echo "bench_api: no token"; exit 1; }

cat >"$TMP/target.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
math.randomseed(42)
request = function()
	local i = math.random(0, $TARGETS - 1)
	local path = string.format("/v1/targets/10.%d.%d.%d", math.floor(i / 65536), math.floor(i / 256) % 256, i % 256)
	return wrk.format("GET", path)
end
LUA
cat >"$TMP/cases.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA

# Sanity: both answer 200 before they are measured.
for p in /v1/targets/10.0.1.2 "/v1/cases?state=blocked"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$IP:$PORT$p")
	[ "$code" = 200 ] || { echo "bench_api: GET $p answered $code"; exit 1; }
done

# CPU ticks (user + system) used so far by the API process and its database backends.
cpu_ticks() {
	local pids p t=0
	pids="$API_PID $(psql -X -q -t -A "$RELAYAUDIT_DATABASE" -c \
		"SELECT pid FROM pg_stat_activity WHERE application_name = 'relayaudit-api'")"
	for p in $pids; do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}

bench() { # bench LABEL LUA PATH
	local out c0 c1
	c0=$(cpu_ticks)
	out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$2" "http://$IP:$PORT$3" 2>&1)
	c1=$(cpu_ticks)
	# CPU per request (API process + its PostgreSQL backends) does not depend on
	# what else the machine is doing; req/s and latency do.
	awk -v label="$1" -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '
		/Requests\/sec/ { rps = $2 } / requests in / { n = $1 }
		/^ +50%/ { p50 = $2 } /^ +90%/ { p90 = $2 } /^ +99%/ { p99 = $2 }
		/Non-2xx/ { bad = $NF }
		END { printf "bench_api: %-30s %7.0f req/s  p50 %-8s p90 %-8s p99 %-8s cpu %.3f ms/req%s\n", label, rps,
		      p50, p90, p99, n ? ticks * 1000 / hz / n : 0, bad ? "  NON-2XX " bad : "" }' <<<"$out"
}
echo "bench_api: $TARGETS targets, wrk -t2 -c$CONNS -d${SECS}s, api_threads=${API_THREADS:-4}, load average $(cut -d' ' -f1 /proc/loadavg)"
bench "GET /v1/targets/{ip}" "$TMP/target.lua" /v1/targets/10.0.0.1
bench "GET /v1/cases?state=blocked" "$TMP/cases.lua" "/v1/cases?state=blocked"
