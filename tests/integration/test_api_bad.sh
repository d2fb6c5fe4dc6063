#!/bin/bash
# Bad input on every route: malformed JSON, wrong types, unknown fields,
# oversized bodies, wrong content types, bad addresses, ids and filters,
# SQL-looking strings. Each gets a clear 4xx with the error shape, and the
# database is unchanged afterwards. Also 404/405, and 503 when the database
# is down, then recovery when it comes back.
. "$(dirname "$0")/api_lib.sh"

api_migrate || { fail "migrate" "migrations failed"; exit 1; }
api_start 127.0.61.4 "api_max_body = 4096"
api_tokens
api_seed
O=$OPERATOR V=$VIEWER A=$ADMIN
cid=$(sql "SELECT id FROM cases")
snapshot() {
	sql "SELECT (SELECT count(*) FROM customers) || ',' || (SELECT count(*) FROM targets) || ',' ||
	     (SELECT count(*) FROM cases) || ',' || (SELECT count(*) FROM case_commands) || ',' ||
	     (SELECT count(*) FROM complaints) || ',' || (SELECT count(*) FROM sweeps) || ',' ||
	     (SELECT count(*) FROM retest_requests) || ',' ||
	     (SELECT string_agg(ext_id || name || contact_email || locale, ';' ORDER BY id) FROM customers) || ',' ||
	     (SELECT string_agg(host(address) || ports::text || excluded || priority, ';' ORDER BY id) FROM targets)"
}
before=$(snapshot)
SQLI="x'; DROP TABLE customers; --"
SQLI_URL="x%27%3B%20DROP%20TABLE%20customers%3B%20--"

# routing
check_error "unknown path is 404" 404 not_found GET /v1/nothing "$V"
check_error "unknown version is 404" 404 not_found GET /v2/targets "$V"
check_error "wrong method is 405" 405 method_not_allowed PUT /v1/targets "$V" '{}'
check_contains "405 says what is allowed" "$BODY" "GET, POST"

# health, metrics, openapi: unknown query parameters
check_error "health: unknown parameter" 400 bad_parameter GET "/v1/health?verbose=1"
check_error "metrics: unknown parameter" 400 bad_parameter GET "/metrics?name=x"
check_error "metrics: POST is 405" 405 method_not_allowed POST /metrics "" '{}'
check_error "openapi: unknown parameter" 400 bad_parameter GET "/v1/openapi.json?format=yaml"

