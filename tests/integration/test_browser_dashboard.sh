#!/bin/bash
# The dashboard in a real browser: Debian's headless chromium, driven by
# puppeteer-core (tests/browser/dashboard.mjs), against relayauditd with the
# probe, sink, workflow and api roles and relaysim as the customers' servers.
# A simulated open relay is found, proven through the sink and blocked; the
# simulator then turns closed, and the browser (viewer, then operator) finds
# the case from the overview, reads its evidence, presses "re-test now" and
# sees the case resolved and the block lifted; it also starts and watches a
# sweep, and reads and edits a customer's mail domains. Screenshots land in
# build/browser/ (kept when a check fails).
SUITE=browser_dashboard
. "$(dirname "$0")/api_lib.sh"

# Loopback range of the browser tests: 127.0.75.0/24.
IP=127.0.75.1 SINK=127.0.75.1:2526 T1=127.0.75.10 T2=127.0.75.11
SHOTS=$ROOT/build/browser
BROWSER_DIR=$ROOT/tests/browser

for cmd in chromium node npm; do
	command -v "$cmd" >/dev/null || { fail "$cmd is installed" "missing; run deploy/install-deps.sh"; exit 1; }
done
[ -f /usr/share/javascript/chart.js/chart.min.js ] ||
	{ fail "libjs-chart.js is installed" "missing; run deploy/install-deps.sh"; exit 1; }
# The test's own node modules, exactly as locked; never a browser download.
if [ ! -d "$BROWSER_DIR/node_modules/puppeteer-core" ]; then
	(cd "$BROWSER_DIR" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund) >"$TEST_TMP/$SUITE.npm.log" 2>&1 ||
		{ fail "npm ci installs puppeteer-core" "$(tail -5 "$TEST_TMP/$SUITE.npm.log")"; exit 1; }
fi

api_migrate || { fail "migrate" "migrations failed"; exit 1; }
sql "INSERT INTO customers (ext_id, name, contact_email, locale) VALUES
       ('cust-relay', 'Open Relay GmbH', 'postmaster@relay.example', 'en'),
       ('cust-fine', 'Fine Mail BV', 'postmaster@fine.example', 'en');
     INSERT INTO targets (customer_id, address, ports, next_probe_at)
       SELECT id, '$T1', '{2525}', now() FROM customers WHERE ext_id = 'cust-relay';
     INSERT INTO targets (customer_id, address, ports, next_probe_at)
       SELECT id, '$T2', '{2525}', now() FROM customers WHERE ext_id = 'cust-fine'" >/dev/null

SIM_PID=
start_sim() { # BEHAVIOUR of T1; T2 is always closed
	"$RELAYSIM" "$T1:2525=$1" "$T2:2525=closed" --sink "$SINK" >>"$TEST_TMP/sim.log" 2>&1 &
	SIM_PID=$!
	BG_PIDS+=("$SIM_PID")
	wait_for 5 bash -c "exec 3<>/dev/tcp/$T1/2525" 2>/dev/null
}
start_sim open || { fail "relaysim starts" "$(tail -3 "$TEST_TMP/sim.log")"; exit 1; }

CONF=$TEST_TMP/$SUITE.conf
start_daemon() {
	API_BASE=http://$IP:$API_PORT
	(umask 077; cat >"$CONF") <<CONF
node_name = browser-test
roles = probe,sink,workflow,api
secret = browser-test-secret-0123456789
api_listen = $IP:$API_PORT
api_threads = 4
sink_listen = $SINK
retest_url = $API_BASE/r/
probe_ports = 2525
probe_rate = 0
probe_per_net = 0
probe_timeout = 5s
probe_deadline = 30s
greylist_wait = 1s
confirm_window = 10s
poll_interval = 1s
retry_backoff = 1s
enforcer_command = $ROOT/deploy/enforcers/log-only
outbox_dir = $TEST_TMP/outbox
notify_from = abuse@isp.example
log_level = info
CONF
	"$RELAYAUDITD" -c "$CONF" >>"$TEST_TMP/daemon.log" 2>&1 &
	DPID=$!
	BG_PIDS+=($DPID)
	wait_for 15 curl -sf -o /dev/null "$API_BASE/v1/openapi.json"
}
export RELAYAUDIT_ENFORCER_LOG=$TEST_TMP/enforcer.log
for try in 1 2 3; do
	start_daemon && break
	kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null
	API_PORT=$((20000 + RANDOM % 20000)) # most likely the port was taken
done
kill -0 "$DPID" 2>/dev/null || { fail "relayauditd serves the API" "$(tail -5 "$TEST_TMP/daemon.log")"; exit 1; }
pass "relayauditd serves the API and the dashboard"
API_CONF=$CONF
api_tokens
req PATCH /v1/customers/cust-relay "$OPERATOR" '{"domains":["Open-Relay.example","mail.open-relay.example"]}'
check_eq "the customer's mail domains are set through the API" "$CODE" "200"

