#!/bin/bash
# POST /v1/complaints takes the report mail itself (Content-Type:
# message/rfc822): filed like a JSON complaint with the report as evidence;
# a report that is not one is refused (422, with the reason) and kept in the
# quarantine directory; changing nothing in the database.
. "$(dirname "$0")/api_lib.sh"

DATA=$ROOT/tests/unit/data/arf
QDIR=$TEST_TMP/$SUITE.quarantine
api_migrate || { fail "migrate" "migrations failed"; exit 1; }
api_start 127.0.61.7 "complaint_quarantine_dir = $QDIR"
api_tokens
api_seed

req POST /v1/complaints "$OPERATOR" "$(sed 's/__ADDR__/192.0.2.10/g' "$DATA/arf-rfc5965.eml")" message/rfc822
check_eq "arf report accepted" "$CODE" 202
check_eq "arf report names the source address" "$(jqr .address) $(jqr .known_target)" "192.0.2.10 true"
check_eq "arf report filed with evidence and actor" \
	"$(sql "SELECT source || ' ' || actor || ' ' || (raw LIKE '%Source-IP: 192.0.2.10%') FROM complaints")" \
	"arf abuse from fbl@mailbox.example (Source-IP) token:t-operator true"

req POST /v1/complaints "$OPERATOR" "$(sed 's/__ADDR__/2001:db8::25/g' "$DATA/xarf.eml")" 'message/rfc822; charset=utf-8'
check_eq "x-arf report accepted" "$CODE $(jqr .address)" "202 2001:db8::25"

req POST /v1/complaints "$OPERATOR" "$(cat "$DATA/not-a-report.eml")" message/rfc822
check_eq "plain mail refused" "$CODE $(jqr .error.code)" "422 bad_report"
check_contains "refusal says why and where it is kept" "$(jqr .error.message)" "not a feedback report: the mail is not multipart; kept as 2"
check_eq "refused report kept with its reason" "$(ls "$QDIR"/*.eml | wc -l) $(cat "$QDIR"/*.why)" \
	"1 not a feedback report: the mail is not multipart"
check_eq "refused report files nothing" "$(sql "SELECT count(*) FROM complaints")" 2

req POST /v1/complaints "$VIEWER" "$(sed 's/__ADDR__/192.0.2.10/g' "$DATA/arf-rfc5965.eml")" message/rfc822
check_eq "viewer may not file a report" "$CODE" 403

req GET /v1/openapi.json
check_eq "openapi lists message/rfc822 for complaints" \
	"$(jq -r '.paths["/v1/complaints"].post.requestBody.content | keys | join(",")' "$API_RESP")" \
	"application/json,message/rfc822"
