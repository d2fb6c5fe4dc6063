#!/bin/bash
# relayauditd with roles probe,sink on a real PostgreSQL: the simulator's open
# relay forwards to the daemon's sink and the stored probe becomes
# relay_confirmed; a relay that drops becomes accepted_not_relayed, and a
# receipt of its token after the window is an anomaly that changes nothing
# (a late delivery cannot be told from a replay); a forged token is stored
# as forged and changes nothing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/sink_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }

SINK=127.0.30.60
CONF=$TEST_TMP/sinkd.conf
LOG=$TEST_TMP/sinkd.log
daemon_conf "$CONF" sink-1 "roles = probe,sink" "sink_listen = $SINK:2525" \
	"sink_domain = $SINK_DOMAIN" "confirm_window = 3s" "greylist_wait = 1s" \
	"secret = $SINK_SECRET"

sim_start sinkd 127.0.30.61:2525=open 127.0.30.62:2525=drop --sink "$SINK:2525" ||
	fail sim_started "relaysim did not start"
sql "INSERT INTO customers (ext_id, contact_email) VALUES ('s1', 's1@example.net')" >/dev/null
sql "INSERT INTO targets (customer_id, address, ports)
     SELECT id, a::inet, '{2525}' FROM customers, unnest(ARRAY['127.0.30.61', '127.0.30.62']) a
     WHERE ext_id = 's1'" >/dev/null

daemon_start "$CONF" "$LOG"
probe_of() { sql "SELECT id FROM probes WHERE address = '$1' ORDER BY id LIMIT 1"; }

if wait_for 40 sql_true "SELECT count(*) > 0 FROM probes WHERE address = '127.0.30.61' AND verdict = 'relay_confirmed'"; then
	pass daemon_open_relay_confirmed
else
	fail daemon_open_relay_confirmed "got '$(sql "SELECT verdict FROM probes WHERE address = '127.0.30.61'")'"
fi
open=$(probe_of 127.0.30.61)
check_eq daemon_open_stage_sink "$(sql "SELECT stage FROM probes WHERE id = ${open:-0}")" sink
check_eq daemon_open_target_last_verdict \
	"$(sql "SELECT last_verdict FROM targets WHERE address = '127.0.30.61'")" relay_confirmed
check_eq daemon_open_attempt_relayed \
	"$(sql "SELECT count(*) > 0 FROM probe_attempts WHERE probe_id = ${open:-0} AND outcome = 'relayed'")" t
check_eq daemon_open_receipts_stored_and_applied \
	"$(sql "SELECT count(*) > 0 AND bool_and(applied) FROM sink_receipts WHERE probe_id = ${open:-0}")" t

if wait_for 40 sql_true "SELECT count(*) > 0 FROM probes WHERE address = '127.0.30.62' AND verdict = 'accepted_not_relayed'"; then
	pass daemon_drop_accepted_not_relayed
else
	fail daemon_drop_accepted_not_relayed "got '$(sql "SELECT verdict FROM probes WHERE address = '127.0.30.62'")'"
fi
drop=$(probe_of 127.0.30.62)

# A forged token for that probe: stored with its count and no probe, so no
# apply pass ever considers it.
tok=$(sql "SELECT token FROM probe_attempts WHERE probe_id = ${drop:-0} AND NOT backscatter AND eod_code = 250 ORDER BY idx LIMIT 1")
forged=${tok:0:31}$([ "${tok:31:1}" = 0 ] && echo 1 || echo 0)
smtp_script "$SINK" 2525 >/dev/null <<EOT
EHLO late.test
MAIL FROM:<someone@outside.test>
RCPT TO:<$forged@$SINK_DOMAIN>
DATA
Subject: forged $forged

.
QUIT
EOT
wait_for 10 sql_true "SELECT count(*) > 0 FROM sink_receipts WHERE forged_tokens > 0"
check_eq daemon_forged_token_stored_as_forged \
	"$(sql "SELECT count(*) FROM sink_receipts WHERE forged_tokens > 0 AND probe_id IS NULL")" 1
check_eq daemon_forged_token_changes_nothing \
	"$(sql "SELECT verdict FROM probes WHERE id = ${drop:-0}")" accepted_not_relayed

# The real token, delivered after the window: an anomaly with its reason, no upgrade.
smtp_script "$SINK" 2525 >/dev/null <<EOT
EHLO late.test
MAIL FROM:<someone@outside.test>
RCPT TO:<$tok@$SINK_DOMAIN>
DATA
Subject: relay test $tok
Message-ID: <$tok@relayaudit.invalid>

.
QUIT
EOT
if wait_for 15 sql_true "SELECT count(*) > 0 FROM sink_receipts WHERE probe_id = ${drop:-0} AND applied"; then
	pass daemon_late_receipt_settled
else
	fail daemon_late_receipt_settled "got $(sql "SELECT count(*) FROM sink_receipts WHERE probe_id = ${drop:-0}") receipts, none settled"
fi
check_eq daemon_late_receipt_is_an_anomaly \
	"$(sql "SELECT anomaly FROM sink_receipts WHERE probe_id = ${drop:-0} ORDER BY id DESC LIMIT 1")" \
	"arrived after the confirmation window"
check_eq daemon_late_receipt_changes_nothing \
	"$(sql "SELECT verdict FROM probes WHERE id = ${drop:-0}")/$(sql "SELECT last_verdict FROM targets WHERE address = '127.0.30.62'")" \
	accepted_not_relayed/accepted_not_relayed

daemon_stop "$DAEMON_PID"
check_eq daemon_term_exits_0 "$DAEMON_RC" 0
sim_stop sinkd
if grep -q "ERROR: AddressSanitizer\|runtime error" "$LOG"; then
	fail daemon_log_clean "$(grep -A12 "ERROR: AddressSanitizer\|runtime error" "$LOG" | head -24)"
fi
echo "--- daemon log:"; grep -E "sink|receipt|relay_confirmed|error" "$LOG" | tail -15
