#!/bin/bash
# The auth matrix: every route of the route table (read from the served
# OpenAPI document) called with no token, a bad token, and as viewer,
# operator and admin; each answer must be 401/403 exactly when the route's
# role is above the caller's, and tokens are stored hashed and revocable.
. "$(dirname "$0")/api_lib.sh"

api_migrate || { fail "migrate" "migrations failed"; exit 1; }
api_start 127.0.61.1
api_tokens
api_seed

check_eq "token is printed once with its prefix" "${VIEWER:0:3}" "ra_"
check_eq "token is stored as its sha256 only" \
	"$(sql "SELECT count(*) FROM api_tokens WHERE token_hash = sha256('$VIEWER'::bytea)")" "1"
check_eq "plain token text is nowhere in the table" \
	"$(sql "SELECT count(*) FROM api_tokens WHERE position('$VIEWER' in encode(token_hash, 'escape')) > 0")" "0"

rank() { case $1 in none) echo 0;; viewer) echo 1;; operator) echo 2;; admin) echo 3;; public) echo 0;; esac; }

req GET /v1/openapi.json
# method path role, one per line; {x} replaced by a value that exists.
routes=$(jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[] |
	"\(.key | ascii_upcase) \($p) \(if (.value.security == []) then "public" else .value["x-required-role"] end)"' <<<"$BODY")
nroutes=$(wc -l <<<"$routes")
[ "$nroutes" -ge 25 ] && pass "openapi lists every route ($nroutes)" || fail "openapi lists every route" "got $nroutes"

fill() {
	sed -e 's|{ip}|192.0.2.250|; s|{ext_id}|nosuch|; s|{id}|999999|; s|{token}|forged|' <<<"$1"
}
while read -r method path role; do
	p=$(fill "$path")
	need=$(rank "$role")
	for who in none bad viewer operator admin; do
		case $who in
		none) tok= ;; bad) tok=ra_0000000000000000000000000000000000000000 ;;
		viewer) tok=$VIEWER ;; operator) tok=$OPERATOR ;; admin) tok=$ADMIN ;;
		esac
		have=$(rank "$who"); [ "$who" = bad ] && have=0
		if [ "$method" = GET ] || [ "$method" = DELETE ]; then req "$method" "$p" "$tok"
		else req "$method" "$p" "$tok" '{}'; fi
		if [ "$role" = public ]; then
			# Public routes never ask for a token (a forged re-test link is its own 403 page).
			err=$(jqr .error.code)
			want="no unauthorized/forbidden error"
			ok=$([ "$err" != unauthorized ] && [ "$err" != forbidden ] && [ "$CODE" != 500 ] && echo y)
		elif [ "$who" = none ] || [ "$who" = bad ]; then
			want=401; ok=$([ "$CODE" = 401 ] && echo y)
		elif [ "$have" -lt "$need" ]; then
			want=403; ok=$([ "$CODE" = 403 ] && echo y)
		else
			want="not 401/403"; ok=$([ "$CODE" != 401 ] && [ "$CODE" != 403 ] && [ "$CODE" != 500 ] && echo y)
		fi
		if [ -n "$ok" ]; then pass "$method $path as $who: $CODE"
		else fail "$method $path as $who" "got $CODE want $want (${BODY:0:160})"; fi
	done
done <<<"$routes"

check_error "401 has the error shape" 401 unauthorized GET /v1/targets
check_eq "401 names the problem" "$(jqr '.error.message | length > 0')" "true"
check_error "403 says which role is needed" 403 forbidden DELETE /v1/targets/192.0.2.10 "$OPERATOR"
check_contains "403 message" "$BODY" "admin"

# Writes record the token's name as the actor.
req POST /v1/complaints "$OPERATOR" '{"address":"192.0.2.10","raw":"spam","source":"fbl"}'
check_eq "complaint accepted" "$CODE" 202
check_eq "complaint records the token as actor" "$(sql "SELECT actor FROM complaints")" "token:t-operator"
check_eq "audit log names the token" \
	"$(sql "SELECT actor || ' ' || method || ' ' || path || ' ' || status FROM api_audit WHERE path = '/v1/complaints' AND status = 202")" \
	"token:t-operator POST /v1/complaints 202"

# Revocation takes effect (within the 1 s token cache).
"$RELAYCTL" token revoke t-viewer -c "$API_CONF" >/dev/null
revoked() { req GET /v1/targets "$VIEWER"; [ "$CODE" = 401 ]; }
wait_for 5 revoked && pass "revoked token is refused" || fail "revoked token is refused" "got $CODE"
check_contains "token list shows the revocation" "$("$RELAYCTL" token list -c "$API_CONF")" "t-viewer"
"$RELAYCTL" token create --name t-admin --role viewer -c "$API_CONF" >/dev/null 2>&1
check_eq "a live token name cannot be taken twice" "$?" "1"
"$RELAYCTL" token create --name t-x --role root -c "$API_CONF" >/dev/null 2>&1
check_eq "unknown role is refused" "$?" "2"

# Health and metrics are public by default, need a token with api_public_health = no.
check_req "health is public by default" 200 GET /v1/health
check_req "metrics are public by default" 200 GET /metrics
