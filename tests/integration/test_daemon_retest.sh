#!/bin/bash
# A re-test request (priority 3, due now) reaches an idle relayauditd through
# NOTIFY relayaudit_due and is probed within a second, although the daemon
# would poll only once a minute.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }
CONF=$TEST_TMP/retest.conf
LOG=$TEST_TMP/retest.log
daemon_conf "$CONF" retest-1 "poll_interval = 60s"
daemon_targets 20
daemon_start "$CONF" "$LOG"
wait_for 15 sql_true "SELECT count(*) = 20 FROM targets WHERE last_probe_id IS NOT NULL AND lease_owner IS NULL"
check_eq "first_round_done" "$(sql "SELECT count(*) FROM probes")" 20

for i in 1 2 3; do
	before=$(sql "SELECT count(*) FROM probes WHERE address = '127.0.40.$i'")
	t0=$(date +%s%N)
	sql "UPDATE targets SET priority = 3, next_probe_at = now() WHERE address = '127.0.40.$i'" >/dev/null
	wait_for 5 sql_true "SELECT count(*) > $before FROM probes WHERE address = '127.0.40.$i'"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	if [ "$ms" -lt 1000 ]; then
		pass "retest_${i}_probed_within_a_second"
	else
		fail "retest_${i}_probed_within_a_second" "got ${ms} ms, want < 1000"
	fi
done
check_eq "retest_resets_priority" "$(sql "SELECT count(*) FROM targets WHERE priority <> 0")" 0
daemon_stop "$DAEMON_PID"
check_eq "term_exits_0" "$DAEMON_RC" 0
[ -n "${DAEMON_TEST_LOGDIR:-}" ] && grep -v "event=verdict" "$LOG" >"$DAEMON_TEST_LOGDIR/$SUITE.log"; echo "--- daemon log:"; grep -v "event=verdict" "$LOG" | tail -15
