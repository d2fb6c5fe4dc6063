#!/bin/bash
# Every read endpoint's happy path and the shared list contract: JSON,
# RFC 3339 times, filters, and cursor pagination that visits every row once.
. "$(dirname "$0")/api_lib.sh"

api_migrate || { fail "migrate" "migrations failed"; exit 1; }
api_start 127.0.61.2
api_tokens
api_seed

V=$VIEWER
check_req "health answers 200" 200 GET /v1/health
check_eq "health says the database is ok" "$(jqr .database)" "ok"
check_eq "health lists the configured roles" "$(jqr '.roles | join(",")')" "probe,sink,workflow,api,dnsbl"

# customers
check_req "customers list" 200 GET /v1/customers "$V"
check_eq "customers list is json" "${CTYPE%%;*}" "application/json"
check_eq "customers list has both" "$(jqr '[.items[].ext_id] | join(",")')" "c1,c2"
check_req "customers q filter" 200 GET "/v1/customers?q=zweiter" "$V"
check_eq "customers q finds by name" "$(jqr '[.items[].ext_id] | join(",")')" "c2"
check_req "customer get" 200 GET /v1/customers/c1 "$V"
check_eq "customer get has its targets" "$(jqr '.targets | join(",")')" "192.0.2.10,192.0.2.11"
check_eq "customer get counts active cases" "$(jqr .active_cases)" "1"

# targets
check_req "targets list" 200 GET /v1/targets "$V"
check_eq "targets list has three" "$(jqr '.items | length')" "3"
check_eq "last page has no next_cursor" "$(jqr .next_cursor)" "null"
check_req "targets by verdict" 200 GET "/v1/targets?verdict=relay_confirmed" "$V"
check_eq "verdict filter" "$(jqr '[.items[].address] | join(",")')" "192.0.2.10"
check_req "targets by case state" 200 GET "/v1/targets?state=blocked" "$V"
check_eq "state filter" "$(jqr '[.items[].address] | join(",")')" "192.0.2.10"
check_req "targets by cidr" 200 GET "/v1/targets?cidr=2001:db8::/32" "$V"
check_eq "cidr filter" "$(jqr '[.items[].address] | join(",")')" "2001:db8::25"
check_req "targets by customer" 200 GET "/v1/targets?customer=c1&limit=10" "$V"
check_eq "customer filter" "$(jqr '.items | length')" "2"
check_req "target get" 200 GET /v1/targets/192.0.2.10 "$V"
check_eq "target get has its case" "$(jqr .target.case.state)" "blocked"
check_eq "target get has latest probes" "$(jqr '.latest_probes[0].verdict')" "relay_confirmed"
check_req "target get by IPv6 in another spelling" 200 GET /v1/targets/2001:DB8:0::25 "$V"
check_eq "IPv6 address is canonical" "$(jqr .target.address)" "2001:db8::25"
rfc3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$'
ts=$(jqr .target.created_at)
[[ $ts =~ $rfc3339 ]] && pass "times are RFC 3339 ($ts)" || fail "times are RFC 3339" "got '$ts'"

# pagination over 120 targets, 25 at a time: every row once, in order, then no cursor
sql "INSERT INTO targets (customer_id, address) SELECT (SELECT id FROM customers WHERE ext_id = 'c2'),
     ('198.51.100.0'::inet + g) FROM generate_series(1, 120) g" >/dev/null
seen=0 pages=0 cursor= all=
while :; do
	req GET "/v1/targets?customer=c2&limit=25${cursor:+&cursor=$cursor}" "$V"
	[ "$CODE" = 200 ] || break
	n=$(jqr '.items | length'); seen=$((seen + n)); pages=$((pages + 1))
	all+=$(jqr '.items[].address')$'\n'
	cursor=$(jqr '.next_cursor // empty')
	[ -z "$cursor" ] && break
	[ $pages -gt 20 ] && break
done
check_eq "pagination visits all 121 rows" "$seen" "121"
check_eq "pagination takes 5 pages of 25" "$pages" "5"
check_eq "pagination repeats no row" "$(grep -c . <<<"$all")" "$(sort -u <<<"$all" | grep -c .)"
check_req "limit bounds the page" 200 GET "/v1/targets?limit=1" "$V"
check_eq "limit=1 gives one item" "$(jqr '.items | length')" "1"
check_eq "limit=1 gives a cursor" "$(jqr '.next_cursor | type')" "string"

# probes
pid=$(sql "SELECT max(id) FROM probes")
check_req "probes list" 200 GET /v1/probes "$V"
check_eq "probes list item" "$(jqr '.items[0].trick')" "null/plain"
check_req "probes by target" 200 GET "/v1/probes?target=192.0.2.10&verdict=relay_confirmed" "$V"
check_eq "probes target filter" "$(jqr '.items | length')" "1"
check_req "probe get" 200 GET "/v1/probes/$pid" "$V"
check_eq "probe get has the transcript" "$(jqr '.evidence.transcript | startswith("220 mx.c1")')" "true"
check_eq "probe get has the banner" "$(jqr .banner)" "220 mx.c1.example ESMTP"

