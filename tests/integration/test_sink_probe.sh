#!/bin/bash
# relayctl probe --sink: one command proves a relay end to end with no
# database. Self-audit (the sink is no relay), the simulator's open relay
# forwarding to the sink (relay_confirmed), a relay that drops what it accepts
# (accepted_not_relayed) and a closed server (closed, no waiting).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sink_lib.sh"
. "$(dirname "$0")/sim_lib.sh"

probe() {
	timeout 60 "$RELAYCTL" probe --json --secret "$SINK_SECRET" --timeout 3s --deadline 30s \
		--greylist-wait 1s "$@" 2>>"$TEST_TMP/probe.err"
}

# Self-audit: relayaudit's own engine against a standalone sink, with relay
# tests addressed to a domain that sink does not serve. Every trick must fail.
TARGET_OUT=$TEST_TMP/self_target.jsonl
sink_start 127.0.30.20:2525 "$TARGET_OUT" || fail self_audit_sink_started "$(cat "$TARGET_OUT.log")"
out=$(probe --sink 127.0.30.21:2525 --sink-domain proof.relayaudit.test --wait 2s 127.0.30.20:2525)
rc=$?
check_eq self_audit_verdict_closed "$(json_field "$out" verdict)" closed
check_eq self_audit_backscatter_refused "$(json_field "$out" backscatter)" refused
check_eq self_audit_exit_status "$rc" 0
check_eq self_audit_target_sink_kept_nothing "$(json_lines "$TARGET_OUT")" 0
attempts=$(grep -o '"outcome":"[a-z_]*"' <<<"$out" | sort | uniq -c | tr -s ' ')
check_contains self_audit_every_attempt_refused "$attempts" '"outcome":"refused"'
if grep -q '"outcome":"accepted"' <<<"$out"; then
	fail self_audit_no_attempt_accepted "$attempts"
else
	pass self_audit_no_attempt_accepted
fi

# The simulator's open relay forwards what it accepts to our sink.
sim_start open_relay 127.0.30.30:2525=open 127.0.30.32:2525=drop 127.0.30.33:2525=closed \
	127.0.30.34:2525=lastlocal \
	--sink 127.0.30.31:2525 || fail sim_started "relaysim did not start"
t0=$SECONDS
out=$(probe --sink 127.0.30.31:2525 --sink-domain "$SINK_DOMAIN" --wait 10s 127.0.30.30:2525)
rc=$?
check_eq sim_open_relay_confirmed "$(json_field "$out" verdict)" relay_confirmed
check_eq sim_open_relay_stage_sink "$(json_field "$out" stage)" sink
trick=$(json_field "$out" trick)
if [ -n "$trick" ] && [[ $trick == */* ]]; then pass sim_open_relay_trick; else fail sim_open_relay_trick "got '$trick', want sender/form"; fi
delay=$(json_number "$out" relay_delay_ms)
if [ -n "$delay" ] && [ "$delay" -ge 0 ] && [ "$delay" -lt 10000 ]; then
	pass sim_open_relay_delay
else
	fail sim_open_relay_delay "got '$delay', want 0..10000 ms"
fi
check_contains sim_open_relay_attempt_relayed "$out" '"outcome":"relayed"'
check_eq sim_open_relay_exit_status "$rc" 1
# Confirmed and nothing else to wait for: no need to sit out the window.
if [ $((SECONDS - t0)) -lt 10 ] || grep -q '"backscatter":"accepted"' <<<"$out"; then
	pass sim_open_relay_no_needless_wait
else
	fail sim_open_relay_no_needless_wait "took $((SECONDS - t0)) s"
fi

# A relay that accepts and drops: accepted_not_relayed after the window.
out=$(probe --sink 127.0.30.31:2525 --sink-domain "$SINK_DOMAIN" --wait 1s 127.0.30.32:2525)
rc=$?
check_eq sim_drop_accepted_not_relayed "$(json_field "$out" verdict)" accepted_not_relayed
check_eq sim_drop_exit_status "$rc" 1

# Closed: the verdict is final at once, nothing waits for the window.
t0=$SECONDS
out=$(probe --sink 127.0.30.31:2525 --sink-domain "$SINK_DOMAIN" --wait 30s --no-backscatter 127.0.30.33:2525)
check_eq sim_closed_verdict "$(json_field "$out" verdict)" closed
if [ $((SECONDS - t0)) -lt 20 ]; then pass sim_closed_no_wait; else fail sim_closed_no_wait "took $((SECONDS - t0)) s"; fi

# Attribution: a server that checks only the last recipient, at DATA time,
# relays a transaction whose last recipient is local: that is the trick, and
# a plain open relay is still "plain" (a form confirmed alone, the simplest).
out=$(probe --sink 127.0.30.31:2525 --sink-domain "$SINK_DOMAIN" --wait 10s --transcript 127.0.30.34:2525)
check_eq sim_lastlocal_confirmed "$(json_field "$out" verdict)" relay_confirmed
check_contains sim_lastlocal_trick_is_local_last "$(json_field "$out" trick)" /local-last
check_eq sim_lastlocal_trick_relays_alone "$(jq -r .trick_alone <<<"$out")" true
out=$(probe --sink 127.0.30.31:2525 --sink-domain "$SINK_DOMAIN" --wait 10s --transcript 127.0.30.30:2525)
check_eq sim_open_relay_trick_is_plain "$(json_field "$out" trick)/$(jq -r .trick_alone <<<"$out")" null/plain/true
check_eq sim_open_relay_form_resent_alone \
	"$(jq -r '[.attempts[] | select(.resend_of != null and .outcome == "relayed")] | length > 0' <<<"$out")" true

# Tokens: --json shows their first 8 characters (replies, transcript and all)...
check_eq json_has_no_whole_token "$(grep -Eoc 'rt[0-9a-f]{30}' <<<"$out")" 0
check_contains json_shows_short_tokens "$out" '"token":"rt'
# ...unless --show-tokens asks for them whole.
out=$(probe --sink 127.0.30.31:2525 --sink-domain "$SINK_DOMAIN" --wait 10s --show-tokens 127.0.30.33:2525)
if grep -Eq '"token":"rt[0-9a-f]{30}"' <<<"$out"; then pass show_tokens_shows_whole_tokens; else
	fail show_tokens_shows_whole_tokens "got ${out:0:300}"; fi

# --wait without --sink is a usage error.
"$RELAYCTL" probe --wait 1s 127.0.30.33:2525 >/dev/null 2>&1
check_eq wait_without_sink_usage "$?" 2

sim_stop open_relay
