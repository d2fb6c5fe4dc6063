#!/bin/bash
# relayctl probe against every relaysim behaviour at once (127.0.11.0/24):
# the verdict the simulator's README says a prober should reach, each probe
# within its deadline, and the whole run bounded.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sim_lib.sh"

table="open:accepted closed:closed datareject:closed datareject-cmd:closed drop:accepted
percent:accepted greylist:closed greylist-open:accepted defer:closed tempfail:tempfail
tarpit:error banner-reject:rejected_banner errors421:closed drop-mid:error drop-once:closed
garbage:error endless:error hugereply:error split:closed split-open:accepted noehlo:closed
auth:closed pregreet:closed"
declare -A want
specs=()
i=1
for row in $table; do
	b=${row%%:*}
	want[127.0.11.$i]=$row
	specs+=("127.0.11.$i:PORT=$b")
	i=$((i + 1))
done
want[::1]=ipv6:closed

started=
for try in 1 2 3 4 5; do
	PORT=$(random_port)
	if sim_start farm --greylist-secs 1 --tarpit-ms 200 --errors 3 --pregreet-ms 300 \
		"${specs[@]//PORT/$PORT}" "[::1]:$((PORT + 1))=closed" 2>/dev/null; then
		started=1
		break
	fi
done
[ -n "$started" ] || { fail sim_started "relaysim did not start"; exit 0; }

targets=()
for ip in "${!want[@]}"; do
	[ "$ip" = ::1 ] && targets+=("[::1]:$((PORT + 1))") || targets+=("$ip:$PORT")
done
start=$SECONDS
"$RELAYCTL" probe --json --rate 0 --per-net 0 --timeout 2s --deadline 12s --greylist-wait 1500ms \
	"${targets[@]}" >"$TEST_TMP/sim.json" 2>"$TEST_TMP/sim.stderr"
rc=$?
elapsed=$((SECONDS - start))
check_eq exit_status_relay_found "$rc" 1
[ "$elapsed" -le 16 ] && pass run_bounded || fail run_bounded "took ${elapsed}s, want <= 16"

field() { jq -r --arg ip "$1" "select(.ip == \$ip) | $2 // \"\"" "$TEST_TMP/sim.json"; }

for ip in "${!want[@]}"; do
	b=${want[$ip]%%:*}
	check_eq "verdict_$b" "$(field "$ip" .verdict)" "${want[$ip]#*:}"
	d=$(field "$ip" .duration_ms)
	[ -n "$d" ] && [ "$d" -le 12500 ] && pass "within_deadline_$b" ||
		fail "within_deadline_$b" "duration_ms=$d, want <= 12500"
done
ip_of() { for ip in "${!want[@]}"; do [ "${want[$ip]%%:*}" = "$1" ] && echo "$ip"; done; }
check_contains percent_trick_is_a_percent_form "$(field "$(ip_of percent)" .trick)" percent
check_eq defer_is_deferred_refusal "$(field "$(ip_of defer)" .attempts[0].outcome)" deferred_refusal
check_contains defer_reason_says_471 "$(field "$(ip_of defer)" .reason)" "4.7.1"
check_contains auth_reason "$(field "$(ip_of auth)" .reason)" "authentication required"
check_eq datareject_at_eod "$(field "$(ip_of datareject)" .attempts[0].stage)" eod
check_eq datareject_cmd_at_data "$(field "$(ip_of datareject-cmd)" .attempts[0].stage)" data
c=$(field "$(ip_of errors421)" .connections)
[ "${c:-0}" -ge 2 ] && pass errors421_reconnected || fail errors421_reconnected "connections=$c"
check_eq host_from_sim_greeting "$(field "$(ip_of closed)" .host)" sim-127-0-11-2.relaysim.test
sim_stop farm && pass sim_stopped_cleanly || fail sim_stopped_cleanly "relaysim exit status $?"
