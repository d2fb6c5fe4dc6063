#!/bin/bash
# The probe engine's event loops (probe_threads): relayctl probe --threads N
# hands every loop a share of the targets (its per-loop --stats lines), and
# the per-/24 politeness limit holds across loops: relaysim --peaks counts the
# concurrent sessions each listening /24 saw. Not timed: replies leave 30 ms
# after their cause so that dialogues overlap and the limit is reached.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sim_lib.sh"

[ -x "$RELAYCTL" ] || { fail setup "no $RELAYCTL"; exit 1; }

NETS=16     # 127.18.0.0/24 .. 127.18.15.0/24
PER_NET=6   # closed listeners per /24
LIMIT=2     # --per-net
specs=() targets=()
for ((n = 0; n < NETS; n++)); do
	specs+=("127.18.$n.0/31:PORT=closed" "127.18.$n.4/30:PORT=closed")
	for h in 1 4 5 6 7; do targets+=("127.18.$n.$h:PORT"); done
	targets+=("127.18.$n.0:PORT") # 127.18.N.0 is one of the /31's two
done
sim_start_anyport sim --delay 30 --peaks "$TEST_TMP/peaks" "${specs[@]}" ||
	{ fail setup "relaysim did not start"; exit 1; }
printf '%s\n' "${targets[@]//PORT/$SIM_PORT}" >"$TEST_TMP/targets"
N=${#targets[@]}

for threads in 2 3; do
	RELAYAUDIT_LOOPBACK_ONLY=1 "$RELAYCTL" probe --threads $threads --per-net $LIMIT --rate 0 \
		--concurrency 64 --timeout 5s --deadline 60s --stats --file "$TEST_TMP/targets" \
		>"$TEST_TMP/out.$threads" 2>"$TEST_TMP/stats.$threads"
	rc=$?
	check_eq "threads=$threads: every target closed (exit status 0)" "$rc" 0
	check_eq "threads=$threads: summary" "$(tail -1 "$TEST_TMP/out.$threads")" "$N probes: $N closed"
	lines=$(grep -c '^stats_thread ' "$TEST_TMP/stats.$threads")
	check_eq "threads=$threads: one stats line per event loop" "$lines" "$threads"
	sum=0 empty=0
	while read -r t; do
		sum=$((sum + t))
		[ "$t" -gt 0 ] || empty=$((empty + 1))
	done < <(sed -n 's/^stats_thread .* targets=\([0-9]*\) .*/\1/p' "$TEST_TMP/stats.$threads")
	check_eq "threads=$threads: the loops' targets add up to all of them" "$sum" "$N"
	check_eq "threads=$threads: every loop probed a share (loops with none)" "$empty" 0
done

# Politeness across loops: no /24 ever saw more than LIMIT sessions at once,
# and the limit was reached (else this check could not fail).
sim_stop sim || fail "relaysim exits cleanly" "it did not"
[ -s "$TEST_TMP/peaks" ] || { fail "relaysim wrote --peaks" "no $TEST_TMP/peaks"; exit 1; }
check_eq "relaysim saw every /24" "$(wc -l <"$TEST_TMP/peaks")" "$NETS"
over=$(awk -v l=$LIMIT '$2 > l' "$TEST_TMP/peaks")
check_eq "no /24 had more than $LIMIT sessions at once" "$over" ""
max=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$TEST_TMP/peaks")
check_eq "the per-/24 limit was reached (peak sessions of the busiest /24)" "$max" "$LIMIT"