# cases
cid=$(sql "SELECT id FROM cases")
check_req "cases list by state" 200 GET "/v1/cases?state=blocked" "$V"
check_eq "cases list has the blocked case" "$(jqr '.items[0].id')" "$cid"
check_req "cases older than a day" 200 GET "/v1/cases?older_than=1d" "$V"
check_eq "age filter keeps the 2-day-old case" "$(jqr '.items | length')" "1"
check_req "cases older than a week" 200 GET "/v1/cases?older_than=7d" "$V"
check_eq "age filter drops it" "$(jqr '.items | length')" "0"
check_req "cases by finding" 200 GET "/v1/cases?finding=relay_confirmed" "$V"
check_eq "finding filter keeps the relay's case" "$(jqr '[.items[].id] | join(",")')" "$cid"
check_req "cases by another finding" 200 GET "/v1/cases?finding=complaint" "$V"
check_eq "finding filter drops it" "$(jqr '.items | length')" "0"
check_req "cases by customer" 200 GET "/v1/cases?customer=c1&state=blocked" "$V"
check_eq "customer filter keeps c1's case" "$(jqr '[.items[].id] | join(",")')" "$cid"
check_req "cases of another customer" 200 GET "/v1/cases?customer=c2" "$V"
check_eq "customer filter drops it" "$(jqr '.items | length')" "0"
check_error "cases: unknown finding" 400 bad_parameter GET "/v1/cases?finding=nonsense" "$V"
check_req "case get" 200 GET "/v1/cases/$cid" "$V"
check_eq "case get has its event log" "$(jqr '.events[0].event')" "finding"
check_eq "case get lists its mails (none yet)" "$(jqr '.mails | length')" "0"
check_req "whoami" 200 GET /v1/whoami "$V"
check_eq "whoami names the token and its role" "$(jqr '.name + " " + .role')" "t-viewer viewer"
check_req "sweeps list (none yet)" 200 GET "/v1/sweeps?running=true" "$V"
check_eq "sweeps list is empty" "$(jqr '.items | length'):$(jqr .next_cursor)" "0:null"

# stats, blocklist, metrics
check_req "stats" 200 GET /v1/stats "$V"
check_eq "stats counts verdicts" "$(jqr .verdicts.relay_confirmed)" "1"
check_eq "stats counts cases by state" "$(jqr .cases.blocked)" "1"
check_eq "stats has 30 days" "$(jqr '.per_day | length')" "30"
check_eq "stats counts the opening day" "$(jqr '[.per_day[].opened] | add')" "1"
check_eq "stats counts the executors' queues" "$(jqr '[.outbox.pending, .outbox.failed, .enforcer.pending, .enforcer.failed] | join(",")')" "0,0,0,0"
sql "UPDATE cases SET state = 'resolved', resolved_at = opened_at + interval '1 hour', blocked = false" >/dev/null
check_req "stats after a resolution" 200 GET /v1/stats "$V"
check_eq "time to remediate" "$(jqr .time_to_remediate.median_seconds)" "3600"
sql "UPDATE cases SET state = 'blocked', resolved_at = NULL, blocked = true" >/dev/null
check_req "blocklist plain" 200 GET /v1/blocklist "$V"
check_eq "blocklist is text/plain" "${CTYPE%%;*}" "text/plain"
check_eq "blocklist lists the blocked address" "$BODY" "192.0.2.10"
check_req "blocklist rbldnsd" 200 GET "/v1/blocklist?format=rbldnsd" "$V"
check_contains "rbldnsd has the A/TXT default" "$BODY" ":127.0.0.2:"
check_eq "rbldnsd lists the address" "$(grep -v '^[#:]' <<<"$BODY")" "192.0.2.10"
check_req "blocklist json" 200 GET "/v1/blocklist?format=json" "$V"
check_eq "blocklist json" "$(jqr '.items[0].address')" "192.0.2.10"
check_eq "blocklist json says why" "$(jqr '.items[0].why')" "relay_confirmed"
check_req "blocklist csv" 200 GET "/v1/blocklist?format=csv" "$V"
check_eq "blocklist csv is text/csv" "${CTYPE%%;*}" "text/csv"
check_eq "blocklist csv: header and one row" "$(tr -d '\r' <<<"$BODY" | cut -d, -f1,2,4 | tr '\n' ' ')" "address,case_id,why 192.0.2.10,$cid,relay_confirmed "
req GET /metrics
check_contains "metrics: probes by verdict" "$BODY" 'relayaudit_probes_total{verdict="relay_confirmed"} 1'
check_contains "metrics: duration histogram" "$BODY" 'relayaudit_probe_duration_seconds_bucket{le="2.5"} 1'
check_contains "metrics: cases by state" "$BODY" 'relayaudit_cases{state="blocked"} 1'
check_contains "metrics: due queue depth" "$BODY" "relayaudit_due_targets "
check_contains "metrics: outbox" "$BODY" 'relayaudit_outbox{state="failed"} 0'
check_contains "metrics: enforcer failures" "$BODY" "relayaudit_enforcer_failures 0"
check_contains "metrics: database errors" "$BODY" "relayaudit_database_errors_total"
check_contains "metrics: database up" "$BODY" "relayaudit_database_up 1"
api_finish
