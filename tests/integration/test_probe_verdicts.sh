#!/bin/bash
# relayctl probe against scripted peers (tests/integration/probe_peer.py), one
# behaviour per loopback address in 127.0.10.0/24: each ends with the right
# verdict, within its deadline, in one run of relayctl.
. "$(dirname "$0")/../lib.sh"
PEER=$ROOT/tests/integration/probe_peer.py
ready=$TEST_TMP/$SUITE.peer-ready; rm -f "$ready"
declare -A want reason names
i=20
specs=()
add() { # behaviour[,arg] verdict [reason substring]
	local b=${1%%,*} arg=
	[[ $1 == *,* ]] && arg=,${1#*,}
	specs+=("$b@127.0.10.$i:PORT$arg")
	want[127.0.10.$i]=$2
	reason[127.0.10.$i]=${3:-}
	names[127.0.10.$i]=$1
	i=$((i + 1))
}
add closed closed "every relay attempt was refused"
add open accepted
add datareject closed
add eodreject closed
add greylist,0.5 accepted
add defer471 closed "4.7.1"
add tempfail tempfail "4.3.0"
add banner554 rejected_banner "554"
add close rejected_banner "closed before the greeting"
add ehlo502 accepted
add auth530 closed "authentication required"
add limit421,3 closed
add drop,5 closed
add split accepted
add multiline accepted
add pipelining accepted
add percent accepted
add garbage error "malformed"
add endless error "too long"
add silent no_smtp "timeout while waiting for the greeting"
add pregreet closed

# the peer specs name $PORT: pick one, retry another when it is taken
started=
for try in 1 2 3 4 5; do
	PORT=$(random_port)
	bg_start python3 "$PEER" "$ready" "${specs[@]//PORT/$PORT}" "closed@[::1]:$((PORT + 1))" 2>"$TEST_TMP/peer.err"
	if wait_for 10 sh -c "test -s '$ready' || ! kill -0 ${BG_PIDS[-1]}" && [ -s "$ready" ]; then
		started=1
		break
	fi
done
[ -n "$started" ] || { fail peer_started "scripted peers did not start"; exit 0; }

targets=()
for ip in "${!want[@]}"; do targets+=("$ip:$PORT"); done
targets+=("127.0.10.99:$PORT") # nobody listens: connect refused
targets+=("[::1]:$((PORT + 1))")
want[127.0.10.99]=no_smtp
want[::1]=closed

start=$SECONDS
"$RELAYCTL" probe --json --transcript --rate 0 --per-net 0 --timeout 1s --deadline 20s \
	--greylist-wait 1s "${targets[@]}" >"$TEST_TMP/out.json" 2>"$TEST_TMP/err"
rc=$?
elapsed=$((SECONDS - start))
echo "relayctl took ${elapsed}s" >&2
check_eq exit_status_says_relay_found "$rc" 1
[ "$elapsed" -le 25 ] && pass whole_run_within_deadline || fail whole_run_within_deadline "took ${elapsed}s, want <= 25"
check_eq one_line_per_target "$(wc -l <"$TEST_TMP/out.json")" "${#targets[@]}"

field() { # ip jq-path
	jq -r --arg ip "$1" "select(.ip == \$ip) | $2 // \"\"" "$TEST_TMP/out.json"
}

for ip in "${!want[@]}"; do
	label=${names[$ip]:-$ip}
	label=${label%%,*}
	[ "$ip" = 127.0.10.99 ] && label=connect_refused
	[ "$ip" = ::1 ] && label=ipv6_closed
	check_eq "verdict_$label" "$(field "$ip" .verdict)" "${want[$ip]}"
	if [ -n "${reason[$ip]:-}" ]; then
		check_contains "reason_$label" "$(field "$ip" .reason)" "${reason[$ip]}"
	fi
	d=$(field "$ip" .duration_ms)
	# The 20 s deadline is a timer on the loop; a loaded machine fires it a little late.
	[ -n "$d" ] && [ "$d" -le 21000 ] && pass "within_deadline_$label" ||
		fail "within_deadline_$label" "duration_ms=$d, want <= 21000 (deadline 20 s)"
done

# evidence of particular behaviours
check_eq datareject_decided_at_data "$(field 127.0.10.22 .attempts[0].stage)" data
check_eq eodreject_decided_after_the_dot "$(field 127.0.10.23 .attempts[0].stage)" eod
check_eq greylisted_attempt_was_retried "$(field 127.0.10.24 .attempts[0].tries)" 2
check_eq deferred_refusal_outcome "$(field 127.0.10.25 .attempts[0].outcome)" deferred_refusal
check_contains helo_fallback_used_on_502 "$(field 127.0.10.29 .transcript)" "C: HELO "
check_eq open_trick_names_sender_and_form "$(field 127.0.10.21 .trick)" null/plain
check_eq percent_only_trick "$(field 127.0.10.36 .trick)" null/percent-ip
check_eq open_backscatter_accepted "$(field 127.0.10.21 .backscatter)" accepted
check_eq closed_backscatter_refused "$(field 127.0.10.20 .backscatter)" refused
check_eq pipelining_seen "$(field 127.0.10.35 .pipelining)" true
check_eq banner_kept "$(field 127.0.10.20 .banner)" "peer.example.org ESMTP test"
check_eq host_from_greeting "$(field 127.0.10.20 .host)" peer.example.org
c=$(field 127.0.10.31 .connections)
[ "$c" -ge 2 ] && pass limit421_reconnected || fail limit421_reconnected "connections=$c, want >= 2"
check_eq limit421_no_attempt_unfinished "$(field 127.0.10.31 '[.attempts[] | select(.outcome != "refused")] | length')" 0
check_eq ipv6_literal_in_forms "$(field ::1 .attempts[4].rcpt_to | grep -c 'IPv6:::1')" 1
