#!/bin/bash
# The outbox delivers through libcurl to a smarthost that demands STARTTLS and
# AUTH (aiosmtpd with a throwaway certificate), and to one on smtps://; it
# never sends credentials over an unencrypted connection, neither to a
# smarthost that offers AUTH in the clear nor when smarthost_tls = none.
SUITE=workflow_smarthost_tls
. "$(dirname "$0")/workflow_lib.sh"
. "$ROOT/tests/mta/postfix.sh"

# Debian's python3-aiosmtpd lives beside Debian's python3, whatever else is on PATH.
SH_PYTHON=${SH_PYTHON:-/usr/bin/python3}
"$SH_PYTHON" -c 'import aiosmtpd' 2>/dev/null ||
	{ fail setup "python3-aiosmtpd is not installed (deploy/install-deps.sh)"; exit 1; }

CERT=$TEST_TMP/smarthost-cert
tls_make_cert "$CERT" smarthost.test "IP:$WF_IP" || { fail setup "openssl could not make a certificate"; exit 1; }
printf 'correct horse battery\n' >"$TEST_TMP/smarthost.password"
chmod 600 "$TEST_TMP/smarthost.password"
SH_DIR=$TEST_TMP/smarthost
SH_PORT=$((20000 + RANDOM % 30000))
SH_PID=

# smarthost MODE: (re)start the test smarthost on $WF_IP:$SH_PORT.
smarthost() {
	[ -n "$SH_PID" ] && { kill "$SH_PID" 2>/dev/null; wait "$SH_PID" 2>/dev/null; }
	rm -f "$TEST_TMP/sh.port"
	"$SH_PYTHON" "$ROOT/tests/integration/smarthost_tls.py" --listen "$WF_IP:$SH_PORT" --dir "$SH_DIR" \
		--cert "$CERT/cert.pem" --key "$CERT/key.pem" --user relayaudit \
		--password "correct horse battery" --portfile "$TEST_TMP/sh.port" --mode "$1" \
		>>"$TEST_TMP/smarthost.log" 2>&1 &
	SH_PID=$!
	BG_PIDS+=("$SH_PID")
	wait_for 20 test -s "$TEST_TMP/sh.port" || { fail setup "smarthost_tls.py ($1) did not start"; tail "$TEST_TMP/smarthost.log"; exit 1; }
}
stored() { find "$SH_DIR" -name '*.eml' 2>/dev/null | wc -l; }
retest() {
	sql "INSERT INTO retest_requests (target_id, requested_by) SELECT id, 'customer-link' FROM targets" >/dev/null
	wf_probe relay_confirmed >/dev/null
}
auth_conf() {
	wf_config "smarthost=${1}://$WF_IP:$SH_PORT" smarthost_user=relayaudit \
		"smarthost_password_file=$TEST_TMP/smarthost.password" "smarthost_tls=$2" \
		"smarthost_tls_ca=$CERT/cert.pem" mail_max_attempts=1
}

wf_setup

# 1. STARTTLS, then AUTH inside it, then the message.
smarthost starttls
auth_conf smtp required
wf_start
wf_probe relay_confirmed >/dev/null
wait_for 30 wf_eq "sql \"SELECT state FROM outbox WHERE kind = 'relay_blocked'\"" done
check_eq starttls_auth_delivered "$(sql "SELECT state || ' ' || attempts FROM outbox WHERE kind = 'relay_blocked'")" "done 1"
check_eq starttls_auth_stored_once "$(stored)" 1
check_contains starttls_message_came_inside_tls "$(cat "$SH_DIR/1.eml" 2>/dev/null)" "X-Smarthost-TLS: yes"
check_contains starttls_message_authenticated "$(cat "$SH_DIR/1.eml" 2>/dev/null)" "X-Smarthost-User: relayaudit"
check_contains starttls_auth_inside_tls "$(cat "$SH_DIR/auth.log" 2>/dev/null)" "tls=yes ok=True"
wf_stop

# 2. A smarthost that offers AUTH but no STARTTLS: nothing sent, least of all the password.
smarthost plain
auth_conf smtp starttls
wf_start
retest
wait_for 30 wf_eq "sql \"SELECT state FROM outbox WHERE kind = 'still_open'\"" failed
check_contains no_tls_no_credentials_reason "$(sql "SELECT last_error FROM outbox WHERE kind = 'still_open'")" "offers no STARTTLS"
check_eq no_tls_nothing_stored "$(stored)" 1
if grep -q "tls=no" "$SH_DIR/auth.log" 2>/dev/null; then
	fail no_tls_credentials_never_sent "the smarthost saw AUTH without TLS: $(grep 'tls=no' "$SH_DIR/auth.log")"
else
	pass no_tls_credentials_never_sent
fi
wf_stop

# 3. smarthost_tls = none with a user: refused before connecting.
auth_conf smtp none
wf_start
retest
wait_for 30 wf_eq "sql \"SELECT count(*) FROM outbox WHERE state = 'failed'\"" 2
check_contains tls_none_with_user_refused "$(sql "SELECT last_error FROM outbox ORDER BY id DESC LIMIT 1")" \
	"refused to send credentials unencrypted"
check_eq tls_none_nothing_stored "$(stored)" 1
wf_stop

# 4. smtps://: implicit TLS from the first byte, then AUTH.
smarthost smtps
auth_conf smtps required
wf_start
retest
wait_for 30 wf_eq "sql \"SELECT state FROM outbox ORDER BY id DESC LIMIT 1\"" done
check_eq smtps_delivered "$(stored)" 2
check_contains smtps_message_came_inside_tls "$(cat "$SH_DIR/2.eml" 2>/dev/null)" "X-Smarthost-TLS: yes"
wf_stop
