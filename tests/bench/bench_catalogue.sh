#!/bin/bash
# What the relay-test catalogue costs per target (run by make bench): relayctl probe
# against 1024 closed relaysim targets (the case every attempt runs for), then 1024
# open ones: attempts and connections per target, prober CPU per target.
#
#   BENCH_BIN=DIR       the relayctl/relaysim to measure (default bin/); point it at a
#                       build of an older tree to compare catalogues
#   BENCH_DOMAINS="D.." domains on record given with --domain (only for a relayctl
#                       that has it)
#   BENCH_PORT          (2587) Only loopback addresses are used.
set -u
cd "$(dirname "$0")/../.."
BIN=${BENCH_BIN:-bin}
PORT=${BENCH_PORT:-2587}
TMP=$(mktemp -d /tmp/relayaudit-bench-cat.XXXXXX)
SIM=
cleanup() {
	[ -n "$SIM" ] && kill "$SIM" 2>/dev/null && wait "$SIM" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
[ -x "$BIN/relaysim" ] && [ -x "$BIN/relayctl" ] || { echo "bench: build first (make)"; exit 1; }

"$BIN/relaysim" 127.5.0.0/22:$PORT=closed 127.6.0.0/22:$PORT=open >"$TMP/sim.out" 2>"$TMP/sim.err" &
SIM=$!
for _ in $(seq 1 300); do grep -qx ready "$TMP/sim.out" && break; sleep 0.1; done
grep -qx ready "$TMP/sim.out" || { echo "bench: relaysim did not start"; tail -3 "$TMP/sim.err"; exit 1; }

dom=()
for d in ${BENCH_DOMAINS:-}; do dom+=(--domain "$d"); done
stat_of() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2" | tail -1; }
for kind in closed open; do
	net=5
	[ $kind = open ] && net=6
	for b in 0 1 2 3; do for c in $(seq 0 255); do echo "127.$net.$b.$c:$PORT"; done; done >"$TMP/t"
	/usr/bin/time -f "cpu %U %S" -o "$TMP/time" \
		"$BIN/relayctl" probe --rate 0 --per-net 0 --concurrency 500 --timeout 30s --deadline 120s \
		--stats "${dom[@]}" --file "$TMP/t" >"$TMP/summary" 2>"$TMP/stats"
	cpu=$(awk '/^cpu/ {print $2 + $3}' "$TMP/time")
	n=$(stat_of targets "$TMP/stats")
	printf '%-6s %s: %.1f attempts, %.2f connections per target; prober CPU %.3f ms per target (%s)\n' \
		"$kind" "$n targets" "$(echo "$(stat_of attempts "$TMP/stats") / $n" | bc -l)" \
		"$(echo "$(stat_of connects "$TMP/stats") / $n" | bc -l)" \
		"$(echo "$cpu * 1000 / $n" | bc -l)" "$(tail -1 "$TMP/summary")"
done
