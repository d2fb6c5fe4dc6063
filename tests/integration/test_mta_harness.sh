#!/bin/bash
# The Postfix harness recipes of tests/mta/README.md do what they promise:
# an open relay routed to a sink, a discarding relay, a backscatter source and
# a DATA-rejecter. relaysim's mailbox behaviour stands in for the sink.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$ROOT/tests/mta/postfix.sh"

if ! postfix_available; then
	echo "SKIP $SUITE: needs root and Debian's postfix package (deploy/install-deps.sh)"
	exit 0
fi

M=$TEST_TMP/mta
SINK=127.0.20.200
SP=2526
P=2525
trap 'for i in relay discard backscatter datareject; do postfix_stop "$M/$i"; done; bg_cleanup' EXIT

sim_start sink $SINK:$SP=mailbox || { fail setup "relaysim mailbox did not start"; exit 1; }

starts=()
mkdir -p "$M/relay/etc" "$M/backscatter/etc"
echo "sink.test smtp:[$SINK]:$SP" >"$M/relay/etc/transport"
cp "$M/relay/etc/transport" "$M/backscatter/etc/transport"
postfix_start "$M/relay" 127.0.50.20 $P "mynetworks = 127.0.0.0/8" \
	"transport_maps = texthash:$M/relay/etc/transport" &
starts+=($!)
postfix_start "$M/discard" 127.0.50.21 $P "mynetworks = 127.0.0.0/8" &
starts+=($!)
postfix_start "$M/backscatter" 127.0.50.22 $P "local_recipient_maps =" \
	"transport_maps = texthash:$M/backscatter/etc/transport" &
starts+=($!)
postfix_start "$M/datareject" 127.0.50.23 $P "mynetworks = 127.0.0.0/8" \
	"smtpd_data_restrictions = reject" &
starts+=($!)
wait "${starts[@]}" # not a bare wait: relaysim runs in the background too
for i in relay discard backscatter datareject; do
	if _postfix_greets "$(postfix_conf "$M/$i" myhostname | sed 's/^mta-//; s/\.test$//; s/-/./g')" $P; then
		pass "$i: instance greets"
	else fail "$i: instance greets" "no 220 (see $M/$i/maillog)"; fi
done

out=$(smtp_talk 127.0.50.20 $P "EHLO t" "MAIL FROM:<probe@outside.test>" "RCPT TO:<rtrelay@sink.test>" DATA QUIT)
check_eq "relay: accepts the relay attempt" "$(reply_code "$out" 6)" 250
wait_for 20 grep -q 'event=sim_message.*rtrelay@sink.test' "$TEST_TMP/sink.err"
check_contains "relay: the message reaches the sink through transport_maps" \
	"$(grep 'rtrelay@sink.test' "$TEST_TMP/sink.err")" "mta-127-0-50-20.test"

out=$(smtp_talk 127.0.50.21 $P "EHLO t" "MAIL FROM:<probe@outside.test>" "RCPT TO:<rtdiscard@sink.test>" DATA QUIT)
check_eq "discard: accepts the relay attempt" "$(reply_code "$out" 6)" 250
if postfix_wait_log "$M/discard" 20 'discard\[.*rtdiscard@sink.test.*status=sent'; then
	pass "discard: the message is discarded"
else fail "discard: the message is discarded" "no discard in $M/discard/maillog"; fi

out=$(smtp_talk 127.0.50.22 $P "EHLO t" "MAIL FROM:<rtbounce@sink.test>" "RCPT TO:<rtrelay2@elsewhere.test>" \
	"RCPT TO:<nosuchuser@mta-127-0-50-22.test>" DATA QUIT)
check_eq "backscatter: refuses relaying (stock 454 4.7.1)" "$(sed -n 4p <<<"$out" | cut -c1-9)" "454 4.7.1"
check_eq "backscatter: accepts an unknown local user" "$(reply_code "$out" 5)" 250
wait_for 20 grep -q 'event=sim_message.*rtbounce@sink.test' "$TEST_TMP/sink.err"
line=$(grep 'rtbounce@sink.test' "$TEST_TMP/sink.err")
check_contains "backscatter: the bounce reaches the sink" "$line" 'from="<>"'

out=$(smtp_talk 127.0.50.23 $P "EHLO t" "MAIL FROM:<probe@outside.test>" "RCPT TO:<rtdata@sink.test>" DATA)
check_eq "datareject: accepts RCPT, rejects DATA" "$(sed -n '4,5p' <<<"$out" | cut -c1-3 | tr '\n' ' ')" "250 554 "

# cleanup-mta.sh finds what a crashed test would leave behind.
"$ROOT/tests/integration/cleanup-mta.sh" "$M" >/dev/null
left=0
for i in relay discard backscatter datareject; do
	[ -n "$(_postfix_master_pid "$M/$i")" ] && left=$((left + 1))
done
check_eq "cleanup-mta.sh stops every instance under the directory" "$left" 0
sys=0
for p in $(pgrep -x master); do
	[ "$(readlink "/proc/$p/cwd")" = /var/spool/postfix ] && sys=$((sys + 1))
done
check_eq "the system Postfix is not running" "$sys" 0