# customers
check_error "customers: limit 0" 400 bad_parameter GET "/v1/customers?limit=0" "$V"
check_error "customers: limit too big" 400 bad_parameter GET "/v1/customers?limit=100000" "$V"
check_error "customers: forged cursor" 400 bad_parameter GET "/v1/customers?cursor=abc" "$V"
check_error "customers: SQL in a cursor" 400 bad_parameter GET "/v1/customers?cursor=1%20OR%201=1" "$V"
check_error "customer create: malformed JSON" 400 bad_json POST /v1/customers "$O" '{"ext_id": "c5",'
check_error "customer create: not JSON at all" 400 bad_json POST /v1/customers "$O" 'ext_id=c5'
check_error "customer create: form content type" 415 unsupported_media_type POST /v1/customers "$O" 'ext_id=c5' application/x-www-form-urlencoded
check_error "customer create: no body" 400 bad_json POST /v1/customers "$O" ''
check_error "customer create: array body" 422 invalid_body POST /v1/customers "$O" '[1,2]'
check_error "customer create: unknown field" 422 unknown_field POST /v1/customers "$O" '{"ext_id":"c5","contact_email":"a@b.example","admin":true}'
check_error "customer create: wrong type" 422 invalid_type POST /v1/customers "$O" '{"ext_id":5,"contact_email":"a@b.example"}'
check_error "customer create: missing field" 422 missing_field POST /v1/customers "$O" '{"ext_id":"c5"}'
check_error "customer create: a domain that is not one" 422 invalid_value POST /v1/customers "$O" '{"ext_id":"c5","contact_email":"a@b.example","domains":["ok.example","not a domain"]}'
check_contains "customer create: the bad domain and the reason are named" "$(jqr .error.message)" "domains: 'not a domain' is not a domain name (holds a character other than"
check_error "customer create: a single-label domain" 422 invalid_value POST /v1/customers "$O" '{"ext_id":"c5","contact_email":"a@b.example","domains":["localhost"]}'
check_error "customer create: domains as a string" 422 invalid_type POST /v1/customers "$O" '{"ext_id":"c5","contact_email":"a@b.example","domains":"a.example"}'
check_error "customer create: domains with a number" 422 invalid_type POST /v1/customers "$O" '{"ext_id":"c5","contact_email":"a@b.example","domains":[5]}'
many=$(printf '"d%d.example",' $(seq 1 33)); many="[${many%,}]"
check_error "customer create: more than 32 domains" 422 invalid_value POST /v1/customers "$O" "{\"ext_id\":\"c5\",\"contact_email\":\"a@b.example\",\"domains\":$many}"
check_contains "customer create: the limit is named" "$(jqr .error.message)" "domains: at most 32 domains"
check_error "customer update: a bad domain changes nothing" 422 invalid_value PATCH /v1/customers/c1 "$O" '{"name":"Changed","domains":["-bad.example"]}'
check_eq "customer update: nothing stored after a bad domain" "$(sql "SELECT name || domains::text FROM customers WHERE ext_id = 'c1'")" "Customer One{}"
check_error "customer create: duplicate key" 400 bad_json POST /v1/customers "$O" '{"ext_id":"c5","ext_id":"c6","contact_email":"a@b.example"}'
check_error "customer create: bad email" 422 invalid_value POST /v1/customers "$O" '{"ext_id":"c5","contact_email":"not an email"}'
check_error "customer create: bad locale" 422 invalid_value POST /v1/customers "$O" '{"ext_id":"c5","contact_email":"a@b.example","locale":"english"}'
check_error "customer create: bad enforce_mode" 422 invalid_value POST /v1/customers "$O" '{"ext_id":"c5","contact_email":"a@b.example","enforce_mode":"nuke"}'
check_error "customer create: SQL in ext_id" 422 invalid_value POST /v1/customers "$O" "{\"ext_id\":\"$SQLI\",\"contact_email\":\"a@b.example\"}"
big=$(head -c 5000 /dev/zero | tr '\0' 'a')
check_error "customer create: body over api_max_body" 413 body_too_large POST /v1/customers "$O" "{\"ext_id\":\"c5\",\"name\":\"$big\",\"contact_email\":\"a@b.example\"}"
code=$(head -c 6000 /dev/zero | tr '\0' 'a' | curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $O" \
	-H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @- "$API_BASE/v1/customers")
check_eq "customer create: chunked body over api_max_body" "$code" "413"
check_error "customer get: SQL in the id" 400 bad_id GET "/v1/customers/$SQLI_URL" "$V"
check_error "customer get: unknown" 404 not_found GET /v1/customers/nosuch "$V"
check_error "customer update: wrong type" 422 invalid_type PATCH /v1/customers/c1 "$O" '{"name":["x"]}'
check_error "customer update: ext_id cannot change" 422 unknown_field PATCH /v1/customers/c1 "$O" '{"ext_id":"c9"}'
check_error "customer update: bad email" 422 invalid_value PATCH /v1/customers/c1 "$O" '{"contact_email":"@@"}'
check_error "customer delete: SQL in the id" 400 bad_id DELETE "/v1/customers/$SQLI_URL" "$A"
check_error "customer delete: unknown" 404 not_found DELETE /v1/customers/nosuch "$A"

# targets
check_error "targets: unknown verdict" 400 bad_parameter GET "/v1/targets?verdict=evil" "$V"
check_error "targets: unknown state" 400 bad_parameter GET "/v1/targets?state=gone" "$V"
check_error "targets: cidr with host bits" 400 bad_parameter GET "/v1/targets?cidr=192.0.2.1/24" "$V"
check_error "targets: SQL in cidr" 400 bad_parameter GET "/v1/targets?cidr=$SQLI_URL" "$V"
check_error "targets: SQL in customer" 400 bad_id GET "/v1/targets?customer=$SQLI_URL" "$V"
check_error "targets: excluded not a boolean" 400 bad_parameter GET "/v1/targets?excluded=maybe" "$V"
check_error "targets: unknown filter" 400 bad_parameter GET "/v1/targets?sort=address" "$V"
check_error "target create: bad address" 422 invalid_value POST /v1/targets "$O" '{"address":"999.1.1.1","customer":"c1"}'
check_error "target create: a range is not an address" 422 invalid_value POST /v1/targets "$O" '{"address":"192.0.2.0/24","customer":"c1"}'
check_error "target create: SQL in the address" 422 invalid_value POST /v1/targets "$O" "{\"address\":\"$SQLI\",\"customer\":\"c1\"}"
check_error "target create: port 0" 422 invalid_value POST /v1/targets "$O" '{"address":"192.0.2.77","customer":"c1","ports":[0]}'
check_error "target create: ports as strings" 422 invalid_type POST /v1/targets "$O" '{"address":"192.0.2.77","customer":"c1","ports":["25"]}'
check_error "target create: bad domain" 422 invalid_value POST /v1/targets "$O" '{"address":"192.0.2.77","customer":"c1","domains":["a b;c"]}'
check_error "target create: tiny interval" 422 invalid_value POST /v1/targets "$O" '{"address":"192.0.2.77","customer":"c1","probe_interval":5}'
check_error "target create: float interval" 422 invalid_type POST /v1/targets "$O" '{"address":"192.0.2.77","customer":"c1","probe_interval":1.5}'
check_error "target import: JSON is not an import format" 415 unsupported_media_type POST /v1/targets/import "$O" '{}'
check_error "target import: bad dry_run" 400 bad_parameter POST "/v1/targets/import?dry_run=perhaps" "$O" 'customer,address,contact_email' text/csv
check_error "target import: empty" 400 empty_body POST /v1/targets/import "$O" '' text/csv
check_error "target import: bad rows" 422 invalid_rows POST /v1/targets/import "$O" $'customer,address,contact_email\nc7,not-an-ip,a@b.example\n' text/csv
check_error "target get: not an address" 400 bad_address GET /v1/targets/not-an-ip "$V"
check_error "target get: SQL in the address" 400 bad_address GET "/v1/targets/192.0.2.10%27%20OR%20%271%27=%271" "$V"
check_error "target get: unknown" 404 not_found GET /v1/targets/192.0.2.250 "$V"
check_error "target update: excluded as a string" 422 invalid_type PATCH /v1/targets/192.0.2.10 "$O" '{"excluded":"yes"}'
check_error "target update: 9 ports" 422 invalid_value PATCH /v1/targets/192.0.2.10 "$O" '{"ports":[1,2,3,4,5,6,7,8,9]}'
check_error "target update: port 70000" 422 invalid_value PATCH /v1/targets/192.0.2.10 "$O" '{"ports":[70000]}'
check_error "target update: unknown target" 404 not_found PATCH /v1/targets/192.0.2.250 "$O" '{"excluded":true}'
check_error "target delete: bad address" 400 bad_address DELETE /v1/targets/1.2.3 "$A"
check_error "re-test: bad address" 400 bad_address POST /v1/targets/fe80::zz/retest "$O"
check_error "re-test: unknown target" 404 not_found POST /v1/targets/192.0.2.250/retest "$O"
check_error "re-test follow-up: not a number" 400 bad_id GET /v1/retests/abc "$V"
check_error "re-test follow-up: zero" 400 bad_id GET /v1/retests/0 "$V"
check_error "re-test follow-up: unknown" 404 not_found GET /v1/retests/424242 "$V"

# probes
check_error "probes: bad target" 400 bad_address GET "/v1/probes?target=localhost" "$V"
check_error "probes: bad verdict" 400 bad_parameter GET "/v1/probes?verdict=open" "$V"
check_error "probe get: SQL in the id" 400 bad_id GET "/v1/probes/1;DROP%20TABLE%20probes" "$V"
check_error "probe get: unknown" 404 not_found GET /v1/probes/999999 "$V"

# cases, complaints
check_error "cases: bad state" 400 bad_parameter GET "/v1/cases?state=angry" "$V"
check_error "cases: bad age" 400 bad_parameter GET "/v1/cases?older_than=soon" "$V"
check_error "case get: negative id" 400 bad_id GET /v1/cases/-1 "$V"
check_error "case action: unknown action" 422 invalid_value POST "/v1/cases/$cid/actions" "$O" '{"action":"explode"}'
check_error "case action: note without text" 422 missing_field POST "/v1/cases/$cid/actions" "$O" '{"action":"note"}'
check_error "case action: action missing" 422 missing_field POST "/v1/cases/$cid/actions" "$O" '{"note":"x"}'
check_error "case action: bad id" 400 bad_id POST /v1/cases/x/actions "$O" '{"action":"close"}'
check_error "complaint: a name is not an address" 422 invalid_value POST /v1/complaints "$O" '{"address":"mx.example.com"}'
check_error "complaint: raw must be text" 422 invalid_type POST /v1/complaints "$O" '{"address":"192.0.2.10","raw":42}'
check_error "complaint: not JSON" 415 unsupported_media_type POST /v1/complaints "$O" 'address=1.2.3.4' text/plain

# sweeps
check_error "sweep: cidr scope needs a cidr" 422 invalid_value POST /v1/sweeps "$O" '{"scope":"cidr"}'
check_error "sweep: bad cidr" 422 invalid_value POST /v1/sweeps "$O" '{"scope":"cidr","cidr":"10.0.0.0/33"}'
check_error "sweep: unknown scope" 422 invalid_value POST /v1/sweeps "$O" '{"scope":"galaxy"}'
check_error "sweep: unknown customer" 422 invalid_value POST /v1/sweeps "$O" '{"scope":"customer","customer":"nosuch"}'
check_error "sweep get: bad id" 400 bad_id GET /v1/sweeps/1e3 "$V"

# stats, blocklist, re-test page
check_error "stats: unknown parameter" 400 bad_parameter GET "/v1/stats?days=7" "$V"
check_error "blocklist: unknown format" 400 bad_parameter GET "/v1/blocklist?format=xml" "$V"
req GET /r/1.9999999999.00000000000000000000000000000000
check_eq "re-test page: forged link is 403" "$CODE" "403"
check_contains "re-test page: forged link says so" "$BODY" "not valid"

check_eq "nothing changed after all the bad requests" "$(snapshot)" "$before"
check_eq "customers table is still there" "$(sql "SELECT count(*) FROM customers")" "2"

# the database goes away: 503 with the error shape; it comes back: served again
check_req "served before the outage" 200 GET /v1/targets "$V"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'relayaudit-api'" >/dev/null
check_req "a lost connection is re-made at once" 200 GET /v1/targets "$V"
n=$(sql "SELECT count(*) FROM complaints")
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'relayaudit-api'" >/dev/null
gone() { [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'relayaudit-api'")" = 0 ]; }
wait_for 5 gone
check_req "a write after a terminated session is made" 202 POST /v1/complaints "$O" '{"address":"192.0.2.10"}'
req POST /v1/complaints "$O" '{"address":"192.0.2.10"}'
check_eq "and made once each" "$(sql "SELECT count(*) FROM complaints")" "$((n + 2))"
saved=$API_BASE
cat >"$TEST_TMP/down.conf" <<CONF
api_listen = 127.0.61.5:$API_PORT
database = host=$TEST_TMP/no-such-socket-dir dbname=x connect_timeout=2
log_level = error
CONF
bg_start "$RELAYCTL" api serve -c "$TEST_TMP/down.conf" 2>/dev/null
API_BASE=http://127.0.61.5:$API_PORT
wait_for 10 curl -s -o /dev/null "$API_BASE/v1/openapi.json"
check_error "database down: a read is 503" 503 database_unavailable GET /v1/targets "$V"
req GET /v1/health
check_eq "database down: health says so" "$CODE $(jqr .database)" "503 unreachable"
req GET /metrics
check_contains "database down: metrics still answer" "$BODY" "relayaudit_database_up 0"
check_req "database down: the OpenAPI document is still served" 200 GET /v1/openapi.json
API_BASE=$saved
api_finish
