#!/bin/bash
# PostgreSQL stopped and started again mid-sweep: the node keeps its
# finished results in memory, reconnects, writes them, and logs the outage
# once per connection; no result is lost or written twice.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$ROOT/deploy/pg.sh"
cd "$TEST_TMP" || exit 1
# Its own cluster: stopping the suite's shared one would break the tests
# that tests/run.sh runs beside this one.
PGDIR=$TEST_TMP/pgrestart-pg
pg_start "$PGDIR" || { fail "pg_start" "could not start a private PostgreSQL"; exit 1; }
trap 'bg_cleanup; pg_stop "$PGDIR"' EXIT
pg_createdb "$PGDIR" pgrestart || { fail "createdb" "could not create the database"; exit 1; }
RELAYAUDIT_DATABASE=$(pg_conninfo "$PGDIR" pgrestart)
export RELAYAUDIT_DATABASE
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }
N=3000
LOG=$TEST_TMP/pgrestart.log
daemon_conf "$TEST_TMP/p.conf" pg-1 "probe_rate = 500" "schedule_batch = 500" "probe_concurrency = 1000"
daemon_targets $N
daemon_start "$TEST_TMP/p.conf" "$LOG"
wait_for 20 sql_true "SELECT count(*) >= 500 FROM probes"
pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1
wait_for 10 grep -q 'event=db_down' "$LOG"
check_contains "outage_is_logged" "$(cat "$LOG")" "event=db_down"
sleep 2 # an outage long enough for finished probes to pile up in memory
pg_start "$PGDIR" || { fail "pg_restart" "PostgreSQL did not come back"; exit 1; }
if wait_for 40 sql_true "SELECT count(*) = $N FROM targets WHERE last_probe_id IS NOT NULL AND lease_owner IS NULL"; then
	pass "sweep_completes_after_the_outage"
else
	fail "sweep_completes_after_the_outage" "got $(sql "SELECT count(DISTINCT target_id) FROM probes") of $N"
fi
check_eq "no_result_lost_or_doubled" "$(sql "SELECT count(*) || '/' || count(DISTINCT target_id) FROM probes")" "$N/$N"
most=$(grep -o 'event=db_down conn=[a-z0-9]*' "$LOG" | sort | uniq -c | sort -rn | awk 'NR == 1 {print $1}')
check_eq "outage_logged_once_per_connection" "$most" 1
check_contains "reconnect_is_logged" "$(cat "$LOG")" "event=db_up"
daemon_stop "$DAEMON_PID"; check_eq "term_exits_0" "$DAEMON_RC" 0
[ -n "${DAEMON_TEST_LOGDIR:-}" ] && grep -v "event=verdict" "$LOG" >"$DAEMON_TEST_LOGDIR/$SUITE.log"; echo "--- daemon log:"; grep -v "event=verdict" "$LOG" | tail -15
