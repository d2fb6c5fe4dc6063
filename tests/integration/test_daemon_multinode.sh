#!/bin/bash
# Two relayauditd nodes on one database share a round of work: every due
# target is probed exactly once, and both nodes take part.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }
N=2000
# Small batches and a connect rate so the round lasts long enough for both to claim.
daemon_conf "$TEST_TMP/a.conf" node-a "schedule_batch = 50" "probe_concurrency = 100" "probe_rate = 600"
daemon_conf "$TEST_TMP/b.conf" node-b "schedule_batch = 50" "probe_concurrency = 100" "probe_rate = 600"
daemon_targets $N
daemon_start "$TEST_TMP/a.conf" "$TEST_TMP/a.log"; A=$DAEMON_PID
daemon_start "$TEST_TMP/b.conf" "$TEST_TMP/b.log"; B=$DAEMON_PID
if wait_for 30 sql_true "SELECT count(*) = $N FROM targets WHERE last_probe_id IS NOT NULL AND lease_owner IS NULL"; then
	pass "round_completes"
else
	fail "round_completes" "got $(sql "SELECT count(*) FROM targets WHERE last_probe_id IS NOT NULL") of $N"
fi
check_eq "no_target_probed_twice" "$(sql "SELECT count(*) FROM (SELECT target_id FROM probes GROUP BY target_id HAVING count(*) > 1) d")" 0
check_eq "every_target_probed" "$(sql "SELECT count(DISTINCT target_id) FROM probes")" $N
a=$(sql "SELECT count(*) FROM probes WHERE node = 'node-a'")
b=$(sql "SELECT count(*) FROM probes WHERE node = 'node-b'")
if [ "$a" -gt 0 ] && [ "$b" -gt 0 ]; then
	pass "both_nodes_share_the_work"
else
	fail "both_nodes_share_the_work" "got node-a=$a node-b=$b, want both > 0"
fi
echo "node-a=$a node-b=$b"
daemon_stop "$A"; check_eq "node_a_term_exits_0" "$DAEMON_RC" 0
daemon_stop "$B"; check_eq "node_b_term_exits_0" "$DAEMON_RC" 0
