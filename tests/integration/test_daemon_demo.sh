#!/bin/bash
# make run's demo: deploy/run.sh starts relaysim servers for the demo
# customers and the daemon audits them. Within a minute of the start every
# demo target has its verdict: the open relay proven through the sink
# (relay_confirmed), the closed ones closed, the greylisting one closed once
# the greylist lets it through, the accept-and-drop one accepted, and the
# customer without a server no_smtp; the verdicts are in the log.
. "$(dirname "$0")/../lib.sh"
unset RELAYAUDIT_DATABASE
mkdir -p "$TEST_TMP/$SUITE" && cd "$TEST_TMP/$SUITE" || exit 1
TEST_TMP=$TEST_TMP/$SUITE
export RUN_SKIP_DEPS=1 RUN_SKIP_BUILD=1 RELAYAUDIT_VAR=$TEST_TMP/var RELAYAUDIT_RUN_ADDR=127.0.41.1
export PG_INITDB_OPTS=--no-sync
VAR=$RELAYAUDIT_VAR
DB="$(. "$ROOT/deploy/pg.sh"; pg_conninfo "$VAR/pg" relayaudit)"
LOG=$TEST_TMP/demo.log
trap 'kill "${RUN_PID:-}" 2>/dev/null; (. "$ROOT/deploy/pg.sh"; pg_stop "$VAR/pg"); bg_cleanup' EXIT

# SIGINT at its default, as from a terminal (a script's & would ignore it).
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
	"$ROOT/deploy/run.sh" >"$LOG" 2>&1 &
RUN_PID=$!
wait_for 90 grep -q "relayaudit is running" "$LOG" || { fail "demo_starts" "no banner; log: $(tail -c 800 "$LOG")"; exit 1; }
t0=$SECONDS # the minute counts from the daemon's start (the build and database set-up come before)
check_contains "demo_starts_the_simulators" "$(cat "$LOG")" "demo servers (relaysim): 127.0.70.10:2525=open"

verdict_of() { psql -X -tA "$DB" -c "SELECT last_verdict FROM targets WHERE address = '$1'"; }
all_done() {
	[ "$(psql -X -tA "$DB" -c "SELECT count(*) FROM targets WHERE last_verdict IS NULL")" = 0 ] &&
		[ "$(verdict_of 127.0.70.10)" = relay_confirmed ]
}
if wait_for $((60 - (SECONDS - t0))) all_done; then
	pass "every_demo_target_has_a_verdict_within_a_minute"
else
	fail "every_demo_target_has_a_verdict_within_a_minute" \
		"got $(psql -X -tA "$DB" -c "SELECT string_agg(host(address) || '=' || coalesce(last_verdict::text, '-'), ' ' ORDER BY address) FROM targets")"
fi
check_eq "open_relay_is_proven_through_the_sink" "$(verdict_of 127.0.70.10)" relay_confirmed
check_eq "closed_server_is_closed" "$(verdict_of 127.0.70.11)" closed
check_eq "greylisting_server_is_closed_after_the_retry" "$(verdict_of 127.0.70.12)" closed
check_eq "accept_and_drop_server_is_accepted" "$(verdict_of 127.0.70.13)" accepted
check_eq "range_servers_are_closed" "$(psql -X -tA "$DB" -c "SELECT count(*) FROM targets WHERE address <<= '127.0.70.16/30' AND last_verdict = 'closed'")" 4
check_eq "customer_without_server_is_no_smtp" "$(verdict_of 127.0.70.20)" no_smtp
check_contains "verdicts_are_logged" "$(cat "$LOG")" "event=verdict address=127.0.70.11 port=2525 verdict=closed"
check_contains "no_smtp_verdicts_are_logged_at_info_in_the_demo" "$(cat "$LOG")" "level=info event=verdict address=127.0.70.20 port=2525 verdict=no_smtp"
relay_lines=$(grep -c "event=verdict address=127.0.70.10 port=2525 verdict=relay_confirmed" "$LOG")
relay_probes=$(psql -X -tA "$DB" -c "SELECT count(*) FROM probes WHERE address = '127.0.70.10' AND verdict = 'relay_confirmed'")
check_eq "one_verdict_line_per_relay_probe_not_per_receipt" "$relay_lines" "$relay_probes"
check_eq "no_line_per_receipt" "$(grep -cE "level=[a-z]+ event=relay_confirmed" "$LOG")" 0
check_eq "demo_targets_come_back_in_minutes" \
	"$(psql -X -tA "$DB" -c "SELECT count(*) FROM targets WHERE next_probe_at < now() + interval '6 min'")" 9
# The proven relay becomes a blocked case: the tree's log-only hook applies
# the block (its log under var/) and the customer's mail lands in var/outbox.
if wait_for 30 grep -q " applied block 127.0.70.10 " "$VAR/enforcer.log"; then
	pass "relay_case_is_blocked_through_the_trees_hook"
else
	fail "relay_case_is_blocked_through_the_trees_hook" "got enforcer log '$(cat "$VAR/enforcer.log" 2>&1 | head -c 300)', cases: $(psql -X -tA "$DB" -c "SELECT string_agg(state::text || ' ' || coalesce(enforcement_error, ''), '; ') FROM cases")"
fi
if wait_for 30 sh -c "ls '$VAR/outbox/' | grep -q '\.eml$'"; then
	pass "customer_mail_lands_in_the_outbox"
else
	fail "customer_mail_lands_in_the_outbox" "got '$(ls "$VAR/outbox" 2>&1)' in $VAR/outbox"
fi
kill -INT "$RUN_PID"
wait_for 60 sh -c "! kill -0 $RUN_PID"
wait "$RUN_PID"; rc=$?
check_eq "ctrl_c_exits_0" "$rc" 0
