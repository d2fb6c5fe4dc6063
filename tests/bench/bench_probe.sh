#!/bin/bash
# The probe benchmark (run by make bench): relayctl probe against relaysim farms on
# loopback, and nmap's
# smtp-open-relay on the same farm in the same run.
#
#   1. throughput: 4096 closed (127.1.0.0/20) + 4096 open (127.2.0.0/20)
#      targets, full catalogue, --rate 0 --per-net 0: targets/s, attempts/s,
#      peak RSS, peak in-flight; then nmap on the same farm and the ratio.
#   2. TLS: 1024 open targets probed plain and with implicit TLS (relaysim
#      --tls-port): the prober's CPU per TLS handshake.
#   3. memory: 10,240 tarpit targets (two simulators, 127.1/127.2 on another
#      port) with 10,000 probes in flight: peak RSS.
#
# Environment: BENCH_PORT (587), BENCH_CONCURRENCY (1000), BENCH_NMAP=0 to skip
# nmap, BENCH_SKIP_TLS=1 to skip part 2, BENCH_SKIP_RSS=1 to skip part 3. Only loopback addresses are used.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PORT=${BENCH_PORT:-587}
RSS_PORT=$((PORT + 1))
CONC=${BENCH_CONCURRENCY:-1000}
TMP=$(mktemp -d /tmp/relayaudit-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

[ -x bin/relaysim ] && [ -x bin/relayctl ] || { echo "bench: build first (make)"; exit 1; }

sim() { # name args...: start relaysim, wait for "ready" (bounded)
	local name=$1; shift
	bin/relaysim "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
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

echo "== throughput: 4096 closed + 4096 open targets on port $PORT, concurrency $CONC"
sim farm 127.1.0.0/20:$PORT=closed 127.2.0.0/20:$PORT=open
farm_pid=${PIDS[-1]}
for net in 1 2; do
	for b in $(seq 0 15); do for c in $(seq 0 255); do echo "127.$net.$b.$c:$PORT"; done; done
done >"$TMP/targets"
sim0=$(cpu_of "$farm_pid")
/usr/bin/time -f "cpu %U %S" -o "$TMP/ours.time" \
	bin/relayctl probe --rate 0 --per-net 0 --concurrency "$CONC" --timeout 30s --deadline 120s \
	--stats --file "$TMP/targets" >"$TMP/summary" 2>"$TMP/stats"
sim1=$(cpu_of "$farm_pid")
ours_cpu=$(awk '/^cpu/ {print $2 + $3}' "$TMP/ours.time")
ours_sim=$(echo "$sim1 - $sim0" | bc -l)
tail -1 "$TMP/summary"
grep '^stats' "$TMP/stats"
ours=$(stat_of targets_per_s "$TMP/stats")
echo "relayaudit: $(stat_of targets "$TMP/stats") targets in $(stat_of elapsed_s "$TMP/stats") s:" \
	"$ours targets/s, $(stat_of attempts_per_s "$TMP/stats") attempts/s," \
	"peak in-flight $(stat_of peak_in_flight "$TMP/stats"), peak RSS $(($(stat_of peak_rss_kb "$TMP/stats") / 1024)) MB"
printf 'relayaudit CPU: %.2f s prober + %.2f s simulator = %.2f ms per target\n' "$ours_cpu" "$ours_sim" \
	"$(echo "($ours_cpu + $ours_sim) * 1000 / 8192" | bc -l)"

if [ "${BENCH_NMAP:-1}" != 0 ] && command -v nmap >/dev/null; then
	echo "== nmap -n -Pn -p $PORT --script smtp-open-relay on the same farm"
	start=$(date +%s.%N)
	sim0=$(cpu_of "$farm_pid")
	/usr/bin/time -f "cpu %U %S" -o "$TMP/nmap.time" nmap -n -Pn -p "$PORT" --script smtp-open-relay -oN "$TMP/nmap.txt" \
		127.1.0.0/20 127.2.0.0/20 >/dev/null 2>"$TMP/nmap.err"
	end=$(date +%s.%N)
	sim1=$(cpu_of "$farm_pid")
	nmap_cpu=$(awk '/^cpu/ {print $2 + $3}' "$TMP/nmap.time")
	nmap_sim=$(echo "$sim1 - $sim0" | bc -l)
	secs=$(echo "$end - $start" | bc -l)
	relays=$(grep -c "Server is an open relay" "$TMP/nmap.txt")
	notrelay=$(grep -c "doesn't seem to be an open relay" "$TMP/nmap.txt")
	theirs=$(echo "8192 / $secs" | bc -l)
	printf 'nmap: 8192 targets in %.1f s: %.1f targets/s (%d reported open relay, %d not)\n' \
		"$secs" "$theirs" "$relays" "$notrelay"
	printf 'nmap CPU: %.2f s nmap + %.2f s simulator = %.2f ms per target\n' "$nmap_cpu" "$nmap_sim" \
		"$(echo "($nmap_cpu + $nmap_sim) * 1000 / 8192" | bc -l)"
	printf 'ratio: relayaudit %.1f targets/s / nmap %.1f targets/s = %.2fx (wall clock)\n' "$ours" "$theirs" \
		"$(echo "$ours / $theirs" | bc -l)"
	printf 'ratio by CPU per target (prober + simulator): %.2fx\n' \
		"$(echo "($nmap_cpu + $nmap_sim) / ($ours_cpu + $ours_sim)" | bc -l)"
	echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
else
	echo "== nmap skipped"
fi
kill "${PIDS[@]}" 2>/dev/null; wait "${PIDS[@]}" 2>/dev/null; PIDS=()

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
			bin/relayctl probe --rate 0 --per-net 0 --concurrency "$CONC" --timeout 30s --deadline 120s \
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

if [ "${BENCH_SKIP_RSS:-0}" != 1 ]; then
	echo "== memory: 10,240 tarpit targets on port $RSS_PORT, 10,000 in flight"
	# two simulators: each holds 5,120 listeners and as many sessions within its descriptors
	sim tarpit1 --tarpit-ms 1000 127.1.0.0/20:$RSS_PORT=tarpit 127.1.16.0/22:$RSS_PORT=tarpit
	sim tarpit2 --tarpit-ms 1000 127.2.0.0/20:$RSS_PORT=tarpit 127.2.16.0/22:$RSS_PORT=tarpit
	for net in 1 2; do
		for b in $(seq 0 19); do for c in $(seq 0 255); do echo "127.$net.$b.$c:$RSS_PORT"; done; done
	done >"$TMP/tarpits"
	bin/relayctl probe --rate 0 --per-net 0 --concurrency 10000 --timeout 8s --deadline 20s \
		--stats --file "$TMP/tarpits" >"$TMP/tsummary" 2>"$TMP/tstats"
	tail -1 "$TMP/tsummary"
	grep '^stats' "$TMP/tstats"
	echo "relayaudit: peak in-flight $(stat_of peak_in_flight "$TMP/tstats"), peak RSS" \
		"$(($(stat_of peak_rss_kb "$TMP/tstats") / 1024)) MB (goal <= 64 MB at 10,000)"
fi
