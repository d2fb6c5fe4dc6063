#!/bin/bash
# The probe benchmark (run by make bench): relayctl probe against relaysim farms on
# loopback, and nmap's smtp-open-relay on the same farm in the same run.
#
#   1. far targets: 10,000 closed targets (two relaysim processes, 127.1.0.0/20 +
#      127.1.16.0/22 and the same in 127.2; each holds 5,120 listeners and as many
#      sessions within its descriptors), full catalogue, --rate 0 --per-net 0, at
#      0 ms and at 20 ms relaysim --delay (every server line leaves 20 ms after its
#      cause). relayctl: targets/s, attempts/s, CPU per target, peak RSS;
#      nmap on a sample of the same farm (BENCH_NMAP_TARGETS, its targets/s does
#      not depend on how many it is given) and the ratio.
#   2. TLS: 1024 open targets probed plain and with implicit TLS (relaysim
#      --tls-port): the prober's CPU per TLS handshake.
#
# Environment: BENCH_PORT (587), BENCH_CONCURRENCY (10000 at 20 ms; 1000 at 0 ms),
# BENCH_DELAYS ("0 20"), BENCH_TARGETS (10000), BENCH_NMAP=0 to skip nmap,
# BENCH_NMAP_TARGETS ("2048 256": at 0 ms, at 20 ms), BENCH_SKIP_TLS=1 to skip
# part 2, BENCH_SIM=PATH another relaysim binary for the farm (an older build, to
# compare the simulator's CPU per target). Only loopback addresses are used.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SIM=${BENCH_SIM:-bin/relaysim}
PORT=${BENCH_PORT:-587}
NT=${BENCH_TARGETS:-10000}
TMP=$(mktemp -d /tmp/relayaudit-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

[ -x "$SIM" ] && [ -x bin/relayctl ] || { echo "bench: build first (make)"; exit 1; }
[ "$NT" -le 10240 ] || { echo "bench: BENCH_TARGETS at most 10240 (the farm)"; exit 1; }

sim() { # name args...: start relaysim, wait for "ready" (bounded)
	local name=$1; shift
	"$SIM" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	PIDS+=($!)
	for _ in $(seq 1 300); do
		grep -qx ready "$TMP/$name.out" && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: relaysim $name did not start:"; tail -3 "$TMP/$name.err"
	exit 1
}
stat_of() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" "$2" | tail -1; }
# CPU seconds (user + system) a running process has used so far
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
load() { echo "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"; }

# both farms alternately, so that any first n targets load both simulators alike
for b in $(seq 0 19); do for c in $(seq 0 255); do
	echo "127.1.$b.$c:$PORT"; echo "127.2.$b.$c:$PORT"
done; done | head -n "$NT" >"$TMP/targets"
read -r -a NMAP_N <<<"${BENCH_NMAP_TARGETS:-2048 256}"

run=0
for delay in ${BENCH_DELAYS:-0 20}; do
	conc=${BENCH_CONCURRENCY:-$([ "$delay" -gt 0 ] && echo 10000 || echo 1000)}
	echo "== far targets: $NT closed targets on port $PORT, relaysim --delay $delay, concurrency $conc, $(load)"
	sim farm1-$delay --delay "$delay" 127.1.0.0/20:$PORT=closed 127.1.16.0/22:$PORT=closed
	sim farm2-$delay --delay "$delay" 127.2.0.0/20:$PORT=closed 127.2.16.0/22:$PORT=closed
	f1=${PIDS[-2]} f2=${PIDS[-1]}
	sim0=$(echo "$(cpu_of $f1) + $(cpu_of $f2)" | bc -l)
	/usr/bin/time -f "cpu %U %S rss %M" -o "$TMP/ours.time" \
		bin/relayctl probe --rate 0 --per-net 0 --concurrency "$conc" --timeout 30s --deadline 120s \
		--stats --file "$TMP/targets" >"$TMP/summary" 2>"$TMP/stats"
	sim1=$(echo "$(cpu_of $f1) + $(cpu_of $f2)" | bc -l)
	ours_cpu=$(awk '/^cpu/ {print $2 + $3}' "$TMP/ours.time")
	ours_sim=$(echo "$sim1 - $sim0" | bc -l)
	tail -1 "$TMP/summary"
	grep '^stats' "$TMP/stats"
	ours=$(stat_of targets_per_s "$TMP/stats")
	done_n=$(stat_of targets "$TMP/stats")
	printf 'relayaudit @%s ms: %s targets in %s s: %s targets/s, %s attempts/s, CPU %.3f ms per target (prober; simulator %.3f), peak RSS %d MB, peak in-flight %s, %s\n' \
		"$delay" "$done_n" "$(stat_of elapsed_s "$TMP/stats")" "$ours" "$(stat_of attempts_per_s "$TMP/stats")" \
		"$(echo "$ours_cpu * 1000 / $done_n" | bc -l)" "$(echo "$ours_sim * 1000 / $done_n" | bc -l)" \
		"$(($(stat_of peak_rss_kb "$TMP/stats") / 1024))" "$(stat_of peak_in_flight "$TMP/stats")" "$(load)"
	if [ "${BENCH_NMAP:-1}" != 0 ] && command -v nmap >/dev/null; then
		n=${NMAP_N[$run]:-${NMAP_N[-1]}}
		head -n "$n" "$TMP/targets" | cut -d: -f1 >"$TMP/nmap.targets"
		start=$(date +%s.%N)
		/usr/bin/time -f "cpu %U %S" -o "$TMP/nmap.time" nmap -n -Pn -p "$PORT" --script smtp-open-relay \
			-oN "$TMP/nmap.txt" -iL "$TMP/nmap.targets" >/dev/null 2>"$TMP/nmap.err"
		end=$(date +%s.%N)
		secs=$(echo "$end - $start" | bc -l)
		nmap_cpu=$(awk '/^cpu/ {print $2 + $3}' "$TMP/nmap.time")
		notrelay=$(grep -c "doesn't seem to be an open relay" "$TMP/nmap.txt")
		theirs=$(echo "$n / $secs" | bc -l)
		printf 'nmap @%s ms: %d targets in %.1f s: %.1f targets/s (%d said not an open relay), CPU %.3f ms per target\n' \
			"$delay" "$n" "$secs" "$theirs" "$notrelay" "$(echo "$nmap_cpu * 1000 / $n" | bc -l)"
		printf 'ratio @%s ms: relayaudit %.1f targets/s / nmap %.1f targets/s = %.1fx (goal: %s)\n' "$delay" "$ours" \
			"$theirs" "$(echo "$ours / $theirs" | bc -l)" "$([ "$delay" -gt 0 ] && echo '>= 20x' || echo '>= 3x')"
	else
		echo "nmap skipped"
	fi
	kill "${PIDS[@]}" 2>/dev/null; wait "${PIDS[@]}" 2>/dev/null; PIDS=()
	run=$((run + 1))
done

if [ "${BENCH_SKIP_TLS:-0}" != 1 ]; then
	# The same 1024 open targets twice: plain SMTP, then TLS from the first byte
	# (relaysim --tls-port, like 465, a throwaway RSA-2048 certificate). The
	# difference in prober CPU per connection is what one handshake costs us.
	TLS_PORT=$((PORT + 2))
	echo "== TLS: 1024 open targets, plain on port $TLS_PORT+1 against implicit TLS on port $TLS_PORT"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=bench.relayaudit.test" \
		-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 ||
		{ echo "bench: openssl could not make a certificate"; exit 1; }
	sim tlsfarm --tls-port $TLS_PORT --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
		127.3.0.0/22:$TLS_PORT=open 127.3.0.0/22:$((TLS_PORT + 1))=open
	for mode in plain tls; do
		p=$TLS_PORT
		[ $mode = plain ] && p=$((TLS_PORT + 1))
		for b in 0 1 2 3; do for c in $(seq 0 255); do echo "127.3.$b.$c:$p"; done; done >"$TMP/t-$mode"
		/usr/bin/time -f "cpu %U %S" -o "$TMP/$mode.time" \
			bin/relayctl probe --rate 0 --per-net 0 --concurrency 1000 --timeout 30s --deadline 120s \
			--tls-port $TLS_PORT --stats --file "$TMP/t-$mode" >"$TMP/$mode.summary" 2>"$TMP/$mode.stats"
		cpu=$(awk '/^cpu/ {print $2 + $3}' "$TMP/$mode.time")
		conns=$(stat_of connects "$TMP/$mode.stats")
		eval "cpu_$mode=$cpu conns_$mode=$conns"
		printf '%-5s %s targets in %s s, %s connections, prober CPU %.2f s = %.3f ms per target\n' \
			"$mode:" "$(stat_of targets "$TMP/$mode.stats")" "$(stat_of elapsed_s "$TMP/$mode.stats")" \
			"$conns" "$cpu" "$(echo "$cpu * 1000 / 1024" | bc -l)"
	done
	printf 'TLS handshake cost: %.3f ms prober CPU per connection (%.3f ms per target at %.1f connections per target)\n' \
		"$(echo "($cpu_tls - $cpu_plain) * 1000 / $conns_tls" | bc -l)" \
		"$(echo "($cpu_tls - $cpu_plain) * 1000 / 1024" | bc -l)" "$(echo "$conns_tls / 1024" | bc -l)"
	kill "${PIDS[@]}" 2>/dev/null; wait "${PIDS[@]}" 2>/dev/null; PIDS=()
fi
