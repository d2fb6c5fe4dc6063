#!/bin/bash
# TLS against real Postfix instances (throwaway certificate, 127.0.61.x):
#   smtpd_tls_security_level = encrypt, open relay   -> relay_confirmed, trick marked +tls
#   smtpd_tls_security_level = encrypt, closed       -> closed (not "authentication required")
#   a listener that breaks the handshake             -> error with the handshake's reason
#   plaintext behind the 220 to STARTTLS             -> error, never read as TLS
#   smtps (implicit TLS, --tls-port), open relay     -> relay_confirmed
#   smtp_tls_security_level = encrypt outbound       -> delivers to the sink over STARTTLS
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sink_lib.sh"
. "$ROOT/tests/mta/postfix.sh"

postfix_suite
command -v openssl >/dev/null || { fail setup "openssl is not installed (deploy/install-deps.sh)"; exit 1; }


CERT=$TEST_TMP/cert
tls_make_cert "$CERT" mta.tls.test || { fail setup "openssl could not make a throwaway certificate"; exit 1; }
mapfile -t TLS_LINES < <(postfix_tls_lines "$CERT")

# pf NAME ADDR SINK_ADDR [MAIN_CF_LINE...]: TLS-capable instance routing the sink domain to SINK_ADDR:2525.
pf() {
	local name=$1 addr=$2 sink=$3 dir=$TEST_TMP/pf-$1
	shift 3
	PF_DIRS+=("$dir")
	postfix_start "$dir" "$addr" 2525 \
		"transport_maps = inline:{ $SINK_DOMAIN=smtp:[$sink]:2525 }" \
		"smtpd_error_sleep_time = 0s" "${TLS_LINES[@]}" "$@"
}

probe() {
	timeout 90 "$RELAYCTL" probe --json --secret "$SINK_SECRET" --sink-domain "$SINK_DOMAIN" \
		--timeout 5s --deadline 60s --greylist-wait 1s "$@" 2>>"$TEST_TMP/probe.err"
}

show_log() {
	echo "-- $1 maillog:"; tail -15 "$TEST_TMP/pf-$1/maillog" | sed 's/^/   /'
}

# 1. Relays, but only inside TLS: a tester without STARTTLS would call it closed.
if pf encrypt 127.0.61.1 127.0.61.2 "mynetworks = 0.0.0.0/0" "smtpd_tls_security_level = encrypt"; then
	out=$(probe --sink 127.0.61.2:2525 --wait 20s 127.0.61.1:2525)
	check_eq tls_only_relay_confirmed "$(jq -r .verdict <<<"$out")" relay_confirmed
	check_contains tls_only_relay_trick_marked_tls "$(jq -r .trick <<<"$out")" "+tls"
	check_eq tls_only_relay_starttls_offered "$(jq -r .starttls <<<"$out")" true
	check_contains tls_evidence_protocol "$(jq -r .tls.version <<<"$out")" TLSv1
	check_contains tls_evidence_subject "$(jq -r .tls.subject <<<"$out")" CN=mta.tls.test
	check_contains tls_evidence_issuer "$(jq -r .tls.issuer <<<"$out")" CN=mta.tls.test
	check_contains tls_evidence_not_after "$(jq -r .tls.not_after <<<"$out")" Z
	check_eq tls_evidence_cipher_named "$([ -n "$(jq -r '.tls.cipher // empty' <<<"$out")" ] && echo yes)" yes
	[ "$(jq -r .verdict <<<"$out")" = relay_confirmed ] || show_log encrypt
else
	fail tls_only_started "postfix_start failed"
fi

# 2. TLS required and closed inside it: closed, with the refusal from inside TLS.
if pf encclosed 127.0.61.3 127.0.61.4 "smtpd_tls_security_level = encrypt" \
	"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"; then
	out=$(probe --sink 127.0.61.4:2525 --wait 2s 127.0.61.3:2525)
	check_eq tls_only_closed_verdict "$(jq -r .verdict <<<"$out")" closed
	check_eq tls_only_closed_refused_inside_tls \
		"$(jq -r '[.attempts[] | select(.backscatter | not) | "\(.rcpt.code) \(.tls)"] | unique | join(",")' <<<"$out")" \
		"554 true"
else
	fail tls_only_closed_started "postfix_start failed"
fi

