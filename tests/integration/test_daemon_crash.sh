#!/bin/bash
# kill -9 of a node mid-sweep: its leases expire and another node (or its
# own restart, which takes its leases back at once) probes what was left.
# No target is left unprobed, and only targets leased at the kill can have
# been probed twice.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }
N=3000
LOG=$TEST_TMP/crash.log
daemon_conf "$TEST_TMP/1.conf" crash-1 "probe_rate = 600" "schedule_batch = 200" "probe_concurrency = 400"
daemon_conf "$TEST_TMP/2.conf" crash-2 "probe_rate = 0"
daemon_targets $N
sql "UPDATE targets SET next_probe_at = now() + interval '1 day'" >/dev/null
"$RELAYCTL" sweep -c "$TEST_TMP/1.conf" --all >/dev/null

daemon_start "$TEST_TMP/1.conf" "$LOG"
wait_for 20 sql_true "SELECT count(*) >= 800 FROM probes"
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
leased=$(sql "SELECT count(*) FROM targets WHERE lease_owner = 'crash-1'")
done_at_kill=$(sql "SELECT count(*) FROM probes")
echo "at kill: probes=$done_at_kill leased=$leased"
if [ "$leased" -gt 0 ] && [ "$done_at_kill" -lt $N ]; then pass "killed_mid_sweep"; else fail "killed_mid_sweep" "got probes=$done_at_kill leased=$leased"; fi

# Another node: it must wait for crash-1's leases to expire (lease_time 10 s).
t0=$SECONDS
daemon_start "$TEST_TMP/2.conf" "$LOG"
if wait_for 40 sql_true "SELECT count(*) = $N FROM targets WHERE last_probe_id IS NOT NULL AND lease_owner IS NULL"; then
	pass "every_due_target_probed_after_the_crash"
else
	fail "every_due_target_probed_after_the_crash" "got $(sql "SELECT count(DISTINCT target_id) FROM probes") of $N"
fi
echo "finished $((SECONDS - t0)) s after the restart"
check_eq "every_target_has_a_probe" "$(sql "SELECT count(*) FROM targets t WHERE NOT EXISTS (SELECT 1 FROM probes p WHERE p.target_id = t.id)")" 0
dups=$(sql "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM probes GROUP BY target_id) d")
if [ "$dups" -le "$leased" ]; then pass "duplicates_only_among_leased"; else fail "duplicates_only_among_leased" "got $dups duplicates, want <= $leased"; fi
check_eq "sweep_counts_every_target" "$(sql "SELECT done || '/' || total FROM sweeps")" "$N/$N"
check_eq "leased_targets_went_to_the_new_node" "$(sql "SELECT count(*) >= $leased FROM probes WHERE node = 'crash-2'")" "t"
daemon_stop "$DAEMON_PID"; check_eq "term_exits_0" "$DAEMON_RC" 0

# The same node restarted takes its own leases back at once, without waiting.
sql "UPDATE targets SET lease_owner = 'crash-2', lease_expires = now() + interval '1 hour',
     next_probe_at = now() + interval '1 hour' WHERE id <= 10" >/dev/null
daemon_start "$TEST_TMP/2.conf" "$LOG"
# Leases are released before the re-probes are written: wait for both.
wait_for 10 sql_true "SELECT count(*) = 0 FROM targets WHERE lease_owner IS NOT NULL"
wait_for 10 sql_true "SELECT count(*) >= 20 FROM probes WHERE target_id <= 10"
check_eq "restarted_node_reprobes_its_own_leases_at_once" "$(sql "SELECT count(*) FROM probes WHERE target_id <= 10")" 20
daemon_stop "$DAEMON_PID"; check_eq "restart_term_exits_0" "$DAEMON_RC" 0
[ -n "${DAEMON_TEST_LOGDIR:-}" ] && grep -v "event=verdict" "$LOG" >"$DAEMON_TEST_LOGDIR/$SUITE.log"; echo "--- daemon log:"; grep -v "event=verdict" "$LOG" | tail -15
