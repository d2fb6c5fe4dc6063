#!/bin/bash
# relayctl probe's command line: bad input is refused with exit 2 before
# anything is probed; --file, --exclude, the human summary and exit status.
. "$(dirname "$0")/../lib.sh"
PEER=$ROOT/tests/integration/probe_peer.py
ready=$TEST_TMP/$SUITE.peer-ready; rm -f "$ready"
export PEER_LOG=$TEST_TMP/peer.log
: >"$PEER_LOG"
started=
for try in 1 2 3 4 5; do
	P=$(random_port)
	bg_start python3 "$PEER" "$ready" closed@127.0.10.60:$P open@127.0.10.61:$P 2>"$TEST_TMP/peer.err"
	if wait_for 10 sh -c "test -s '$ready' || ! kill -0 ${BG_PIDS[-1]}" && [ -s "$ready" ]; then
		started=1
		break
	fi
done
[ -n "$started" ] || { fail peer_started "scripted peers did not start"; exit 0; }

"$RELAYCTL" probe --bogus 127.0.10.60:$P >/dev/null 2>"$TEST_TMP/err"
check_eq unknown_option_exit_2 "$?" 2
check_contains unknown_option_says_which "$(cat "$TEST_TMP/err")" "unknown option '--bogus'"

"$RELAYCTL" probe --rate 0 127.0.10.60:$P not_an@address >/dev/null 2>"$TEST_TMP/err"
check_eq bad_address_exit_2 "$?" 2
check_contains bad_address_named "$(cat "$TEST_TMP/err")" "not_an@address"
"$RELAYCTL" probe --rate 0 127.0.10.60:$P 999.1.1.1 >/dev/null 2>&1
check_eq bad_dotted_quad_exit_2 "$?" 2
"$RELAYCTL" probe --rate 0 127.0.10.60:99999 >/dev/null 2>&1
check_eq bad_port_exit_2 "$?" 2
"$RELAYCTL" probe --rate x 127.0.10.60:$P >/dev/null 2>&1
check_eq bad_number_exit_2 "$?" 2
"$RELAYCTL" probe --timeout soon 127.0.10.60:$P >/dev/null 2>&1
check_eq bad_duration_exit_2 "$?" 2
# relayctl probe's engine options are config options: the range is the option table's.
"$RELAYCTL" probe --concurrency 100001 127.0.10.60:$P >/dev/null 2>"$TEST_TMP/err"
check_eq concurrency_past_the_table_max_exit_2 "$?" 2
check_contains concurrency_range_from_the_option_table "$(cat "$TEST_TMP/err")" "1..100000 (probe_concurrency)"
"$RELAYCTL" probe --secret short 127.0.10.60:$P >/dev/null 2>"$TEST_TMP/err"
check_eq short_secret_exit_2 "$?" 2
check_contains short_secret_says_why "$(cat "$TEST_TMP/err")" "at least 16 characters"
"$RELAYCTL" probe --exclude 10.0.0.1/8 127.0.10.60:$P >/dev/null 2>&1
check_eq bad_cidr_exit_2 "$?" 2
"$RELAYCTL" probe >/dev/null 2>&1
check_eq no_targets_exit_2 "$?" 2
check_eq nothing_probed_on_bad_usage "$(wc -l <"$PEER_LOG")" 0

out=$("$RELAYCTL" probe --rate 0 --timeout 2s 127.0.10.60:$P 2>&1)
check_eq closed_exit_0 "$?" 0
check_contains human_summary_names_verdict "$out" "127.0.10.60 port $P: closed"
check_contains human_summary_counts "$out" "1 probe: 1 closed"

out=$(printf '# targets\n127.0.10.60:%s\n\n127.0.10.61:%s\n' "$P" "$P" |
	"$RELAYCTL" probe --rate 0 --timeout 2s --json --file - 2>&1)
check_eq relay_found_exit_1 "$?" 1
check_eq file_gives_one_line_per_target "$(echo "$out" | wc -l)" 2
check_eq json_has_fields "$(echo "$out" | jq -r 'select(.ip=="127.0.10.61") | [.port, .verdict, .backscatter, .trick, (.attempts|length > 70), (.banner|length > 0), (.duration_ms >= 0), .error] | @tsv')" \
	"$(printf '%s\taccepted\taccepted\tnull/plain\ttrue\ttrue\ttrue\t' "$P")"
check_eq json_names_each_target_once "$(echo "$out" | jq -r .ip | sort | tr '\n' ' ')" "127.0.10.60 127.0.10.61 "

out=$("$RELAYCTL" probe --rate 0 --timeout 2s --exclude 127.0.10.0/24 127.0.10.61:$P 2>&1)
check_eq excluded_not_a_relay "$?" 0
check_contains excluded_is_said "$out" "excluded"
# the IPv4-mapped form of an excluded address is the same host
out=$("$RELAYCTL" probe --rate 0 --timeout 2s --exclude 127.0.10.0/24 "[::ffff:127.0.10.61]:$P" 2>&1)
check_contains excluded_mapped_form_is_excluded "$out" "excluded"

out=$("$RELAYCTL" probe --rate 0 --timeout 2s --port $P --sink-domain sink.example --helo probe.example --no-backscatter --json 127.0.10.61 2>&1)
check_eq port_option_used "$(echo "$out" | jq -r .port)" "$P"
check_eq sink_domain_used "$(echo "$out" | jq -r '.attempts[0].rcpt_to' | sed 's/.*@//')" "sink.example>"
check_eq no_backscatter_attempt "$(echo "$out" | jq -r '.backscatter + " " + ([.attempts[] | select(.backscatter)] | length | tostring)')" "untested 0"

# tokens follow from --secret: the same secret and probe verify, another does not
"$RELAYCTL" probe --help >/dev/null 2>&1
check_eq help_exit_0 "$?" 0

# Network safety: with RELAYAUDIT_LOOPBACK_ONLY=1 (tests/run.sh sets it) or
# loopback_only = yes the engine refuses anything outside 127/8 and ::1, so a
# slip in a test can never reach a real network. 192.0.2.1 is TEST-NET-1.
out=$(RELAYAUDIT_LOOPBACK_ONLY=1 "$RELAYCTL" probe --secret 0123456789abcdef0123 --json 192.0.2.1:25 2>&1)
check_contains "loopback_only_env_refuses_outside_targets" "$out" "outside loopback"
printf 'loopback_only = yes\nsecret = 0123456789abcdef0123\n' >"$TEST_TMP/lo.conf"
chmod 600 "$TEST_TMP/lo.conf"
out=$(RELAYAUDIT_LOOPBACK_ONLY=0 "$RELAYCTL" probe -c "$TEST_TMP/lo.conf" --json '[2001:db8::1]:25' 2>&1)
check_contains "loopback_only_config_refuses_outside_targets" "$out" "outside loopback"
