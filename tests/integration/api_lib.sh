# Helpers for the API's integration tests (tests/integration/test_api_*.sh):
# a migrated database, `relayctl api serve` on a loopback address of the api
# range (127.0.61.0/24 .. 127.0.69.0/24), one token per role, and `req`, a
# curl wrapper that leaves the status in CODE and the body in BODY.
. "$ROOT/tests/lib.sh"

# A random port, so two runs of the suite on one machine do not collide.
API_PORT=${API_PORT:-$((20000 + RANDOM % 20000))}
# Suites run side by side in one TEST_TMP: each keeps its replies apart.
API_RESP=$TEST_TMP/$SUITE.resp

api_migrate() {
	"$RELAYCTL" migrate --dir "$ROOT/migrations" >/dev/null 2>&1
}

# api_start IP [extra config lines...]: config in $API_CONF, server in the background.
api_start() {
	local ip=$1; shift
	API_BASE=http://$ip:$API_PORT
	API_CONF=$TEST_TMP/$SUITE.conf
	{
		echo "api_listen = $ip:$API_PORT"
		echo "api_threads = 2"
		echo "secret = test-secret-0123456789abcdef"
		echo "retest_url = $API_BASE/r/"
		echo "log_level = warn"
		local l; for l in "$@"; do echo "$l"; done
	} >"$API_CONF"
	chmod 600 "$API_CONF"
	local try
	for try in 1 2 3; do
		bg_start "$RELAYCTL" api serve -c "$API_CONF" 2>>"$TEST_TMP/$SUITE.api.log"
		API_PID=$!
		wait_for 10 curl -sf -o /dev/null "$API_BASE/v1/openapi.json" && kill -0 "$API_PID" 2>/dev/null && return 0
		# Most likely the port was taken: another one.
		kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null
		API_PORT=$((20000 + RANDOM % 20000))
		API_BASE=http://$ip:$API_PORT
		sed -i "s/^api_listen = .*/api_listen = $ip:$API_PORT/; s|^retest_url = .*|retest_url = $API_BASE/r/|" "$API_CONF"
	done
	fail "api starts" "no answer on $API_BASE"; tail -5 "$TEST_TMP/$SUITE.api.log"; exit 1
}

# One token per role: $VIEWER $OPERATOR $ADMIN.
api_tokens() {
	VIEWER=$("$RELAYCTL" token create --name t-viewer --role viewer -c "$API_CONF" 2>/dev/null)
	OPERATOR=$("$RELAYCTL" token create --name t-operator --role operator -c "$API_CONF" 2>/dev/null)
	ADMIN=$("$RELAYCTL" token create --name t-admin --role admin -c "$API_CONF" 2>/dev/null)
}

# req METHOD PATH [TOKEN [BODY [CONTENT-TYPE]]] -> CODE, BODY, CTYPE
req() {
	local method=$1 path=$2 token=${3:-} data=${4-} ctype=${5:-application/json}
	local args=(-s -X "$method" -o "$API_RESP" -w '%{http_code} %{content_type}' --max-time 20)
	[ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
	if [ -n "${4+x}" ]; then
		args+=(-H "Content-Type: $ctype" --data-binary "$data")
	fi
	local out
	out=$(curl "${args[@]}" "$API_BASE$path")
	CODE=${out%% *}
	CTYPE=${out#* }
	BODY=$(cat "$API_RESP")
}

# jqr FILTER: applies a jq filter to BODY (raw output).
jqr() { jq -r "$1" <<<"$BODY" 2>/dev/null; }

# check_req NAME WANT_CODE METHOD PATH [TOKEN [BODY [CTYPE]]]
check_req() {
	local name=$1 want=$2; shift 2
	req "$@"
	if [ "$CODE" = "$want" ]; then pass "$name"; else fail "$name" "got $CODE want $want (${BODY:0:200})"; fi
}

# check_error NAME WANT_CODE WANT_ERROR_CODE METHOD PATH [...]: status and error.code.
check_error() {
	local name=$1 want=$2 code=$3; shift 3
	req "$@"
	local got
	got=$(jqr .error.code)
	if [ "$CODE" = "$want" ] && [ "$got" = "$code" ]; then pass "$name"
	else fail "$name" "got $CODE/$got want $want/$code (${BODY:0:200})"; fi
}

# Demo data: customers c1 (2 targets), c2 (1 target) and a blocked case on 192.0.2.10.
api_seed() {
	sql "INSERT INTO customers (ext_id, name, contact_email, locale) VALUES
	       ('c1', 'Customer One', 'noc@c1.example', 'en'),
	       ('c2', 'Zweiter Kunde', 'noc@c2.example', 'de');
	     INSERT INTO targets (customer_id, address, last_verdict, last_probed_at)
	       SELECT id, '192.0.2.10', 'relay_confirmed', now() - interval '1 hour' FROM customers WHERE ext_id = 'c1';
	     INSERT INTO targets (customer_id, address, last_verdict, last_probed_at)
	       SELECT id, '192.0.2.11', 'closed', now() - interval '1 hour' FROM customers WHERE ext_id = 'c1';
	     INSERT INTO targets (customer_id, address) SELECT id, '2001:db8::25' FROM customers WHERE ext_id = 'c2';
	     INSERT INTO probes (target_id, address, port, verdict, trick, stage, banner, duration_ms, finished_at, evidence)
	       SELECT id, address, 25, 'relay_confirmed', 'null/plain', 'data', '220 mx.c1.example ESMTP', 1234,
	              now(), '{\"transcript\": \"220 mx.c1.example ESMTP\\nEHLO probe\"}' FROM targets WHERE address = '192.0.2.10';
	     UPDATE targets SET last_probe_id = (SELECT max(id) FROM probes) WHERE address = '192.0.2.10';
	     INSERT INTO cases (target_id, customer_id, address, state, finding, probe_id, blocked, blocked_at, opened_at)
	       SELECT t.id, t.customer_id, t.address, 'blocked', 'relay_confirmed', t.last_probe_id, true, now(), now() - interval '2 days'
	       FROM targets t WHERE address = '192.0.2.10';
	     INSERT INTO case_events (case_id, event, from_state, to_state, actor)
	       SELECT id, 'finding', NULL, 'open', 'system' FROM cases;" >/dev/null
}

# api_finish: stops the server started by api_start; it must exit 0 on TERM and
# its log must hold no sanitizer report (a background crash fails no check by itself).
api_finish() {
	local rc log=$TEST_TMP/$SUITE.api.log
	kill -TERM "$API_PID" 2>/dev/null
	wait "$API_PID" 2>/dev/null
	rc=$?
	check_eq "api server exits 0 on TERM" "$rc" "0"
	if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$log" 2>/dev/null; then
		fail "api server log is free of sanitizer reports" "$(grep -m3 -E "Sanitizer|runtime error:" "$log")"
	else
		pass "api server log is free of sanitizer reports"
	fi
}
