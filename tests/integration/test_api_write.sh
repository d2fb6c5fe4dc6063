#!/bin/bash
# Every write endpoint's happy path: customers and targets CRUD, bulk
# import, re-test requests followed to their result, case actions queued
# for the workflow (and refused when the state forbids them), complaints,
# sweeps and their progress. Each write names its token as the actor.
. "$(dirname "$0")/api_lib.sh"

api_migrate || { fail "migrate" "migrations failed"; exit 1; }
api_start 127.0.61.3 "probe_ports = 25,2525"
api_tokens
api_seed
O=$OPERATOR V=$VIEWER

# customers
check_req "customer create" 201 POST /v1/customers "$O" \
	'{"ext_id":"c3","name":"Drei","contact_email":"abuse@c3.example","locale":"nl","enforce_mode":"smarthost"}'
check_eq "created customer is returned" "$(jqr .ext_id):$(jqr .locale):$(jqr .enforce_mode)" "c3:nl:smarthost"
check_eq "customer row exists" "$(sql "SELECT contact_email FROM customers WHERE ext_id = 'c3'")" "abuse@c3.example"
check_error "duplicate customer is a conflict" 409 conflict POST /v1/customers "$O" \
	'{"ext_id":"c3","contact_email":"x@c3.example"}'
check_req "customer update" 200 PATCH /v1/customers/c3 "$O" '{"name":"Drie","enforce_mode":""}'
check_eq "update changes only the fields sent" "$(jqr .name):$(jqr .locale):$(jqr .enforce_mode)" "Drie:nl:null"
check_error "update of an unknown customer" 404 not_found PATCH /v1/customers/nosuch "$O" '{"name":"x"}'

# customer mail domains: normal form (lower case, no trailing dot), each once, in order
check_req "customer create with mail domains" 201 POST /v1/customers "$O" \
	'{"ext_id":"gf","contact_email":"it@grossefirma.example","domains":["GrosseFirma.example","grossefirma.example.","Filiale.example"]}'
check_eq "created customer's domains are normalised and each once" "$(jqr '.domains | join(",")')" "grossefirma.example,filiale.example"
check_eq "customer domains are stored" "$(sql "SELECT domains::text FROM customers WHERE ext_id = 'gf'")" "{grossefirma.example,filiale.example}"
check_req "customer get shows the domains" 200 GET /v1/customers/gf "$V"
check_eq "customer get's domains" "$(jqr '.customer.domains | join(",")')" "grossefirma.example,filiale.example"
check_req "customers search finds a customer by a mail domain" 200 GET "/v1/customers?q=filiale.example" "$V"
check_eq "customers search by domain" "$(jqr '[.items[].ext_id] | join(",")')" "gf"
check_req "customer update without domains keeps them" 200 PATCH /v1/customers/gf "$O" '{"name":"Grosse Firma"}'
check_eq "domains kept when not sent" "$(jqr '.domains | join(",")')" "grossefirma.example,filiale.example"
check_req "customer update replaces the domains" 200 PATCH /v1/customers/gf "$O" '{"domains":["mail.grossefirma.example"]}'
check_eq "domains replaced" "$(jqr '.domains | join(",")'):$(jqr .name)" "mail.grossefirma.example:Grosse Firma"
check_req "customer update clears the domains" 200 PATCH /v1/customers/gf "$O" '{"domains":[]}'
check_eq "domains cleared" "$(jqr '.domains | length')" "0"
check_req "a new customer without domains has none" 200 GET /v1/customers/c3 "$V"
check_eq "domains default to []" "$(jqr '.customer.domains | length')" "0"

