#!/bin/bash
# make run (deploy/run.sh) with no database configured: embedded PostgreSQL,
# a private config, migrations, demo data, the daemon in the foreground;
# Ctrl-C stops everything and a second run reuses var/.
. "$(dirname "$0")/../lib.sh"
unset RELAYAUDIT_DATABASE
export RUN_SKIP_DEPS=1 RUN_SKIP_BUILD=1 RELAYAUDIT_VAR=$TEST_TMP/var RELAYAUDIT_RUN_ADDR=127.0.60.1
export PG_INITDB_OPTS=--no-sync
VAR=$RELAYAUDIT_VAR
DB="$(. "$ROOT/deploy/pg.sh"; pg_conninfo "$VAR/pg" relayaudit)"
DEMO_TARGETS=9  # deploy/demo-customers.csv after CIDR expansion
# Whatever happens, leave no cluster running under TEST_TMP.
trap 'kill "${RUN_PID:-}" 2>/dev/null; (. "$ROOT/deploy/pg.sh"; pg_stop "$VAR/pg"); bg_cleanup' EXIT

# Starts run.sh with SIGINT at its default (a script's & would ignore it), as a terminal would.
start_run() {
	if command -v python3 >/dev/null; then
		python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
			"$ROOT/deploy/run.sh" >"$1" 2>&1 &
	else
		"$ROOT/deploy/run.sh" >"$1" 2>&1 &
	fi
	RUN_PID=$!
}
stop_signal() { command -v python3 >/dev/null && echo INT || echo TERM; }

run_once() { # run_once N: start, check, Ctrl-C, check stopped
	local n=$1 log=$TEST_TMP/run$1.log rc daemon
	start_run "$log"
	if ! wait_for 90 grep -q "relayaudit is running" "$log"; then
		fail "run${n}_starts" "no banner within 90 s; log: $(tail -c 800 "$log")"
		kill "$RUN_PID" 2>/dev/null; wait "$RUN_PID"
		return 1
	fi
	pass "run${n}_starts"
	check_contains "run${n}_banner_names_the_config" "$(cat "$log")" "config     $VAR/relayaudit.conf"
	check_contains "run${n}_banner_names_the_socket" "$(cat "$log")" "socket $VAR/pg/.s.PGSQL.5432"
	check_contains "run${n}_banner_names_the_api" "$(cat "$log")" "API        http://127.0.60.1:8080/v1/"
	check_contains "run${n}_banner_names_the_dashboard" "$(cat "$log")" "dashboard  http://127.0.60.1:8080/ "
	check_eq "run${n}_dashboard_is_served" "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' http://127.0.60.1:8080/)" \
		"200 text/html; charset=utf-8"
	daemon=$(sed -n 's/.*bin\/relayauditd pid \([0-9]*\).*/\1/p' "$log")
	if kill -0 "$daemon" 2>/dev/null; then pass "run${n}_daemon_runs"; else fail "run${n}_daemon_runs" "pid '$daemon' not alive"; fi
	check_eq "run${n}_demo_customers_loaded" "$(psql -X -tA "$DB" -c 'SELECT count(*) FROM targets')" "$DEMO_TARGETS"
	check_eq "run${n}_demo_targets_are_loopback_127_0_70" \
		"$(psql -X -tA "$DB" -c "SELECT count(*) FROM targets WHERE NOT address << '127.0.70.0/24'")" 0
	check_eq "run${n}_schema_is_current" "$(psql -X -tA "$DB" -c 'SELECT count(*) FROM schema_migrations')" \
		"$(ls "$ROOT"/migrations/[0-9]*_*.sql | wc -l)"
	kill -"$(stop_signal)" "$RUN_PID"
	wait_for 60 sh -c "! kill -0 $RUN_PID"
	wait "$RUN_PID"; rc=$?
	check_eq "run${n}_ctrl_c_exits_0" "$rc" 0
	if kill -0 "$daemon" 2>/dev/null; then fail "run${n}_ctrl_c_stops_the_daemon" "pid $daemon alive"; else pass "run${n}_ctrl_c_stops_the_daemon"; fi
	if [ -e "$VAR/pg/data/postmaster.pid" ]; then
		fail "run${n}_ctrl_c_stops_postgresql" "postmaster.pid still there"
	else
		pass "run${n}_ctrl_c_stops_postgresql"
	fi
}

run_once 1
check_eq "config_is_private" "$(stat -c %a "$VAR/relayaudit.conf")" 600
secret=$(sed -n 's/^secret = //p' "$VAR/relayaudit.conf")
check_eq "config_has_a_random_secret" "${#secret}" 48
out=$("$RELAYCTL" config check -c "$VAR/relayaudit.conf" 2>&1)
check_eq "written_config_is_valid" "$?" 0

run_once 2
check_eq "second_run_keeps_the_secret" "$(sed -n 's/^secret = //p' "$VAR/relayaudit.conf")" "$secret"
check_contains "second_run_imports_nothing_new" "$(cat "$TEST_TMP/run2.log")" "customers_new=0 customers_changed=0 targets_new=0 targets_changed=0"
check_contains "second_run_migrates_nothing" "$(cat "$TEST_TMP/run2.log")" "applied=0"
