#!/bin/bash
# relayctl probe against two real Debian Postfix instances on loopback: one
# closed with reject_unauth_destination (554 5.7.1) and one stock, whose
# defer_unauth_destination answers 454 4.7.1 (a deferred refusal). Both must
# be reported closed, within the deadline, with nothing queued for relaying.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$ROOT/tests/mta/postfix.sh"

if ! postfix_available; then
	echo "SKIP $SUITE: needs root and Debian's postfix package (deploy/install-deps.sh)"
	exit 0
fi
command -v jq >/dev/null || { fail setup "jq is not installed (deploy/install-deps.sh)"; exit 1; }

MTA=$TEST_TMP/mta
REJECT=127.0.50.1
STOCK=127.0.50.2
P=2525
trap 'postfix_stop "$MTA/reject"; postfix_stop "$MTA/stock"; bg_cleanup' EXIT

postfix_start "$MTA/reject" $REJECT $P \
	"smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" ||
	{ fail setup "the reject_unauth_destination instance did not start"; exit 1; }
# Stock: smtpd_relay_restrictions left at Postfix's default.
postfix_start "$MTA/stock" $STOCK $P ||
	{ fail setup "the stock instance did not start"; exit 1; }
check_eq "stock instance keeps Postfix's default relay restrictions" \
	"$(postfix_conf "$MTA/stock" smtpd_relay_restrictions)" \
	"permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"

probe_run reject $REJECT:$P 90s --timeout 10s --greylist-wait 1s &
p1=$!
probe_run stock $STOCK:$P 90s --timeout 10s --greylist-wait 1s &
p2=$!
wait $p1 $p2

check_eq "reject_unauth_destination: verdict" "$(probe_field reject .verdict)" closed
check_probe_ended reject 90000
check_eq "reject_unauth_destination: refused with 554 5.7.1" \
	"$(probe_field reject '[.attempts[] | select(.backscatter | not) | .rcpt.code] | unique | join(",")')" 554

check_eq "defer_unauth_destination: verdict" "$(probe_field stock .verdict)" closed
check_probe_ended stock 90000
check_contains "defer_unauth_destination: reason names the deferred 4.7.1 refusal" \
	"$(probe_field stock .reason)" 4.7.1
check_eq "defer_unauth_destination: every relay attempt a deferred refusal" \
	"$(probe_field stock '[.attempts[] | select(.backscatter | not) | .outcome] | unique | join(",")')" \
	deferred_refusal

check_eq "reject_unauth_destination: nothing queued" "$(postfix_queue_count "$MTA/reject")" 0
check_eq "defer_unauth_destination: nothing queued" "$(postfix_queue_count "$MTA/stock")" 0

pid=$(sed -n '1s/ //gp' "$MTA/stock/queue/pid/master.pid")
postfix_stop "$MTA/stock"
if [ -d "/proc/$pid" ]; then fail "postfix_stop ends the master" "pid $pid still runs"
else pass "postfix_stop ends the master"; fi
