#!/bin/bash
# GET /v1/openapi.json is checked against what the server actually serves:
# every documented operation answers (no route-level 404/405), every
# undocumented method on a documented path is 405, every documented query
# parameter is accepted and an undocumented one refused, and the document
# covers the endpoints the API promises (issue 7), no more and no fewer.
. "$(dirname "$0")/api_lib.sh"

api_migrate || { fail "migrate" "migrations failed"; exit 1; }
api_start 127.0.61.6
api_tokens
api_seed

req GET /v1/openapi.json
check_eq "openapi is served as JSON" "$CODE ${CTYPE%%;*}" "200 application/json"
DOC=$BODY
check_eq "it is OpenAPI 3" "$(jq -r '.openapi | startswith("3.")' <<<"$DOC")" "true"
check_eq "it has info and a bearer scheme" "$(jq -r '.info.title != null and .components.securitySchemes.bearer.scheme == "bearer"' <<<"$DOC")" "true"
check_eq "every operation has responses and a summary" \
	"$(jq '[.paths[][] | select(.responses == null or .summary == null)] | length' <<<"$DOC")" "0"
check_eq "every operation documents the error shape" \
	"$(jq '[.paths[][] | select(.responses["400"].content["application/json"].schema["$ref"] != "#/components/schemas/Error")] | length' <<<"$DOC")" "0"
check_eq "path parameters are documented" \
	"$(jq '[.paths | to_entries[] | .key as $p | .value[] | select(($p | test("[{]")) and ([.parameters[] | select(.in == "path")] | length) == 0)] | length' <<<"$DOC")" "0"
check_eq "JSON bodies are documented with closed schemas" \
	"$(jq -r '[.paths["/v1/customers"].post.requestBody.content["application/json"].schema | .additionalProperties, (.required | index("ext_id") != null)] | map(tostring) | join(",")' <<<"$DOC")" "false,true"

# The promise: these operations, exactly.
expected="GET /v1/health
GET /metrics
GET /v1/openapi.json
GET /v1/whoami
GET /v1/customers
POST /v1/customers
GET /v1/customers/{ext_id}
PATCH /v1/customers/{ext_id}
DELETE /v1/customers/{ext_id}
GET /v1/targets
POST /v1/targets
POST /v1/targets/import
GET /v1/targets/{ip}
PATCH /v1/targets/{ip}
DELETE /v1/targets/{ip}
POST /v1/targets/{ip}/retest
GET /v1/retests/{id}
GET /v1/probes
GET /v1/probes/{id}
GET /v1/cases
GET /v1/cases/{id}
POST /v1/cases/{id}/actions
POST /v1/complaints
POST /v1/sweeps
GET /v1/sweeps
GET /v1/sweeps/{id}
GET /v1/stats
GET /v1/blocklist
GET /r/{token}
POST /r/{token}
GET /r/{token}/status
GET /
GET /web/{file}
GET /javascript/chart.js/{file}"
documented=$(jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | "\(ascii_upcase) \($p)"' <<<"$DOC")
check_eq "the document lists exactly the promised operations" \
	"$(sort <<<"$documented" | tr '\n' ' ')" "$(sort <<<"$expected" | tr '\n' ' ')"

fill() { sed -e 's|{ip}|192.0.2.10|; s|{ext_id}|c1|; s|{id}|1|; s|{token}|1.1.x|' <<<"$1"; }
route_missing() { # the server's own "no route" answers, as opposed to "no such thing"
	[ "$CODE" = 405 ] || { [ "$CODE" = 404 ] && [ "$(jqr .error.message)" = "no such resource" ]; }
}
while read -r path; do
	p=$(fill "$path")
	for m in GET POST PATCH DELETE PUT; do
		doc_has=$(jq -r --arg p "$path" --arg m "${m,,}" '.paths[$p][$m] != null' <<<"$DOC")
		# Reads run as they are; writes get a body that fails validation, so nothing changes.
		if [ "$m" = GET ] || [ "$m" = DELETE ]; then
			[ "$m" = DELETE ] && p=$(sed 's|192.0.2.10|192.0.2.250|; s|/c1$|/nosuch|' <<<"$p")
			req "$m" "$p" "$ADMIN"
		else
			req "$m" "$p" "$ADMIN" '{"unknown_field_for_openapi_check":1}'
		fi
		if [ "$doc_has" = true ]; then
			if route_missing; then fail "$m $path is served" "got $CODE ${BODY:0:120}"; else pass "$m $path is served ($CODE)"; fi
		else
			check_eq "$m $path (undocumented) is refused as 405" "$CODE" "405"
		fi
	done
	# query parameters: documented ones accepted, others refused
	for m in $(jq -r --arg p "$path" '.paths[$p] | keys[]' <<<"$DOC"); do
		[ "$m" = get ] || continue
		for q in $(jq -r --arg p "$path" '.paths[$p].get.parameters[] | select(.in == "query") | .name' <<<"$DOC"); do
			req GET "$p?$q=" "$ADMIN"
			if [ "$(jqr .error.message)" = "unknown query parameter '$q'" ]; then
				fail "GET $path accepts documented ?$q" "got $CODE ${BODY:0:120}"
			else pass "GET $path accepts documented ?$q"; fi
		done
		req GET "$p?undocumented_param=1" "$ADMIN"
		check_eq "GET $path refuses an undocumented parameter" "$CODE $(jqr .error.code)" "400 bad_parameter"
	done
done < <(jq -r '.paths | keys[]' <<<"$DOC")
api_finish
