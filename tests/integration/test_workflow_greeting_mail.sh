#!/bin/bash
# The mail for a relay proven by greeting as the target (trick
# "spoof-domain/plain+helo-host"), through the real workflow path: the case
# opens on the probe row, the runner renders from the case's evidence and
# the mailer delivers it. In German, the customer's language: the evidence
# names the sender, the recipient form and the greeting in words, the
# exchange starts with the EHLO in force, and the fix is the HELO-trust guide.
SUITE=workflow_greeting_mail
WF_LOCALE=de
. "$(dirname "$0")/workflow_lib.sh"

wf_setup
wf_capture
wf_config
wf_start

WF_TRICK=spoof-domain/plain+helo-host
WF_TRANSCRIPT='S: 220 mail.grossefirma.example ESMTP\nC: EHLO mail.grossefirma.example\nS: 250-mail.grossefirma.example\nS: 250 PIPELINING\nC: MAIL FROM:<postmaster@grossefirma.example>\nC: RCPT TO:<rt0123abcd0123abcd0123@sink.relayaudit.test>\nC: DATA\nS: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\nS: 354 End data\nC: <test message, 900 bytes>\nS: 250 2.0.0 Ok: queued as 4XyZ'
probe=$(wf_probe relay_confirmed)
wait_for 20 wf_eq wf_mails 1
check_eq "one_mail_for_the_greeting_relay" "$(wf_mails)" 1
check_eq "the_case_names_the_trick" "$(sql "SELECT trick FROM cases WHERE probe_id = $probe")" "spoof-domain/plain+helo-host"
text=$(wf_mail_text 1)
flat=$(wf_mail_flat 1)
check_contains "evidence_names_sender_form_and_greeting" "$flat" \
	"Test:     von einem Absender, der vorgibt, aus einer Ihrer eigenen Mail-Domains zu sein an eine gewöhnliche fremde Adresse, wobei sich unser Testclient mit dem eigenen Hostnamen Ihres Servers meldete (HELO/EHLO)"
check_contains "exchange_starts_with_the_greeting_in_force" "$text" "  C: EHLO mail.grossefirma.example
  S: 250-mail.grossefirma.example
  C: MAIL FROM:<postmaster@grossefirma.example>"
check_contains "token_is_shortened_in_the_exchange" "$text" "RCPT TO:<rt0123ab…@sink.relayaudit.test>"
check_contains "fix_is_the_helo_trust_guide" "$flat" "die Begrüßung darf nie entscheiden, wer weiterleiten darf"
check_contains "helo_guide_names_postfix_check_helo_access" "$flat" "check_helo_access-Tabellen"
if grep -q "check_sender_access" <<<"$flat"; then
	fail "the_sender_guide_is_not_sent_for_a_greeting_trick" "got it in the mail"
else
	pass "the_sender_guide_is_not_sent_for_a_greeting_trick"
fi
wf_stop
