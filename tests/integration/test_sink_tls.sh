#!/bin/bash
# The sink's STARTTLS (relayctl sink --tls-cert/--tls-key, as sink_tls_cert
# and sink_tls_key configure it): offered only with a certificate, a message
# inside TLS is a receipt like any other, plaintext pipelined after STARTTLS
# is thrown away (never read as if it came through TLS), and the session
# starts over after the handshake.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sink_lib.sh"
. "$ROOT/tests/mta/postfix.sh"

CERT=$TEST_TMP/cert
tls_make_cert "$CERT" sink.tls.test || { fail setup "openssl could not make a certificate"; exit 1; }
ADDR=127.0.64.1

# client.py MODE: a scripted client; prints what it saw, one fact a line.
cat >"$TEST_TMP/client.py" <<'PY'
import socket, ssl, sys
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=5)
f = s.makefile("rb")
def reply(src):
    lines = []
    while True:
        l = src.readline(2000).decode(errors="replace").rstrip("\r\n")
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return lines
reply(f)
s.sendall(b"EHLO client.test\r\n")
print("ehlo:", " ".join(reply(f)))
if mode == "plain":
    s.sendall(b"STARTTLS\r\n")
    print("starttls:", reply(f)[-1])
    sys.exit(0)
# STARTTLS with a command pipelined behind it: the sink must drop the RSET
s.sendall(b"STARTTLS\r\nRSET\r\n")
print("starttls:", reply(f)[-1])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="sink.tls.test")
g = t.makefile("rb")
t.sendall(b"MAIL FROM:<a@client.test>\r\n")
print("mail_before_ehlo:", reply(g)[-1])
t.sendall(b"EHLO client.test\r\n")
print("ehlo_tls:", " ".join(reply(g)))
t.sendall(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<someone@sink.relayaudit.test>\r\nDATA\r\n")
print("mail:", reply(g)[-1]); print("rcpt:", reply(g)[-1]); print("data:", reply(g)[-1])
t.sendall(b"Subject: inside TLS\r\n\r\nhello\r\n.\r\nQUIT\r\n")
print("dot:", reply(g)[-1]); print("quit:", reply(g)[-1])
PY

sink_start $ADDR:2525 "$TEST_TMP/plain.json" || { fail setup "sink without TLS did not start"; exit 1; }
out=$(python3 "$TEST_TMP/client.py" $ADDR 2525 plain)
check_eq no_cert_no_starttls_offered "$(grep -c STARTTLS <<<"$(grep ^ehlo: <<<"$out")")" 0
check_contains no_cert_starttls_not_implemented "$(grep ^starttls: <<<"$out")" 502
bg_cleanup
BG_PIDS=()

sink_start $ADDR:2526 "$TEST_TMP/tls.json" --tls-cert "$CERT/cert.pem" --tls-key "$CERT/key.pem" ||
	{ fail setup "sink with TLS did not start"; exit 1; }
out=$(python3 "$TEST_TMP/client.py" $ADDR 2526 tls 2>&1)
check_contains starttls_offered "$(grep '^ehlo:' <<<"$out")" "250-STARTTLS"
check_contains starttls_ready "$(grep ^starttls: <<<"$out")" "220 2.0.0"
check_contains pipelined_plaintext_dropped_session_starts_over "$(grep ^mail_before_ehlo: <<<"$out")" 503
check_eq starttls_not_offered_twice "$(grep -c STARTTLS <<<"$(grep ^ehlo_tls: <<<"$out")")" 0
check_contains message_inside_tls_queued "$(grep ^dot: <<<"$out")" "250 2.0.0 Ok: queued as"
check_contains quit_reply_arrives_inside_tls "$(grep ^quit: <<<"$out")" 221
wait_for 5 test "$(json_lines "$TEST_TMP/tls.json")" -ge 1
check_contains receipt_of_tls_message "$(cat "$TEST_TMP/tls.json")" '"subject":"inside TLS"'
grep -q 'event=sink_message .* tls=1' "$TEST_TMP/tls.json.log" && pass receipt_logged_with_tls ||
	fail receipt_logged_with_tls "no sink_message line with tls=1"

# a bad pair is refused at start with the reason
"$RELAYCTL" sink --listen $ADDR:2527 --sink-domain "$SINK_DOMAIN" --secret "$SINK_SECRET" --max-time 2 \
	--tls-cert "$CERT/key.pem" --tls-key "$CERT/key.pem" >/dev/null 2>"$TEST_TMP/bad.err"
check_contains bad_certificate_refused_at_start "$(cat "$TEST_TMP/bad.err")" "sink_tls_cert"
