#!/bin/bash
# A re-test request (priority 3, due now) reaches an idle relayauditd through
# NOTIFY relayaudit_due and its probe starts within a second, although the
# daemon would poll only once a minute; the probe answers the request row.
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

# Each re-test request is recorded with the time it was made; the probe
# that answers it carries the time it started (both from this host's clock),
# so the delay is measured without the test's own psql round trips.
for i in 1 2 3; do
	sql "BEGIN;
	     INSERT INTO retest_requests (target_id, requested_by, requested_at)
	       SELECT id, 'test', clock_timestamp() FROM targets WHERE address = '127.0.40.$i';
	     UPDATE targets SET priority = 3, next_probe_at = now() WHERE address = '127.0.40.$i';
	     COMMIT" >/dev/null
	if wait_for 10 sql_true "SELECT probe_id IS NOT NULL FROM retest_requests r JOIN targets t ON t.id = r.target_id WHERE t.address = '127.0.40.$i'"; then
		pass "retest_${i}_answered"
	else
		fail "retest_${i}_answered" "no probe answered the request within 10 s"
	fi
	ms=$(sql "SELECT round(extract(epoch FROM p.started_at - r.requested_at) * 1000)
	          FROM retest_requests r JOIN probes p ON p.id = r.probe_id JOIN targets t ON t.id = r.target_id
	          WHERE t.address = '127.0.40.$i'")
	if [ -n "$ms" ] && [ "$ms" -lt 1000 ]; then
		pass "retest_${i}_started_within_a_second"
	else
		fail "retest_${i}_started_within_a_second" "got ${ms:-no probe} ms after the request, want < 1000"
	fi
done
check_eq "retest_resets_priority" "$(sql "SELECT count(*) FROM targets WHERE priority <> 0")" 0
daemon_stop "$DAEMON_PID"
check_eq "term_exits_0" "$DAEMON_RC" 0
[ -n "${DAEMON_TEST_LOGDIR:-}" ] && grep -v "event=verdict" "$LOG" >"$DAEMON_TEST_LOGDIR/$SUITE.log"; echo "--- daemon log:"; grep -v "event=verdict" "$LOG" | tail -15
