#!/bin/bash
# Reverse DNS as the target's name when its greeting names no host
# (probe_rdns, evdns asking dnsbl_nameservers only, never the system resolver):
#   anonymous server trusting its PTR name's parent domain as sender -> relay_confirmed via
#     spoof-domain/plain with probe_rdns, closed without it
#   anonymous server trusting a client that greets with its name    -> null/plain+helo-host
#   a nameserver that never answers                                  -> the probe goes on
#     without a name once probe_rdns_timeout has passed
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sink_lib.sh"
. "$(dirname "$0")/sim_lib.sh"

command -v jq >/dev/null || { fail setup "jq is not installed (deploy/install-deps.sh)"; exit 1; }
command -v python3 >/dev/null || { fail setup "python3 is not installed"; exit 1; }
trap bg_cleanup EXIT

N=127.0.64
SINK=$N.100:2525
DNS=$N.53
bg_start python3 "$ROOT/tests/integration/ptr_dns.py" $DNS 5353 \
	$N.1=mx.mail.rdns-firma.test $N.2=sim-127-0-64-2.relaysim.test $N.3=silent \
	>"$TEST_TMP/dns.out" 2>"$TEST_TMP/dns.err"
wait_for 5 grep -qx ready "$TEST_TMP/dns.out" || { fail setup "ptr_dns.py did not start"; exit 1; }
sim_start anon --sink $SINK --anonymous --trust-domain rdns-firma.test \
	$N.1:2525=trust-sender $N.2:2525=trust-helo-host $N.3:2525=closed ||
	{ fail setup "relaysim did not start"; exit 1; }

cat >"$TEST_TMP/rdns.conf" <<CONF
probe_rdns = yes
probe_rdns_timeout = 2s
dnsbl_nameservers = $DNS:5353
CONF
: >"$TEST_TMP/none.conf"

probe() { # NAME CONF TARGET [ARGS...]: JSON in $TEST_TMP/NAME.json, wall ms in NAME.ms
	local name=$1 conf=$2 target=$3 start
	shift 3
	start=$(date +%s%N)
	timeout 90 "$RELAYCTL" probe -c "$conf" --json --secret "$SINK_SECRET" --sink-domain "$SINK_DOMAIN" \
		--sink $SINK --wait 5s --timeout 3s --deadline 60s --greylist-wait 1s "$@" "$target" \
		>"$TEST_TMP/$name.json" 2>>"$TEST_TMP/probe.err"
	echo $((($(date +%s%N) - start) / 1000000)) >"$TEST_TMP/$name.ms"
}
field() { jq -r "$2 // empty" "$TEST_TMP/$1.json" 2>/dev/null | head -1; }

probe sender_without "$TEST_TMP/none.conf" $N.1:2525
check_eq rdns_off_anonymous_host_is_the_literal "$(field sender_without .host)" "[$N.1]"
check_eq rdns_off_sender_trust_not_found "$(field sender_without .verdict)" closed

probe sender "$TEST_TMP/rdns.conf" $N.1:2525
check_eq rdns_name_becomes_the_target_name "$(field sender .name)" mx.mail.rdns-firma.test
check_eq rdns_name_is_h "$(field sender .host)" mx.mail.rdns-firma.test
check_eq rdns_sender_trust_relay_confirmed "$(field sender .verdict)" relay_confirmed
check_eq rdns_sender_trust_trick "$(field sender .trick)" spoof-domain/plain
check_eq rdns_sender_trust_forged_registrable_domain \
	"$(field sender '[.attempts[] | select(.outcome == "relayed")][0].mail_from')" "<postmaster@rdns-firma.test>"
check_contains rdns_asked_our_nameserver "$(cat "$TEST_TMP/dns.err")" "query 1.64.0.127.in-addr.arpa 12"

probe helo "$TEST_TMP/rdns.conf" $N.2:2525
check_eq rdns_helo_trust_relay_confirmed "$(field helo .verdict)" relay_confirmed
check_eq rdns_helo_trust_trick "$(field helo .trick)" null/plain+helo-host
check_eq rdns_helo_trust_greeting_sent \
	"$(field helo '[.attempts[] | select(.outcome == "relayed")][0].helo')" sim-127-0-64-2.relaysim.test

probe silent "$TEST_TMP/rdns.conf" $N.3:2525 --wait 1s
check_eq rdns_timeout_still_probed "$(field silent .verdict)" closed
check_eq rdns_timeout_no_name "$(field silent .name)" ""
ms=$(cat "$TEST_TMP/silent.ms")
if [ "$ms" -ge 1500 ] && [ "$ms" -lt 30000 ]; then pass "rdns_timeout_bounded (${ms} ms)"
else fail rdns_timeout_bounded "took ${ms} ms, want the 2 s timeout and well under the deadline"; fi

# probe_rdns without a usable nameserver is a configuration error, said before probing.
printf 'probe_rdns = yes\n' >"$TEST_TMP/bad.conf"
if "$RELAYCTL" probe -c "$TEST_TMP/bad.conf" $N.3:2525 >/dev/null 2>"$TEST_TMP/bad.err"; then
	fail rdns_without_nameserver_refused "exit 0"
else
	check_contains rdns_without_nameserver_refused "$(cat "$TEST_TMP/bad.err")" dnsbl_nameservers
fi
if sim_stop anon; then pass "relaysim exits cleanly"; else fail "relaysim exits cleanly" "exit status $?"; fi