check_contains "the start-up log names the dashboard's URL" "$(grep api_started "$TEST_TMP/daemon.log")" "dashboard=$API_BASE/"
req GET /
check_eq "/ is the dashboard (HTML)" "$CODE ${CTYPE%%;*}" "200 text/html"
CSP=$(curl -s -D - -o /dev/null "$API_BASE/" | tr -d '\r' | sed -n 's/^Content-Security-Policy: //Ip')
check_contains "the dashboard has a strict CSP (scripts from self only)" "$CSP" "script-src 'self';"
check_contains "the CSP allows nothing by default" "$CSP" "default-src 'none'"
NOSNIFF=$(curl -s -D - -o /dev/null "$API_BASE/web/app.js" | tr -d '\r' | sed -n 's/^X-Content-Type-Options: //Ip')
check_eq "scripts are served with nosniff" "$NOSNIFF" "nosniff"
req GET /javascript/chart.js/chart.min.js
check_eq "Chart.js comes from Debian's libjs-chart.js" "$CODE $(cmp -s "$API_RESP" /usr/share/javascript/chart.js/chart.min.js && echo same)" "200 same"
req GET /web/..%2Fserver.c
check_eq "no path outside the web directory" "$CODE" "404"

# The finding: proven through the sink, the case blocked by the enforcer hook.
blocked() { [ "$(sql "SELECT state || ' ' || blocked FROM cases WHERE address = '$T1'")" = "blocked true" ]; }
applied() { grep -q " applied block " "$TEST_TMP/enforcer.log" 2>/dev/null; }
if wait_for 60 blocked && wait_for 20 applied; then
	pass "the open relay is proven and its case blocked"
else
	fail "the open relay is proven and its case blocked" \
		"got '$(sql "SELECT state || ' ' || blocked || ' ' || finding FROM cases")' verdicts '$(sql "SELECT string_agg(verdict::text, ',') FROM probes")'"
	exit 1
fi
CASE=$(sql "SELECT id FROM cases WHERE address = '$T1'")
# Both targets probed once, so the sweep below has work of its own to do.
wait_for 30 bash -c "[ \"\$(psql -X -tA '$RELAYAUDIT_DATABASE' -c \"SELECT count(*) FROM targets WHERE last_probed_at IS NOT NULL\")\" = 2 ]"

# The customer fixes the server before the desk re-tests.
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
start_sim closed || { fail "relaysim restarts closed" "$(tail -3 "$TEST_TMP/sim.log")"; exit 1; }

mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png
BASE=$API_BASE VIEWER=$VIEWER OPERATOR=$OPERATOR CASE_ID=$CASE RELAY=$T1 SHOTS=$SHOTS SUITE=$SUITE \
	USER_DATA_DIR=$TEST_TMP/chromium-profile \
	timeout 300 node "$BROWSER_DIR/dashboard.mjs" 2>"$TEST_TMP/$SUITE.node.err"
rc=$?
[ $rc -eq 0 ] || fail "the browser test runs to its end" "exit $rc: $(tail -5 "$TEST_TMP/$SUITE.node.err")"

# What the browser did reached the real components.
check_eq "the case is resolved in the database" "$(sql "SELECT state || ' ' || blocked FROM cases WHERE id = $CASE")" "resolved false"
check_contains "the enforcer hook lifted the block" "$(cat "$TEST_TMP/enforcer.log" 2>/dev/null)" " applied unblock "
check_contains "the enforcer hook ran the operator's escalation" "$(cat "$TEST_TMP/enforcer.log" 2>/dev/null)" " applied escalate "
check_eq "the escalation is in the case's timeline with its actor" \
	"$(sql "SELECT event || ' ' || actor FROM case_events WHERE case_id = $CASE AND to_state = 'escalated' LIMIT 1")" "escalate token:t-operator"
check_eq "the operator's edit of the mail domains reached the database" \
	"$(sql "SELECT domains::text FROM customers WHERE ext_id = 'cust-relay'")" "{open-relay.example,shop.example}"
check_eq "the viewer's forged action changed nothing" \
	"$(sql "SELECT count(*) FROM case_commands WHERE actor = 'token:t-viewer'")" "0"
for s in overview case sweep customer; do
	f=$SHOTS/dashboard-$s.png
	# A PNG's size: big-endian width and height at bytes 16..23 (IHDR).
	size=$(od -An -tu1 -j16 -N8 "$f" 2>/dev/null | awk '{print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8}')
	check_eq "screenshot of the $s page at 1280x800" "${size:-none}" "1280x800"
done

kill -TERM "$DPID"; wait "$DPID"; rc=$?
check_eq "relayauditd stops cleanly" "$rc" "0"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$TEST_TMP/daemon.log"; then
	fail "relayauditd log is free of sanitizer reports" "$(grep -m3 -E "Sanitizer|runtime error:" "$TEST_TMP/daemon.log")"
else
	pass "relayauditd log is free of sanitizer reports"
fi
