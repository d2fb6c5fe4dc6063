#!/bin/bash
# A receipt that reaches the sink after its probe has been stored is applied
# by the daemon's matcher from the database, not by the probe that sent it.
# The trick must still be named as the probe would have named it: a relay
# that only takes mail over TLS (here port 465 style, TLS from the first byte)
# keeps "+tls", so its mail gives the TLS advice (probe_attempts.tls).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../mta/postfix.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/sink_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }

SINK=127.0.30.80
RELAY=127.0.30.81
TLS_PORT=4650
CERT=$TEST_TMP/cert
tls_make_cert "$CERT" relay.tls.test || { fail setup "openssl could not make a certificate"; exit 1; }
CONF=$TEST_TMP/late.conf
LOG=$TEST_TMP/late.log
# A long window: the probe ends "accepted" and waits; the token comes later.
daemon_conf "$CONF" late-1 "roles = probe,sink" "sink_listen = $SINK:2525" \
	"sink_domain = $SINK_DOMAIN" "confirm_window = 120s" "secret = $SINK_SECRET" \
	"probe_tls_ports = $TLS_PORT"

# drop: accepts the message over TLS and never passes it on by itself.
sim_start late --tls-port $TLS_PORT --tls-cert "$CERT/cert.pem" --tls-key "$CERT/key.pem" \
	"$RELAY:$TLS_PORT=drop" || { fail sim_started "relaysim did not start"; exit 1; }
cat >"$TEST_TMP/late.csv" <<CSV
customer,address,contact_email,ports
late1,$RELAY,noc@late1.example,$TLS_PORT
CSV
out=$("$RELAYCTL" import -c "$CONF" "$TEST_TMP/late.csv" 2>&1) || fail target_import "$out"
check_eq target_imported "$(sql "SELECT count(*) FROM targets WHERE address = '$RELAY'")" 1

daemon_start "$CONF" "$LOG"
if wait_for 60 sql_true "SELECT count(*) > 0 FROM probes WHERE address = '$RELAY' AND verdict = 'accepted'"; then
	pass tls_drop_probe_stored_accepted
else
	fail tls_drop_probe_stored_accepted "got '$(sql "SELECT verdict FROM probes WHERE address = '$RELAY'")'"
fi
probe=$(sql "SELECT id FROM probes WHERE address = '$RELAY' ORDER BY id LIMIT 1")
check_eq attempts_stored_as_tls \
	"$(sql "SELECT count(*) > 0 AND bool_and(tls) FROM probe_attempts WHERE probe_id = ${probe:-0} AND NOT backscatter")" t

# What a relay would deliver late: the simplest accepted attempt's message.
row=$(sql "SELECT token || ' ' || sender || '/' || form FROM probe_attempts
           WHERE probe_id = ${probe:-0} AND NOT backscatter AND eod_code = 250 ORDER BY idx LIMIT 1")
tok=${row%% *}
want_trick="${row#* }+tls"
smtp_script "$SINK" 2525 >/dev/null <<EOT
EHLO late.test
MAIL FROM:<someone@outside.test>
RCPT TO:<$tok@$SINK_DOMAIN>
DATA
Subject: relay test $tok
Message-ID: <$tok@relayaudit.invalid>
Received: from late.test ([$RELAY]) by relay.tls.test; Sun, 29 Nov 2026 09:00:00 +0000

.
QUIT
EOT
if wait_for 30 sql_true "SELECT verdict = 'relay_confirmed' FROM probes WHERE id = ${probe:-0}"; then
	pass late_receipt_confirms_the_tls_relay
else
	fail late_receipt_confirms_the_tls_relay "got '$(sql "SELECT verdict FROM probes WHERE id = ${probe:-0}")'; receipts: $(sql "SELECT applied, anomaly FROM sink_receipts")"
fi
check_eq late_receipt_applied_from_the_database \
	"$(sql "SELECT count(*) FROM sink_receipts WHERE probe_id = ${probe:-0} AND applied")" 1
check_eq late_receipt_trick_keeps_tls "$(sql "SELECT trick FROM probes WHERE id = ${probe:-0}")" "$want_trick"

daemon_stop "$DAEMON_PID"
check_eq daemon_term_exits_0 "$DAEMON_RC" 0
sim_stop late
if grep -q "ERROR: AddressSanitizer\|runtime error" "$LOG"; then
	fail daemon_log_clean "$(grep -A12 "ERROR: AddressSanitizer\|runtime error" "$LOG" | head -24)"
fi
