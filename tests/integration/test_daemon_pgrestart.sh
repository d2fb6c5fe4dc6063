#!/bin/bash
# PostgreSQL stopped at once (-m immediate: connections cut mid-statement)
# for longer than lease_time, mid-sweep, with open relays delivering to the
# node's sink: the node keeps its finished results and receipts in memory,
# reconnects, writes them, and logs the outage once per connection; no
# result is dropped, lost or written twice, and every relay is confirmed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/sim_lib.sh"
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
R=40 # open relays, one every 60 targets of the sweep
SINK=127.0.54.60
LOG=$TEST_TMP/pgrestart.log
daemon_conf "$TEST_TMP/p.conf" pg-1 "probe_rate = 500" "schedule_batch = 500" "probe_concurrency = 1000" \
	"roles = probe,sink" "sink_domain = sink.pgrestart.test" "sink_listen = $SINK:2525"
daemon_targets $N
sim_start pg_relays 127.0.55.0/26:2525=open --sink "$SINK:2525" || fail sim_started "relaysim did not start"
sql "INSERT INTO targets (customer_id, address, ports)
     SELECT (SELECT id FROM customers WHERE ext_id = 'c1'), '127.0.55.0'::inet + g, '{2525}'
       FROM generate_series(1, $R) g" >/dev/null
# The claim takes the oldest next_probe_at first: relay j comes after target 60 j.
sql "UPDATE targets SET next_probe_at = now() - interval '1 hour' + CASE WHEN address << '127.0.55.0/24'
       THEN (address - '127.0.55.0'::inet) * 60 + 0.5 ELSE id END * interval '1 ms'" >/dev/null
daemon_start "$TEST_TMP/p.conf" "$LOG"
wait_for 20 sql_true "SELECT count(*) >= 500 FROM probes"
pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1
wait_for 10 grep -q 'event=db_down' "$LOG"
check_contains "outage_is_logged" "$(cat "$LOG")" "event=db_down"
# Longer than lease_time (10 s): the leases run out while the results wait in memory.
sleep 12
pg_start "$PGDIR" || { fail "pg_restart" "PostgreSQL did not come back"; exit 1; }
N=$((N + R))
if wait_for 40 sql_true "SELECT count(*) = $N FROM targets WHERE last_probe_id IS NOT NULL AND lease_owner IS NULL"; then
	pass "sweep_completes_after_the_outage"
else
	fail "sweep_completes_after_the_outage" "got $(sql "SELECT count(DISTINCT target_id) FROM probes") of $N"
fi
check_eq "no_result_lost_or_doubled" "$(sql "SELECT count(*) || '/' || count(DISTINCT target_id) FROM probes")" "$N/$N"
if grep -q 'event=results_dropped' "$LOG"; then
	fail no_results_dropped "$(grep 'event=results_dropped' "$LOG" | head -3)"
else
	pass no_results_dropped
fi
if wait_for 30 sql_true "SELECT count(*) = $R FROM targets WHERE address << '127.0.55.0/24' AND last_verdict = 'relay_confirmed'"; then
	pass every_relay_confirmed_after_the_outage
else
	fail every_relay_confirmed_after_the_outage "got $(sql "SELECT string_agg(coalesce(last_verdict::text, '-'), ',') FROM targets WHERE address << '127.0.55.0/24'")"
fi
check_eq no_receipt_lost "$(grep -c 'event=sink_receipt_lost' "$LOG")" 0
most=$(grep -o 'event=db_down conn=[a-z0-9]*' "$LOG" | sort | uniq -c | sort -rn | awk 'NR == 1 {print $1}')
check_eq "outage_logged_once_per_connection" "$most" 1
check_contains "reconnect_is_logged" "$(cat "$LOG")" "event=db_up"
daemon_stop "$DAEMON_PID"; check_eq "term_exits_0" "$DAEMON_RC" 0
sim_stop pg_relays
[ -n "${DAEMON_TEST_LOGDIR:-}" ] && grep -v "event=verdict" "$LOG" >"$DAEMON_TEST_LOGDIR/$SUITE.log"; echo "--- daemon log:"; grep -v "event=verdict" "$LOG" | tail -15
