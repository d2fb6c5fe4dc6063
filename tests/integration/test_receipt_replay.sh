#!/bin/bash
# The replay of issue 11, tried as an attacker would: a viewer reads a
# probe's evidence through the API, and a second SMTP client sends the sink
# a message with what it found. Evidence shows only the first 8 characters
# of a token; and even a whole token (leaked some other way) is refused when
# its attempt could not have caused the message (554 after DATA, used
# before): the verdict and the case stay as they were, the anomaly is kept
# with its reason, shown in the probe's evidence and counted in /metrics.
SUITE=receipt_replay
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/sink_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }

SINK=127.0.71.60
CLOSED=127.0.71.61 # datareject: 250 to RCPT, 554 after the final dot
OPEN=127.0.71.62
API_PORT=$((20000 + RANDOM % 20000))
API_BASE=http://127.0.71.70:$API_PORT
CONF=$TEST_TMP/replay.conf
LOG=$TEST_TMP/replay.log
export RELAYAUDIT_ENFORCER_LOG=$TEST_TMP/enforcer.log
daemon_conf "$CONF" replay-1 "roles = probe,sink,workflow,api" "sink_listen = $SINK:2525" \
	"sink_domain = $SINK_DOMAIN" "confirm_window = 20s" "greylist_wait = 1s" \
	"secret = $SINK_SECRET" "api_listen = 127.0.71.70:$API_PORT" "api_threads = 2" \
	"outbox_dir = $TEST_TMP/outbox" "enforcer_command = $ROOT/deploy/enforcers/log-only" \
	"retest_url = $API_BASE/r/" "loopback_only = yes"

sim_start replay "$CLOSED:2525=datareject" "$OPEN:2525=open" --sink "$SINK:2525" ||
	fail sim_started "relaysim did not start"
sql "INSERT INTO customers (ext_id, contact_email) VALUES ('r1', 'r1@example.net')" >/dev/null
sql "INSERT INTO targets (customer_id, address, ports)
     SELECT id, a::inet, '{2525}' FROM customers, unnest(ARRAY['$CLOSED', '$OPEN']) a
     WHERE ext_id = 'r1'" >/dev/null
daemon_start "$CONF" "$LOG"
VIEWER=$("$RELAYCTL" token create --name replay-viewer --role viewer -c "$CONF" 2>/dev/null)

wait_for 40 sql_true "SELECT count(*) = 1 FROM probes WHERE address = '$CLOSED' AND verdict IS NOT NULL"
closed=$(sql "SELECT id FROM probes WHERE address = '$CLOSED' ORDER BY id LIMIT 1")
check_eq datareject_probe_is_closed "$(sql "SELECT verdict FROM probes WHERE id = ${closed:-0}")" closed
wait_for 40 sql_true "SELECT count(*) = 1 FROM cases WHERE address = '$OPEN' AND blocked"
open=$(sql "SELECT id FROM probes WHERE address = '$OPEN' ORDER BY id LIMIT 1")
check_eq open_relay_confirmed_and_blocked \
	"$(sql "SELECT p.verdict || ' ' || k.state FROM probes p JOIN cases k ON k.probe_id = p.id WHERE p.id = ${open:-0}")" \
	"relay_confirmed blocked"

# 1. What a viewer can read: tokens shortened everywhere in the evidence.
evidence=$(curl -s --max-time 10 -H "Authorization: Bearer $VIEWER" "$API_BASE/v1/probes/$closed")
check_contains viewer_reads_the_evidence "$evidence" '"attempts"'
whole='rt[0-9a-f]{30}'
check_eq evidence_has_no_whole_token "$(grep -Eoc "$whole" <<<"$evidence")" 0
short=$(grep -Eo 'rt[0-9a-f]{14}\.\.\.' <<<"$evidence" | head -1)
if [ -n "$short" ]; then pass evidence_shows_tokens_without_their_mac; else
	fail evidence_shows_tokens_without_their_mac "got no rt + 14 hex digits + ... in ${evidence:0:300}"; fi
