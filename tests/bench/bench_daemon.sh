#!/bin/bash
# The daemon at scale: loads BENCH_TARGETS targets into a private PostgreSQL,
# most of them loopback addresses where nothing listens (refused: no_smtp)
# and 4096 answering as closed relaysim servers, sweeps them all with one
# relayauditd, and prints end-to-end targets/s (claims, probes and database
# writes included) and the database size per million probes.
#
#   tests/bench/bench_daemon.sh            (make bench runs it)
#   BENCH_TARGETS=100000 tests/bench/bench_daemon.sh
#
# Addresses: 127.3.0.1 upward through 127.9.255.255 (this benchmark's farm),
# which holds 458,751 addresses; beyond that each address is a target on
# several ports (probe rows per target are reported).
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
. deploy/pg.sh

N=${BENCH_TARGETS:-1000000}
SIM_NET=127.9.240.0/20        # 4096 closed relaysim listeners on port 2525
FARM=458751                   # 127.3.0.1 .. 127.9.255.255
CONCURRENCY=${BENCH_CONCURRENCY:-4000}
TMP=$(mktemp -d /tmp/relayaudit-bench.XXXXXX)
chmod 755 "$TMP"
PGDIR=$TMP/pg
SIM_PID= DAEMON_PID=

cleanup() {
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
	pg_stop "$PGDIR"
	[ -n "${BENCH_KEEP_LOG:-}" ] && cp "$TMP/daemon.log" "$BENCH_KEEP_LOG"; rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf 'bench_daemon: %s\n' "$*"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Durability as a production install would run it, minus the fsync per commit.
PG_EXTRA_OPTS="-c synchronous_commit=off -c shared_buffers=512MB -c max_wal_size=4GB -c checkpoint_timeout=30min"
pg_start "$PGDIR" >/dev/null || { say "PostgreSQL did not start"; exit 1; }
pg_createdb "$PGDIR" bench || exit 1
export RELAYAUDIT_DATABASE=$(pg_conninfo "$PGDIR" bench)
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$RELAYAUDIT_DATABASE" -c "$1"; }
bin/relayctl migrate >/dev/null 2>&1 || { say "migrate failed"; exit 1; }

# Ports per target so that N targets fit the farm: 1 when N <= FARM.
addrs=$(( N < FARM ? N : FARM ))
say "loading $N targets on $addrs addresses"
t0=$(now_ms)
q "INSERT INTO customers (ext_id, contact_email)
   SELECT 'bench-' || g, 'noc@bench' || g || '.example.net' FROM generate_series(1, 1000) g"
# Target k (1..N): address 127.3.0.0 + 1 + (k-1) % addrs; the r-th round on one
# address gets port 25, 587, 465, 2525 ... -- but address is unique, so extra
# rounds become extra ports of the same target instead.
q "INSERT INTO targets (customer_id, address, ports, next_probe_at)
   SELECT 1 + g % 1000, '127.3.0.0'::inet + g,
          (ARRAY[25, 587, 465, 2526, 2527, 2528, 2529, 2530])[1:ceil($N::numeric / $addrs)::int
              - CASE WHEN g > $N - ($addrs * (ceil($N::numeric / $addrs)::int - 1)) THEN 1 ELSE 0 END],
          now() + interval '1 day'
   FROM generate_series(1, $addrs) g"
q "UPDATE targets SET ports = '{2525}' WHERE address <<= '$SIM_NET'"
q "VACUUM ANALYZE targets"
probes_expected=$(q "SELECT sum(cardinality(ports)) FROM targets")
say "loaded in $(( ($(now_ms) - t0) / 1000 )) s: $(q "SELECT count(*) FROM targets") targets, $probes_expected probes to run"

bin/relaysim "$SIM_NET:2525=closed" >"$TMP/sim.out" 2>"$TMP/sim.log" &
SIM_PID=$!
for _ in $(seq 100); do grep -q ready "$TMP/sim.out" && break; sleep 0.1; done
grep -q ready "$TMP/sim.out" || { say "relaysim did not start"; tail "$TMP/sim.log"; exit 1; }

cat >"$TMP/bench.conf" <<CONF
node_name = bench-1
roles = probe
secret = bench-secret-0123456789abcdef
probe_concurrency = $CONCURRENCY
probe_rate = 0
probe_per_net = 0
probe_timeout = 10s
schedule_batch = 1000
lease_time = 30m
poll_interval = 1s
log_level = ${BENCH_LOG_LEVEL:-warn}
CONF
chmod 600 "$TMP/bench.conf"

t0=$(now_ms)
out=$(bin/relayctl sweep -c "$TMP/bench.conf" --all 2>&1) || { say "sweep failed: $out"; exit 1; }
sweep_ms=$(( $(now_ms) - t0 ))
sweep_id=$(echo "$out" | sed -n 's/^sweep \([0-9]*\):.*/\1/p')
say "relayctl sweep --all marked $N targets in $sweep_ms ms"

pg_cpu() { # clock ticks used by every postgres process of this cluster so far
	local pids
	pids=$(pgrep -f "postgres.*-D $PGDIR/data|postgres: " 2>/dev/null)
	awk '{s += $14 + $15 + $16 + $17} END {print s + 0}' $(for p in $(pgrep -P "$(head -1 "$PGDIR/data/postmaster.pid")") "$(head -1 "$PGDIR/data/postmaster.pid")"; do echo /proc/$p/stat; done) 2>/dev/null
}
pg_cpu0=$(pg_cpu)
t0=$(now_ms)
bin/relayauditd -c "$TMP/bench.conf" >"$TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
last=0
while :; do
	sleep 2
	read -r done total fin < <(q "SELECT done, total, finished_at IS NOT NULL FROM sweeps WHERE id = $sweep_id" | tr '|' ' ')
	el=$(( $(now_ms) - t0 ))
	say "$(printf '%7d/%d targets, %5.0f/s' "$done" "$total" "$(echo "$done * 1000 / $el" | bc -l)")"
	[ "$fin" = t ] && break
	kill -0 "$DAEMON_PID" 2>/dev/null || { say "relayauditd died"; tail "$TMP/daemon.log"; exit 1; }
	if [ $el -gt 3600000 ]; then say "not done after an hour"; exit 1; fi
done
el=$(( $(now_ms) - t0 ))
dcpu=$(awk '{print $14 + $15}' /proc/$DAEMON_PID/stat)
pcpu=$(( $(pg_cpu) - pg_cpu0 ))
tck=$(getconf CLK_TCK)
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; DAEMON_PID=
probes=$(q "SELECT count(*) FROM probes")
q "VACUUM ANALYZE probes" >/dev/null
size=$(q "SELECT pg_total_relation_size('probes') + pg_total_relation_size('probe_attempts')")
verdicts=$(q "SELECT string_agg(verdict || '=' || n, ' ') FROM (SELECT verdict, count(*) n FROM probes GROUP BY 1 ORDER BY 1) v")
say "----"
say "$(printf 'end to end: %d targets (%d probes) in %.1f s = %.0f targets/s, %.0f probes/s' \
	"$N" "$probes" "$(echo "$el / 1000" | bc -l)" "$(echo "$N * 1000 / $el" | bc -l)" "$(echo "$probes * 1000 / $el" | bc -l)")"
say "verdicts: $verdicts"
say "$(printf 'cpu: relayauditd %.1f s, postgres %.1f s over %.1f s wall (2 cores)' \
	"$(echo "$dcpu / $tck" | bc -l)" "$(echo "$pcpu / $tck" | bc -l)" "$(echo "$el / 1000" | bc -l)")"
say "$(printf 'database: probes + probe_attempts %.0f MB = %.0f MB per million probes; whole database %s' \
	"$(echo "$size / 1048576" | bc -l)" "$(echo "$size / 1048576 * 1000000 / $probes" | bc -l)" "$(q "SELECT pg_size_pretty(pg_database_size('bench'))")")"
