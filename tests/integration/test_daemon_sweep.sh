#!/bin/bash
# relayctl sweep and status against a running relayauditd: a sweep marks
# targets due under an id, --wait follows its progress to the end, scopes
# select by CIDR and customer, status reports queue, nodes and verdicts.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }
CONF=$TEST_TMP/sweep.conf
LOG=$TEST_TMP/sweep.log
daemon_conf "$CONF" sweep-1 "probe_rate = 400"
daemon_targets 400
sql "UPDATE targets SET next_probe_at = now() + interval '1 day'" >/dev/null
sql "INSERT INTO customers (ext_id, contact_email) VALUES ('c2', 'c2@example.net')" >/dev/null
sql "UPDATE targets SET customer_id = (SELECT id FROM customers WHERE ext_id = 'c2') WHERE address > '127.0.40.250'" >/dev/null

"$RELAYCTL" sweep -c "$CONF" >/dev/null 2>&1; rc=$?
check_eq "sweep_without_scope_is_usage_error" "$rc" 2
"$RELAYCTL" sweep -c "$CONF" --cidr 127.0.40.0/99 >/dev/null 2>&1; rc=$?
check_eq "sweep_bad_cidr_is_usage_error" "$rc" 2
out=$("$RELAYCTL" sweep -c "$CONF" --customer nobody 2>&1); rc=$?
check_eq "sweep_unknown_customer_exits_1" "$rc" 1
check_contains "sweep_unknown_customer_says_so" "$out" "no such customer"

daemon_start "$CONF" "$LOG"
out=$(timeout 60 "$RELAYCTL" sweep -c "$CONF" --all --wait 2>&1); rc=$?
check_eq "sweep_all_wait_exits_0" "$rc" 0
check_contains "sweep_all_marks_every_target" "$out" "400 targets marked due"
check_contains "sweep_wait_prints_progress" "$out" "done ("
check_contains "sweep_wait_prints_the_done_line" "$(echo "$out" | tail -2 | head -1)" "done, 400 targets in"
check_contains "sweep_wait_ends_with_the_verdicts" "$(echo "$out" | tail -1)" "verdicts: no_smtp 400"
check_eq "sweep_probes_every_target_once" "$(sql "SELECT count(*) || '/' || count(DISTINCT target_id) FROM probes")" "400/400"
check_eq "sweep_counters_complete" "$(sql "SELECT done || '/' || total || ' ' || (finished_at IS NOT NULL) FROM sweeps ORDER BY id DESC LIMIT 1")" "400/400 true"
check_eq "sweep_marks_are_cleared" "$(sql "SELECT count(*) FROM targets WHERE sweep_id IS NOT NULL OR priority <> 0")" 0

out=$("$RELAYCTL" sweep -c "$CONF" --cidr 127.0.40.0/26 --priority 2 --wait --timeout 30 2>&1); rc=$?
check_eq "sweep_cidr_exits_0" "$rc" 0
check_contains "sweep_cidr_marks_only_the_range" "$out" "63 targets marked due (scope cidr, priority 2)"
out=$("$RELAYCTL" sweep -c "$CONF" --customer c2 --wait --timeout 30 2>&1); rc=$?
check_contains "sweep_customer_marks_only_theirs" "$out" "150 targets marked due (scope customer"
check_eq "sweeps_add_one_probe_per_marked_target" "$(sql "SELECT count(*) FROM probes")" $((400 + 63 + 150))

out=$("$RELAYCTL" status -c "$CONF" 2>&1); rc=$?
check_eq "status_exits_0" "$rc" 0
check_contains "status_counts_targets" "$out" "targets: 400 (0 excluded)"
check_contains "status_shows_queue" "$out" "queue: 0 due now, 0 leased"
check_contains "status_lists_the_live_node" "$out" "node sweep-1"
check_contains "status_counts_verdicts" "$out" "no_smtp                613"
daemon_stop "$DAEMON_PID"
check_eq "term_exits_0" "$DAEMON_RC" 0
[ -n "${DAEMON_TEST_LOGDIR:-}" ] && grep -v "event=verdict" "$LOG" >"$DAEMON_TEST_LOGDIR/$SUITE.log"; echo "--- daemon log:"; grep -v "event=verdict" "$LOG" | tail -15