# 3. A handshake that fails is an error with its reason, never closed.
bg_start python3 "$ROOT/tests/integration/tls_breaker.py" --listen 127.0.61.5:2525 >"$TEST_TMP/breaker.out"
if wait_for 30 grep -q listening "$TEST_TMP/breaker.out"; then
	out=$(probe --no-backscatter 127.0.61.5:2525)
	check_eq broken_handshake_is_error "$(jq -r .verdict <<<"$out")" error
	check_contains broken_handshake_reason "$(jq -r .reason <<<"$out")" "TLS handshake failed"
	check_eq broken_handshake_stage "$(jq -r .stage <<<"$out")" tls
else
	fail broken_handshake_started "tls_breaker.py did not listen"
fi

# 3b. Plaintext in the same segment as the 220 to STARTTLS is never read as if it came through TLS.
bg_start python3 "$ROOT/tests/integration/tls_breaker.py" --listen 127.0.61.10:2525 --inject >"$TEST_TMP/inject.out"
if wait_for 30 grep -q listening "$TEST_TMP/inject.out"; then
	out=$(probe --no-backscatter 127.0.61.10:2525)
	check_eq starttls_injection_is_error "$(jq -r .verdict <<<"$out")" error
	check_contains starttls_injection_reason "$(jq -r .reason <<<"$out")" "data after the STARTTLS reply"
else
	fail starttls_injection_started "tls_breaker.py --inject did not listen"
fi

# 4. smtps: implicit TLS from the first byte (port 465 in production, --tls-port here).
SMTPS_PORT=4465
if POSTFIX_MASTER_EXTRA="127.0.61.6:$SMTPS_PORT inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt" \
	pf smtps 127.0.61.6 127.0.61.7 "mynetworks = 0.0.0.0/0"; then
	out=$(probe --tls-port $SMTPS_PORT --sink 127.0.61.7:2525 --wait 20s 127.0.61.6:$SMTPS_PORT)
	check_eq smtps_relay_confirmed "$(jq -r .verdict <<<"$out")" relay_confirmed
	check_contains smtps_trick_marked_tls "$(jq -r .trick <<<"$out")" "+tls"
	check_contains smtps_evidence_subject "$(jq -r .tls.subject <<<"$out")" CN=mta.tls.test
	check_eq smtps_banner_read_inside_tls "$(jq -r .banner <<<"$out")" "mta-127-0-61-6.test ESMTP Postfix (relayaudit test instance)"
	[ "$(jq -r .verdict <<<"$out")" = relay_confirmed ] || show_log smtps
	# the same port probed as plain SMTP hears no greeting it can read
	out=$(probe --no-backscatter --timeout 2s 127.0.61.6:$SMTPS_PORT)
	check_eq smtps_spoken_plain_hears_no_greeting "$(jq -r .verdict <<<"$out")" no_smtp
else
	fail smtps_started "postfix_start failed"
fi

# 5. A relay that insists on TLS for its outbound mail can deliver the proof: the sink offers STARTTLS.
if pf outtls 127.0.61.8 127.0.61.9 "mynetworks = 0.0.0.0/0" "smtp_tls_security_level = encrypt" \
	"smtp_tls_loglevel = 1"; then
	out=$(probe --sink 127.0.61.9:2525 --sink-tls-cert "$CERT/cert.pem" --sink-tls-key "$CERT/key.pem" \
		--wait 20s 127.0.61.8:2525)
	check_eq outbound_tls_relay_confirmed "$(jq -r .verdict <<<"$out")" relay_confirmed
	postfix_wait_log "$TEST_TMP/pf-outtls" 5 'TLS connection established to 127\.0\.61\.9' &&
		pass outbound_tls_postfix_used_starttls ||
		fail outbound_tls_postfix_used_starttls "no 'TLS connection established to 127.0.61.9' in the maillog"
	grep -qE 'event=sink_message .* tls=1' "$TEST_TMP/probe.err" &&
		pass outbound_tls_sink_received_inside_tls ||
		fail outbound_tls_sink_received_inside_tls "no sink_message with tls=1 in the log"
	[ "$(jq -r .verdict <<<"$out")" = relay_confirmed ] || show_log outtls
	# without a sink certificate the same relay cannot deliver: not confirmed
	out=$(probe --sink 127.0.61.9:2525 --wait 4s 127.0.61.8:2525)
	check_eq outbound_tls_without_sink_tls_not_confirmed "$(jq -r .verdict <<<"$out")" accepted_not_relayed
else
	fail outbound_tls_started "postfix_start failed"
fi
