#!/bin/bash
# Real Postfix instances (private config, queue and log under TEST_TMP, on
# 127.0.30.x) probed by relayctl probe with its in-process sink:
#   open relay whose transport_maps route the sink domain to the sink -> relay_confirmed
#   accepts relay attempts but discards them                          -> accepted_not_relayed
#   closed, empty local_recipient_maps (bounces unknown users later)  -> closed, backscatter confirmed
#   accepts RCPT, rejects at DATA                                     -> closed
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sink_lib.sh"
. "$ROOT/tests/mta/postfix.sh"

postfix_suite

# pf NAME ADDR SINK_ADDR [MAIN_CF_LINE...]: an instance routing the sink domain to SINK_ADDR:2525.
pf() {
	local name=$1 addr=$2 sink=$3 dir=$TEST_TMP/pf-$1
	shift 3
	PF_DIRS+=("$dir")
	postfix_start "$dir" "$addr" 2525 \
		"transport_maps = inline:{ $SINK_DOMAIN=smtp:[$sink]:2525 }" \
		"smtpd_error_sleep_time = 0s" "$@"
}

probe() {
	timeout 90 "$RELAYCTL" probe --json --secret "$SINK_SECRET" --sink-domain "$SINK_DOMAIN" \
		--timeout 5s --deadline 60s --greylist-wait 1s "$@" 2>>"$TEST_TMP/probe.err"
}

show_log() {
	echo "-- $1 maillog:"; tail -15 "$TEST_TMP/pf-$1/maillog" | sed 's/^/   /'
}

# 1. Open relay: anyone may relay, and the sink domain is delivered to the sink.
if pf open 127.0.30.40 127.0.30.41 "mynetworks = 0.0.0.0/0"; then
	out=$(probe --sink 127.0.30.41:2525 --wait 20s 127.0.30.40:2525)
	check_eq postfix_open_relay_confirmed "$(json_field "$out" verdict)" relay_confirmed
	check_eq postfix_open_relay_stage_sink "$(json_field "$out" stage)" sink
	check_contains postfix_open_relay_attempt_relayed "$out" '"outcome":"relayed"'
	[ "$(json_field "$out" verdict)" = relay_confirmed ] || show_log open
else
	fail postfix_open_started "postfix_start failed"
fi

# 2. Accepts relay attempts, then throws them away.
if pf discard 127.0.30.42 127.0.30.43 "mynetworks = 0.0.0.0/0" \
	"transport_maps = inline:{ $SINK_DOMAIN=discard: }"; then
	out=$(probe --sink 127.0.30.43:2525 --wait 4s 127.0.30.42:2525)
	check_eq postfix_discard_accepted_not_relayed "$(json_field "$out" verdict)" accepted_not_relayed
	postfix_wait_log "$TEST_TMP/pf-discard" 5 'discard\[[0-9]+\]: .*status=sent' &&
		pass postfix_discard_really_discarded || fail postfix_discard_really_discarded "no discard in the log"
else
	fail postfix_discard_started "postfix_start failed"
fi

# 3. Closed to relaying, but unknown local users are accepted and bounced later.
if pf backscatter 127.0.30.44 127.0.30.45 "local_recipient_maps =" \
	"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"; then
	out=$(probe --sink 127.0.30.45:2525 --wait 25s 127.0.30.44:2525)
	check_eq postfix_backscatter_verdict_closed "$(json_field "$out" verdict)" closed
	check_eq postfix_backscatter_confirmed "$(json_field "$out" backscatter)" confirmed
	delay=$(json_number "$out" backscatter_delay_ms)
	if [ -n "$delay" ]; then pass postfix_backscatter_delay; else fail postfix_backscatter_delay "no backscatter_delay_ms"; fi
	# The bounce was read as a DSN, its token found in the returned message.
	grep -qE 'event=sink_message .* bounce=1 dsn=1 tokens=1 forged=0' "$TEST_TMP/probe.err" &&
		pass postfix_bounce_parsed_as_dsn ||
		fail postfix_bounce_parsed_as_dsn "no sink_message line with dsn=1 tokens=1 in the log"
	[ "$(json_field "$out" backscatter)" = confirmed ] || show_log backscatter
else
	fail postfix_backscatter_started "postfix_start failed"
fi

# 4. Every recipient accepted, every DATA refused: checked late, not a relay.
if pf datareject 127.0.30.46 127.0.30.47 "mynetworks = 0.0.0.0/0" \
	"smtpd_data_restrictions = reject"; then
	out=$(probe --sink 127.0.30.47:2525 --wait 20s 127.0.30.46:2525)
	check_eq postfix_datareject_closed "$(json_field "$out" verdict)" closed
	check_contains postfix_datareject_stage "$(json_field "$out" stage)" data
else
	fail postfix_datareject_started "postfix_start failed"
fi
