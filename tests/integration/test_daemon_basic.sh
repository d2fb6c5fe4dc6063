#!/bin/bash
# relayauditd end to end on a real PostgreSQL: -n checks the config, the
# daemon probes every due target once and writes its result, TERM exits 0
# with no lease left, HUP reloads.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }

CONF=$TEST_TMP/basic.conf
LOG=$TEST_TMP/basic.log
daemon_conf "$CONF" basic-1
chmod 600 "$CONF"

out=$("$RELAYAUDITD" -n -c "$CONF" 2>&1); rc=$?
check_eq "check_config_exits_0" "$rc" 0
check_contains "check_config_says_ok" "$out" "configuration ok"
echo "probe_rate = lots" >"$TEST_TMP/bad.conf"
"$RELAYAUDITD" -n -c "$TEST_TMP/bad.conf" >/dev/null 2>&1; rc=$?
check_eq "check_bad_config_exits_1" "$rc" 1
daemon_conf "$TEST_TMP/nosecret.conf" x "secret ="
"$RELAYAUDITD" -n -c "$TEST_TMP/nosecret.conf" >/dev/null 2>&1; rc=$?
check_eq "check_probe_role_without_secret_exits_1" "$rc" 1

daemon_targets 60 0 '{25,587}'
daemon_start "$CONF" "$LOG"
if wait_for 20 sql_true "SELECT count(*) = 60 FROM targets WHERE last_verdict = 'no_smtp' AND lease_owner IS NULL"; then
	pass "every_due_target_probed"
else
	fail "every_due_target_probed" "got $(sql "SELECT count(*) FROM targets WHERE last_verdict = 'no_smtp'") of 60 done"
fi
check_eq "one_probe_row_per_port" "$(sql "SELECT count(*) || '/' || count(DISTINCT (target_id, port)) FROM probes")" "120/120"
check_eq "probe_rows_carry_node_and_evidence" \
	"$(sql "SELECT count(*) FROM probes WHERE node = 'basic-1' AND evidence->>'verdict' = 'no_smtp' AND finished_at IS NOT NULL")" 120
check_eq "no_smtp_comes_back_after_no_smtp_interval" \
	"$(sql "SELECT count(*) FROM targets WHERE next_probe_at > now() + interval '26 days'")" 60
check_eq "heartbeat_in_nodes" "$(sql "SELECT count(*) FROM nodes WHERE name = 'basic-1' AND last_seen > now() - interval '1 min'")" 1

# HUP: a new exclusion and poll interval are taken, the daemon keeps running.
daemon_conf "$CONF" basic-1 "exclude = 127.0.40.0/24"
kill -HUP "$DAEMON_PID"
wait_for 5 grep -q 'event=reloaded file=' "$LOG"
check_contains "hup_reloads" "$(cat "$LOG")" "event=reloaded file="
sql "UPDATE targets SET next_probe_at = now(), priority = 3 WHERE address = '127.0.40.5'" >/dev/null
wait_for 5 sql_true "SELECT lease_owner IS NULL AND next_probe_at > now() + interval '1 day' FROM targets WHERE address = '127.0.40.5'"
check_eq "hup_exclusion_applies_to_the_next_claim" \
	"$(sql "SELECT count(*) FROM probes p JOIN targets t ON t.id = p.target_id WHERE t.address = '127.0.40.5'")" 2

daemon_stop "$DAEMON_PID"
check_eq "term_exits_0" "$DAEMON_RC" 0
check_eq "no_lease_left_after_term" "$(sql "SELECT count(*) FROM targets WHERE lease_owner IS NOT NULL")" 0
check_contains "stop_is_logged" "$(cat "$LOG")" "event=stopped status=0"
[ -n "${DAEMON_TEST_LOGDIR:-}" ] && grep -v "event=verdict" "$LOG" >"$DAEMON_TEST_LOGDIR/$SUITE.log"; echo "--- daemon log:"; if grep -q "ERROR: AddressSanitizer\|runtime error" "$LOG"; then grep -A12 "ERROR: AddressSanitizer\|runtime error" "$LOG" | head -24; else grep -v "event=verdict" "$LOG" | tail -15; fi