# targets
check_req "target create" 201 POST /v1/targets "$O" '{"address":"203.0.113.5","customer":"c3","domains":["MX.c3.example.","mx.c3.example"]}'
check_eq "target domains take the customer domains' normal form" "$(jqr '.domains | join(",")')" "mx.c3.example"
check_eq "target takes probe_ports by default" "$(jqr '.ports | map(tostring) | join(",")')" "25,2525"
check_eq "new target is due now" "$(sql "SELECT next_probe_at <= now() FROM targets WHERE address = '203.0.113.5'")" "t"
check_error "duplicate target is a conflict" 409 conflict POST /v1/targets "$O" '{"address":"203.0.113.5","customer":"c3"}'
check_error "target for an unknown customer" 422 invalid_value POST /v1/targets "$O" '{"address":"203.0.113.6","customer":"zz"}'
check_req "target update" 200 PATCH /v1/targets/203.0.113.5 "$O" '{"ports":[25],"excluded":true,"probe_interval":3600}'
check_eq "target update applied" "$(jqr '.ports[0]'):$(jqr .excluded):$(jqr .probe_interval)" "25:true:3600"
check_error "re-test of an excluded target is a conflict" 409 excluded POST /v1/targets/203.0.113.5/retest "$O"
check_req "target move to another customer" 200 PATCH /v1/targets/203.0.113.5 "$O" '{"customer":"c1","excluded":false}'
check_eq "target moved" "$(jqr .customer)" "c1"
check_req "target delete (admin)" 200 DELETE /v1/targets/203.0.113.5 "$ADMIN"
check_eq "target row gone" "$(sql "SELECT count(*) FROM targets WHERE address = '203.0.113.5'")" "0"
check_error "delete it again" 404 not_found DELETE /v1/targets/203.0.113.5 "$ADMIN"

# bulk import, same validation as relayctl import
csv=$'customer,address,contact_email,name,locale\nc9,192.0.2.64/30,noc@c9.example,Neun,de\nc9,2001:db8:9::1,noc@c9.example,,\n'
check_req "import dry run" 200 POST "/v1/targets/import?dry_run=true" "$O" "$csv" text/csv
check_eq "dry run counts" "$(jqr .targets_new):$(jqr .dry_run)" "5:true"
check_eq "dry run writes nothing" "$(sql "SELECT count(*) FROM customers WHERE ext_id = 'c9'")" "0"
check_req "import" 200 POST /v1/targets/import "$O" "$csv" text/csv
check_eq "import counts" "$(jqr .customers_new):$(jqr .targets_new)" "1:5"
check_eq "import wrote the range" "$(sql "SELECT count(*) FROM targets t JOIN customers c ON c.id = t.customer_id WHERE c.ext_id = 'c9'")" "5"
check_req "import as JSON lines" 200 POST /v1/targets/import "$O" \
	'{"customer":"c10","address":"192.0.2.200","contact_email":"noc@c10.example"}' application/x-ndjson
check_eq "jsonl import" "$(jqr .targets_new)" "1"
bad=$'customer,address,contact_email\nc11,192.0.2.300,noc@c11.example\nc11,192.0.2.201,not-an-email\n'
check_error "import with bad rows" 422 invalid_rows POST /v1/targets/import "$O" "$bad" text/csv
check_eq "import errors name their lines" "$(jqr '[.error.errors[].line] | map(tostring) | join(",")')" "2,3"
check_eq "a bad import writes nothing" "$(sql "SELECT count(*) FROM customers WHERE ext_id = 'c11'")" "0"

# re-test: 202, follow it, result when the probes are in
check_req "re-test request" 202 POST /v1/targets/192.0.2.10/retest "$O"
rid=$(jqr .id)
check_eq "re-test names its follow-up url" "$(jqr .url)" "/v1/retests/$rid"
check_eq "re-test raises the target to priority 3" \
	"$(sql "SELECT priority || ' ' || (next_probe_at <= now()) FROM targets WHERE address = '192.0.2.10'")" "3 true"
check_eq "re-test request row names the token" \
	"$(sql "SELECT requested_by || ' ' || (case_id IS NOT NULL) FROM retest_requests WHERE id = $rid")" "token:t-operator true"
check_req "re-test follow-up" 200 GET "/v1/retests/$rid" "$VIEWER"
check_eq "re-test is pending" "$(jqr .status)" "pending"
sql "INSERT INTO probes (target_id, address, port, started_at) SELECT id, address, 25, now() FROM targets WHERE address = '192.0.2.10'" >/dev/null
check_req "re-test follow-up while probing" 200 GET "/v1/retests/$rid" "$VIEWER"
check_eq "re-test is running" "$(jqr .status)" "running"
sql "UPDATE probes SET verdict = 'closed', finished_at = now() WHERE verdict IS NULL;
     INSERT INTO probes (target_id, address, port, started_at, finished_at, verdict)
       SELECT id, address, 587, now(), now(), 'closed' FROM targets WHERE address = '192.0.2.10'" >/dev/null
