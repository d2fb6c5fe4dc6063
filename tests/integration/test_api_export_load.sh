#!/bin/bash
# Exports that load in the tools that consume them: the blocklist's rbldnsd
# datasets (family=4 ip4set, family=6 ip6trie) served by a real rbldnsd on
# loopback, which answers for a blocked address and not for an unblocked
# one; the blocklist and the case list as CSV, read by Python's csv module.
# The cases are blocked through the real path: complaints via the API, taken
# up by the workflow runner.
. "$(dirname "$0")/api_lib.sh"

IP=127.0.61.8
ZDIR=$TEST_TMP/$SUITE.zones
api_migrate || { fail "migrate" "migrations failed"; exit 1; }
api_start $IP "enforcer_command = $ROOT/deploy/enforcers/log-only" "poll_interval = 1s" \
	"outbox_dir = $TEST_TMP/$SUITE.outbox" "node_name = export-test"
api_tokens
api_seed
export RELAYAUDIT_ENFORCER_LOG=$TEST_TMP/$SUITE.enforcer.log
bg_start "$RELAYCTL" workflow run -c "$API_CONF" >>"$TEST_TMP/$SUITE.runner.log" 2>&1

for a in 192.0.2.10 2001:db8::25; do
	req POST /v1/complaints "$OPERATOR" "{\"address\":\"$a\",\"source\":\"export test\"}"
done
two_blocked() { [ "$(sql "SELECT count(*) FROM cases WHERE blocked")" = 2 ]; }
wait_for 20 two_blocked ||
	fail "cases blocked" "got $(sql "SELECT count(*) FROM cases WHERE blocked") blocked cases, want 2"

# rbldnsd datasets, one file per address family.
mkdir -p "$ZDIR" && chmod 755 "$ZDIR"
req GET "/v1/blocklist?format=rbldnsd&family=4" "$VIEWER"
check_eq "ip4set export" "$CODE $(grep -v '^[#:]' <<<"$BODY")" "200 192.0.2.10"
printf '%s\n' "$BODY" >"$ZDIR/relays4"
req GET "/v1/blocklist?format=rbldnsd&family=6" "$VIEWER"
check_eq "ip6trie export" "$CODE $(grep -v '^[#:]' <<<"$BODY")" "200 2001:db8::25/128"
printf '%s\n' "$BODY" >"$ZDIR/relays6"
chmod 644 "$ZDIR"/relays4 "$ZDIR"/relays6
req GET "/v1/blocklist?format=plain&family=4" "$VIEWER"
check_eq "family only with rbldnsd" "$CODE $(jqr .error.code)" "400 bad_parameter"

port=$(random_port)
# rbldnsd refuses to run as root: it drops to its own user inside a chroot of the zone files.
bg_start rbldnsd -n -u rbldns -r "$ZDIR" -w / -b "$IP/$port" \
	bl.test:ip4set:relays4 bl.test:ip6trie:relays6 >"$TEST_TMP/$SUITE.rbldnsd.log" 2>&1
RBLDNSD_PID=$!
ask() { dig @"$IP" -p "$port" +short +time=2 +tries=1 "$@" 2>/dev/null; }
wait_for 10 test -n "$(ask 10.2.0.192.bl.test A)" ||
	{ fail "rbldnsd answers" "no answer; log: $(tail -3 "$TEST_TMP/$SUITE.rbldnsd.log")"; }
check_eq "rbldnsd lists the blocked IPv4 address" "$(ask 10.2.0.192.bl.test A)" "127.0.0.2"
check_contains "rbldnsd gives the reason" "$(ask 10.2.0.192.bl.test TXT)" "Open SMTP relay"
check_eq "rbldnsd does not list an unblocked IPv4 address" "$(ask 11.2.0.192.bl.test A)" ""
v6name() { python3 -c 'import ipaddress,sys; print(ipaddress.ip_address(sys.argv[1]).reverse_pointer.replace(".ip6.arpa", ""))' "$1"; }
check_eq "rbldnsd lists the blocked IPv6 address" "$(ask "$(v6name 2001:db8::25).bl.test" A)" "127.0.0.2"
check_eq "rbldnsd does not list an unblocked IPv6 address" "$(ask "$(v6name 2001:db8::26).bl.test" A)" ""
kill "$RBLDNSD_PID" 2>/dev/null

# CSV downloads, read by Python's csv module.
csv_rows() { # the body as JSON rows (a list of dicts) through csv.DictReader
	python3 -c 'import csv,io,json,sys; print(json.dumps(list(csv.DictReader(io.StringIO(sys.stdin.read(), newline="")))))' <<<"$BODY"
}
req GET "/v1/blocklist?format=csv" "$VIEWER"
check_eq "blocklist csv content type" "$CODE $CTYPE" "200 text/csv; charset=utf-8"
check_eq "blocklist csv loads" "$(csv_rows | jq -r 'map(.address + " " + .why) | join(",")')" \
	"192.0.2.10 relay_confirmed,2001:db8::25 complaint"
req GET "/v1/cases?format=csv&limit=1" "$VIEWER"
check_eq "cases csv content type" "$CODE $CTYPE" "200 text/csv; charset=utf-8"
rows=$(csv_rows)
check_eq "cases csv loads, one page" "$(jq -r 'map(.address + " " + .state + " " + .blocked + " " + .customer) | join(",")' <<<"$rows")" \
	"2001:db8::25 blocked true c2"
cursor=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $VIEWER" "$API_BASE/v1/cases?format=csv&limit=1" |
	tr -d '\r' | sed -n 's/^X-Next-Cursor: //Ip')
req GET "/v1/cases?format=csv&limit=1&cursor=$cursor" "$VIEWER"
check_eq "cases csv next page by X-Next-Cursor" "$(csv_rows | jq -r '.[0].address')" "192.0.2.10"
req GET "/v1/cases?format=csv" "$VIEWER"
check_eq "cases csv has every column" "$(csv_rows | jq -r '.[0] | keys_unsorted | join(",")')" \
	"id,address,customer,state,finding,probe_id,trick,blocked,opened_at,updated_at,notified_at,blocked_at,escalated_at,resolved_at,closed_at,next_timer_at"
check_eq "cases csv lists both cases" "$(csv_rows | jq length)" 2
req GET "/v1/cases?format=xml" "$VIEWER"
check_eq "unknown format refused" "$CODE" 400