distinct=$(jq -r '.evidence.attempts[].rcpt_to // empty' <<<"$evidence" | grep -Eo 'rt[0-9a-f]{14}\.\.\.' | sort -u | wc -l)
attempts=$(jq -r '.evidence.attempts[].rcpt_to // empty' <<<"$evidence" | grep -Ec 'rt[0-9a-f]{14}\.\.\.')
if [ "$attempts" -gt 1 ] && [ "$distinct" = "$attempts" ]; then pass shortened_tokens_tell_attempts_apart
else fail shortened_tokens_tell_attempts_apart "got $distinct distinct of $attempts attempts' shortened tokens"; fi
for f in "$LOG" "$TEST_TMP"/outbox/* ; do
	[ -f "$f" ] || continue
	n=$(grep -Ec "$whole" "$f")
	[ "$n" = 0 ] || fail "no_whole_token_in_$(basename "$f")" "got $n lines with a whole token"
done
pass logs_and_mails_checked_for_whole_tokens

# 2. The attacker sends what the viewer saw: not a token at all, nothing changes.
smtp_script "$SINK" 2525 >/dev/null <<EOT
EHLO attacker.test
MAIL FROM:<someone@outside.test>
RCPT TO:<${short%...}@$SINK_DOMAIN>
DATA
Subject: relay test $short

.
QUIT
EOT

# 3. A whole token leaked some other way, of the attempt the server refused after DATA.
tok=$(sql "SELECT token FROM probe_attempts WHERE probe_id = ${closed:-0} AND NOT backscatter AND eod_code = 554 ORDER BY idx LIMIT 1")
before=$(sql "SELECT count(*) FROM sink_receipts")
smtp_script "$SINK" 2525 >/dev/null <<EOT
EHLO attacker.test
MAIL FROM:<someone@outside.test>
RCPT TO:<$tok@$SINK_DOMAIN>
DATA
Subject: relay test $tok
Message-ID: <$tok@relayaudit.invalid>

.
QUIT
EOT
wait_for 15 sql_true "SELECT count(*) > 0 FROM sink_receipts WHERE probe_id = ${closed:-0} AND applied"
check_eq replayed_token_is_an_anomaly \
	"$(sql "SELECT anomaly FROM sink_receipts WHERE probe_id = ${closed:-0}")" \
	"target refused the attempt's message after DATA"
check_eq replay_leaves_the_verdict \
	"$(sql "SELECT verdict FROM probes WHERE id = ${closed:-0}")/$(sql "SELECT last_verdict FROM targets WHERE address = '$CLOSED'")" \
	closed/closed
check_eq replay_of_the_short_form_names_no_probe \
	"$(sql "SELECT count(*) FROM sink_receipts WHERE id > $before - 1 AND probe_id IS NULL") $(sql "SELECT count(*) FROM sink_receipts WHERE probe_id IS NULL AND NOT applied")" "1 0"
sleep 2 # the workflow would have opened a case by now
check_eq replay_opens_no_case "$(sql "SELECT count(*) FROM cases WHERE address = '$CLOSED'")" 0

# 4. A used token of the blocked relay, sent again: the case does not move.
events=$(sql "SELECT count(*) FROM case_events")
used=$(sql "SELECT token FROM probe_attempts WHERE probe_id = ${open:-0} AND outcome = 'relayed' AND NOT backscatter ORDER BY idx LIMIT 1")
smtp_script "$SINK" 2525 >/dev/null <<EOT
EHLO attacker.test
MAIL FROM:<someone@outside.test>
RCPT TO:<$used@$SINK_DOMAIN>
DATA
Subject: relay test $used

.
QUIT
EOT
wait_for 15 sql_true "SELECT count(*) > 0 FROM sink_receipts WHERE probe_id = ${open:-0} AND anomaly IS NOT NULL"
check_eq used_token_again_is_an_anomaly \
	"$(sql "SELECT anomaly FROM sink_receipts WHERE probe_id = ${open:-0} AND anomaly IS NOT NULL")" \
	"token already used by an earlier receipt"
sleep 2
check_eq used_token_again_leaves_the_case \
	"$(sql "SELECT state || ' ' || blocked FROM cases WHERE address = '$OPEN'") $(sql "SELECT count(*) FROM case_events")" \
	"blocked true $events"

# 5. The evidence page shows each anomaly and the Received-chain check.
evidence=$(curl -s --max-time 10 -H "Authorization: Bearer $VIEWER" "$API_BASE/v1/probes/$closed")
check_eq evidence_lists_the_anomaly "$(jq -r '.anomalies[0].reason' <<<"$evidence")" \
	"target refused the attempt's message after DATA"
check_eq evidence_says_the_replay_did_not_come_through_the_target \
	"$(jq -r '.anomalies[0].via_target' <<<"$evidence")" false
evidence=$(curl -s --max-time 10 -H "Authorization: Bearer $VIEWER" "$API_BASE/v1/probes/$open")
check_eq evidence_says_relayed_receipts_came_through_the_target \
	"$(jq -r '[.receipts[] | select(.anomaly == null) | .via_target] | unique | join(",")' <<<"$evidence")" true
metrics=$(curl -s --max-time 10 -H "Authorization: Bearer $VIEWER" "$API_BASE/metrics")
check_contains metrics_count_anomalies "$metrics" \
	"relayaudit_receipt_anomalies_total{reason=\"target refused the attempt's message after DATA\"} 1"

daemon_stop "$DAEMON_PID"
check_eq daemon_term_exits_0 "$DAEMON_RC" 0
sim_stop replay
echo "--- daemon log:"; grep -E "receipt|relay_confirmed|error" "$LOG" | tail -15