check_req "re-test follow-up when done" 200 GET "/v1/retests/$rid" "$VIEWER"
check_eq "re-test is done" "$(jqr .status)" "done"
check_eq "re-test result" "$(jqr .relay_confirmed):$(jqr '.probes | length')" "false:2"

# case actions are queued for the workflow runner
cid=$(sql "SELECT id FROM cases")
check_req "note on a case" 202 POST "/v1/cases/$cid/actions" "$O" '{"action":"note","note":"called the customer"}'
check_eq "note queued with the actor" "$(sql "SELECT command || '|' || note || '|' || actor FROM case_commands")" \
	"note|called the customer|token:t-operator"
check_error "block a blocked case" 409 conflict POST "/v1/cases/$cid/actions" "$O" '{"action":"block"}'
check_error "reopen an open case" 409 conflict POST "/v1/cases/$cid/actions" "$O" '{"action":"reopen"}'
check_req "escalate" 202 POST "/v1/cases/$cid/actions" "$O" '{"action":"escalate"}'
check_eq "escalate queued" "$(jqr .action):$(jqr .status)" "escalate:queued"
check_req "unblock" 202 POST "/v1/cases/$cid/actions" "$O" '{"action":"unblock","note":"fixed"}'
check_eq "unblock queued" "$(jqr .action):$(jqr .status)" "unblock:queued"
check_req "close" 202 POST "/v1/cases/$cid/actions" "$O" '{"action":"close"}'
check_req "case shows its queued commands" 200 GET "/v1/cases/$cid" "$VIEWER"
check_eq "commands in order" "$(jqr '[.commands[].action] | join(",")')" "note,escalate,unblock,close"
check_error "action on a missing case" 404 not_found POST /v1/cases/99999/actions "$O" '{"action":"close"}'
check_eq "nothing applied the commands but the workflow" "$(sql "SELECT state FROM cases")" "blocked"

# complaints
check_req "complaint" 202 POST /v1/complaints "$O" '{"address":"192.0.2.11","source":"fbl.example","raw":"Received: from ...\nSubject: spam"}'
check_eq "complaint recorded" "$(sql "SELECT host(address) || '|' || source || '|' || actor FROM complaints")" \
	"192.0.2.11|fbl.example|token:t-operator"
check_eq "complaint on a known target" "$(jqr .known_target)" "true"
check_eq "complaint waits for the workflow" "$(sql "SELECT processed_at IS NULL FROM complaints")" "t"

# sweeps
check_req "sweep of a range" 201 POST /v1/sweeps "$O" '{"scope":"cidr","cidr":"192.0.2.0/24"}'
sid=$(jqr .id)
want=$(sql "SELECT count(*) FROM targets WHERE address <<= '192.0.2.0/24' AND NOT excluded")
check_eq "sweep counts its targets" "$(jqr .total)" "$want"
check_eq "sweep tags and raises them" "$(sql "SELECT count(*) FROM targets WHERE sweep_id = $sid AND priority >= 1 AND next_probe_at <= now()")" "$want"
check_eq "sweep names its creator" "$(sql "SELECT created_by FROM sweeps WHERE id = $sid")" "token:t-operator"
check_req "sweep progress" 200 GET "/v1/sweeps/$sid" "$VIEWER"
check_eq "sweep not done yet" "$(jqr .done):$(jqr .finished)" "0:false"
# Progress through the real probe writer: test_daemon_sweep_api.sh.
check_req "sweep of a customer" 201 POST /v1/sweeps "$O" '{"scope":"customer","customer":"c2"}'
check_eq "customer sweep total" "$(jqr .total)" "1"
check_req "sweep of everything" 201 POST /v1/sweeps "$O" '{"scope":"all"}'

# customer delete takes its targets
check_req "customer delete (admin)" 200 DELETE /v1/customers/c9 "$ADMIN"
check_eq "customer delete reports its targets" "$(jqr .deleted)" "c9"
check_eq "targets went with it" "$(sql "SELECT count(*) FROM targets WHERE address <<= '192.0.2.64/30'")" "0"

# every write above is in the audit log with its token
check_eq "audit log has every write" "$(sql "SELECT count(*) FROM api_audit WHERE actor NOT LIKE 'token:t-%'")" "0"
check_eq "audit log has the deletes as admin" "$(sql "SELECT count(*) FROM api_audit WHERE method = 'DELETE' AND actor = 'token:t-admin'")" "3"
api_finish
