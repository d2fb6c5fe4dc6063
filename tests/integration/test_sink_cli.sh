#!/bin/bash
# relayctl sink on its own: accepts the sink domain only, prints each message
# as a JSON line, counts forged tokens, and refuses to run without a secret.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sink_lib.sh"

OUT=$TEST_TMP/sink_cli.jsonl
sink_start 127.0.30.10:2525 "$OUT" || fail sink_started "relayctl sink did not start: $(cat "$OUT.log")"

replies=$(smtp_script 127.0.30.10 2525 <<EOT
EHLO cli.test
MAIL FROM:<someone@outside.test>
RCPT TO:<victim@example.com>
RCPT TO:<rt0000000000010100112233445566ff@$SINK_DOMAIN>
DATA
Subject: forged rt0000000000010100112233445566ff
Message-ID: <cli-1@outside.test>

..stuffed line
.
QUIT
EOT
)
codes=$(echo "$replies" | grep -oE '^[0-9]{3} ' | tr -d ' ' | tr '\n' ' ')
check_eq smtp_reply_codes "$codes" "220 250 250 550 250 354 250 221 "
wait_for 5 test "$(json_lines "$OUT")" -ge 1
line=$(head -1 "$OUT")
check_contains receipt_has_recipient "$line" "\"rcpts\":[\"rt0000000000010100112233445566ff@$SINK_DOMAIN\"]"
check_eq receipt_never_lists_refused_recipient "$(echo "$line" | grep -c victim)" "0"
check_contains receipt_forged_token_counted "$line" '"forged":2'
check_contains receipt_forged_token_not_listed "$line" '"tokens":[]'
check_contains receipt_unstuffed_excerpt "$line" '\n.stuffed line\n'
check_contains receipt_subject "$line" '"subject":"forged rt0000000000010100112233445566ff"'
check_contains receipt_peer "$line" '"peer":"127.'

# A second sink domain given twice on the command line is accepted too.
OUT2=$TEST_TMP/sink_cli2.jsonl
sink_start 127.0.30.11:2525 "$OUT2" --sink-domain other.relayaudit.test --count 1 ||
	fail sink2_started "$(cat "$OUT2.log")"
replies=$(smtp_script 127.0.30.11 2525 <<EOT
HELO cli.test
MAIL FROM:<>
RCPT TO:<a@OTHER.relayaudit.test>
DATA
Subject: second

x
.
QUIT
EOT
)
codes=$(echo "$replies" | grep -oE '^[0-9]{3} ' | tr -d ' ' | tr '\n' ' ')
check_eq second_domain_accepted "$codes" "220 250 250 250 354 250 221 "
wait_for 5 test "$(json_lines "$OUT2")" -ge 1
check_contains second_domain_receipt_is_null_sender_bounce "$(cat "$OUT2")" '"bounce":true'

"$RELAYCTL" sink --listen 127.0.30.12:2525 --max-time 1 >/dev/null 2>"$TEST_TMP/nosecret.err"
check_eq no_secret_is_a_usage_error "$?" 2
check_contains no_secret_says_why "$(cat "$TEST_TMP/nosecret.err")" "no secret"
