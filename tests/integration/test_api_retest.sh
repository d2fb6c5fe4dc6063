#!/bin/bash
# The re-test flow end to end through relayauditd (roles probe, workflow,
# api) against the simulator: a finding opens and blocks a case; the
# customer follows the signed link from the mail; opening the page (GET,
# HEAD) changes nothing; its button (POST) requests a re-test; the
# scheduler probes the simulator at once; the clean result resolves the
# case and the page and its status endpoint say so. An operator re-test through the API is followed to its result. Forged
# and expired links get a clear page and no re-test; the page is rate limited.
# A re-test the prober would refuse (excluded target, excluded range) is
# answered 409 with the reason by the API and the page, and never queued.
. "$(dirname "$0")/api_lib.sh"
. "$(dirname "$0")/sim_lib.sh"

SECRET=api-retest-secret-0123456789
IP=127.0.62.1 T1=127.0.62.10 T2=127.0.62.11 T3=127.0.62.12 T4=127.0.62.200 T5=127.0.62.13
api_migrate || { fail "migrate" "migrations failed"; exit 1; }
sql "INSERT INTO customers (ext_id, name, contact_email, locale) VALUES
       ('kunde-1', 'Kunde Eins', 'postmaster@kunde.example', 'de'),
       ('cust-2', 'Two', 'postmaster@two.example', 'en');
     INSERT INTO targets (customer_id, address, ports, next_probe_at)
       SELECT id, '$T1', '{2525}', now() + interval '7 days' FROM customers WHERE ext_id = 'kunde-1';
     INSERT INTO targets (customer_id, address, ports, next_probe_at)
       SELECT id, '$T2', '{2525}', now() + interval '7 days' FROM customers WHERE ext_id = 'cust-2'" >/dev/null

# The customers' servers: closed (already fixed) by the time anyone re-tests.
sim_start targets "$T1:2525=closed" "$T2:2525=closed" || { fail "simulator starts" "see $TEST_TMP/targets.err"; exit 1; }

API_BASE=http://$IP:$API_PORT
CONF=$TEST_TMP/daemon.conf
(umask 077; cat >"$CONF") <<CONF
node_name = api-retest
roles = probe,workflow,api
secret = $SECRET
api_listen = $IP:$API_PORT
api_threads = 2
retest_url = $API_BASE/r/
retest_min_interval = 1h
probe_rate = 0
probe_per_net = 0
probe_timeout = 5s
probe_deadline = 30s
greylist_wait = 1s
confirm_window = 1s
poll_interval = 2s
enforcer_command = $ROOT/deploy/enforcers/log-only
outbox_dir = $TEST_TMP/outbox
log_level = info
exclude = 127.0.62.192/26
CONF
export RELAYAUDIT_ENFORCER_LOG=$TEST_TMP/enforcer.log
"$RELAYAUDITD" -c "$CONF" >>"$TEST_TMP/daemon.log" 2>&1 &
DPID=$!
BG_PIDS+=($DPID)
wait_for 15 curl -sf -o /dev/null "$API_BASE/v1/health" ||
	{ fail "relayauditd serves the API" "$(tail -5 "$TEST_TMP/daemon.log")"; exit 1; }
pass "relayauditd serves the API (role api)"
API_CONF=$CONF
api_tokens

# A finding on T1, as the probe writer records it: the workflow opens a blocked case.
sql "INSERT INTO probes (target_id, address, port, started_at, finished_at, verdict, trick, evidence)
     SELECT id, address, 2525, now(), now(), 'relay_confirmed', 'outside/plain',
            '{\"transcript\": \"S: 220 sim\"}' FROM targets WHERE address = '$T1'" >/dev/null
case_blocked() { [ "$(sql "SELECT state FROM cases WHERE address = '$T1'")" = blocked ]; }
wait_for 20 case_blocked && pass "the finding opens a blocked case" ||
	fail "the finding opens a blocked case" "got '$(sql "SELECT state FROM cases")'"
CASE=$(sql "SELECT id FROM cases WHERE address = '$T1'")
req GET "/v1/cases?state=blocked" "$VIEWER"
check_eq "the API lists the blocked case" "$(jqr '.items[0].id')" "$CASE"
req GET /v1/blocklist "$VIEWER"
check_eq "the blocklist has the address" "$BODY" "$T1"

# link TOKEN for case $1 valid until $2, signed with $3 (as common/retest_link.c does)
link() {
	local mac
	mac=$(printf 'relayaudit-retest-v1%s.%s' "$1" "$2" | openssl dgst -sha256 -hmac "$3" -r | cut -c1-32)
	echo "$1.$2.$mac"
}
now=$(date +%s)
GOOD=$(link "$CASE" $((now + 86400)) "$SECRET")
EXPIRED=$(link "$CASE" $((now - 60)) "$SECRET")
FORGED=$(link "$CASE" $((now + 86400)) "not-the-secret-0123456789")
mailed=$(grep -rhoE "$API_BASE/r/[0-9]+\.[0-9]+\.[0-9a-f]+" "$TEST_TMP/outbox" 2>/dev/null | head -1)
if [ -n "$mailed" ]; then
	check_contains "the mailed link points at this page" "$mailed" "$API_BASE/r/$CASE."
	GOOD=${mailed##*/}
fi

req GET "/r/$FORGED"
check_eq "forged link: 403" "$CODE" "403"
check_contains "forged link: a clear page" "$BODY" "not valid"
req GET "/r/$EXPIRED"
check_eq "expired link: 410" "$CODE" "410"
check_contains "expired link: a clear page" "$BODY" "expired"
check_contains "forged link in the browser's language (nl)" \
	"$(curl -s -H 'Accept-Language: nl-NL,nl;q=0.9' "$API_BASE/r/$FORGED")" "Deze link is ongeldig"
check_contains "expired link in the browser's language (fr)" \
	"$(curl -s -H 'Accept-Language: fr' "$API_BASE/r/$EXPIRED")" "Ce lien a expiré"
check_contains "error pages name the ISP's contact (de)" \
	"$(curl -s -H 'Accept-Language: de' "$API_BASE/r/$FORGED")" "Abuse-Abteilung von Example ISP"
req GET "/r/${GOOD}0"
check_eq "altered link: 403" "$CODE" "403"
check_eq "bad links request no re-test" "$(sql "SELECT count(*) FROM retest_requests")" "0"

req GET "/r/$GOOD"
check_eq "good link: 200" "$CODE" "200"
check_eq "the page is HTML" "${CTYPE%%;*}" "text/html"
check_contains "the page is in the customer's language" "$BODY" 'lang="de"'
check_contains "the page names the address" "$BODY" "$T1"
check_contains "the page says the finding in words (de)" "$BODY" "ein offenes Relay ist"
check_contains "the page lists the steps (de)" "$BODY" "Leeren Sie die Warteschlange"
check_contains "the page has the button (de)" "$BODY" "Meinen Mailserver erneut testen"
check_contains "the page names the ISP" "$BODY" "Abuse-Abteilung von Example ISP"
check_eq "opening the page requests nothing" "$(sql "SELECT count(*) FROM retest_requests")" "0"
curl -s -I -o /dev/null "$API_BASE/r/$GOOD"
check_eq "HEAD of the page requests nothing" "$(sql "SELECT count(*) FROM retest_requests")" "0"
req GET "/r/$GOOD/status"
check_eq "status before any request" "$(jqr .state):$(jqr .can_request)" "ready:true"

t0=$(date +%s%N)
req POST "/r/$GOOD" "" "token=$GOOD" application/x-www-form-urlencoded
check_eq "the button's POST: 303 back to the page" "$CODE" "303"
check_eq "one customer re-test request" "$(sql "SELECT count(*) || ' ' || min(requested_by) || ' ' || min(case_id) FROM retest_requests")" "1 customer-link $CASE"
req GET "/r/$GOOD"
# One look: running (the page polls), or the probe was already that fast.
if [[ $BODY == *'class="running" data-poll="1"'* || $BODY == *'id="status" class="clean"'* || $BODY == *'id="status" class="resolved"'* ]]; then
	pass "the page follows the re-test"
else
	fail "the page follows the re-test" "got $(grep -o '<p id="status"[^>]*>' <<<"$BODY"), want running with polling, clean or resolved"
fi
probed() { [ "$(sql "SELECT count(*) FROM probes WHERE address = '$T1' AND verdict IS NOT NULL AND started_at > (SELECT requested_at FROM retest_requests LIMIT 1)")" -ge 1 ]; }
wait_for 15 probed && pass "the scheduler probes the simulator at once ($(( ($(date +%s%N) - t0) / 1000000 )) ms)" ||
	fail "the scheduler probes the simulator at once" "no probe after 15 s"
check_eq "the re-test found it closed" "$(sql "SELECT verdict FROM probes WHERE address = '$T1' ORDER BY id DESC LIMIT 1")" "closed"
resolved() { [ "$(sql "SELECT state FROM cases WHERE id = $CASE")" = resolved ]; }
wait_for 20 resolved && pass "the clean re-test resolves the case" ||
	fail "the clean re-test resolves the case" "got $(sql "SELECT state FROM cases WHERE id = $CASE")"
req GET "/r/$GOOD/status"
check_eq "status after the fix" "$(jqr .state):$(jqr .can_request)" "resolved:false"
check_eq "status speaks the customer's language" "$(jqr .message)" "Dieser Fall ist erledigt. Es ist nichts weiter zu tun."
req GET "/r/$GOOD"
check_eq "reload after the fix: 200" "$CODE" "200"
check_contains "reload says the case is resolved (de)" "$BODY" "Dieser Fall ist erledigt"
req POST "/r/$GOOD"
check_eq "a resolved case gets no further re-test: 409" "$CODE" "409"
check_eq "a resolved case gets no further re-test" "$(sql "SELECT count(*) FROM retest_requests")" "1"
req GET /v1/blocklist "$VIEWER"
check_eq "the blocklist is empty again" "$BODY" ""

# Operator re-test of T2 through the API, followed to its result.
t0=$(date +%s%N)
check_req "operator re-test: 202" 202 POST "/v1/targets/$T2/retest" "$OPERATOR"
RID=$(jqr .id)
done_() { req GET "/v1/retests/$RID" "$VIEWER"; [ "$(jqr .status)" = done ]; }
wait_for 20 done_ && pass "operator re-test is done ($(( ($(date +%s%N) - t0) / 1000000 )) ms)" ||
	fail "operator re-test is done" "status $(jqr .status)"
check_eq "operator re-test result" "$(jqr '.probes[0].verdict'):$(jqr .relay_confirmed)" "closed:false"
check_eq "operator re-test probed the simulator" "$(jqr '.probes[0].port')" "2525"

# Re-tests the prober would never run: 409 with the reason, nothing queued.
sql "INSERT INTO targets (customer_id, address, ports, next_probe_at, excluded)
       SELECT id, a::inet, '{2525}', now() + interval '7 days', a = '$T5'
       FROM customers, unnest(ARRAY['$T4', '$T5']) a WHERE ext_id = 'cust-2';
     INSERT INTO cases (target_id, customer_id, address, state, finding, blocked)
     SELECT id, customer_id, address, 'notified', 'relay_confirmed', false
     FROM targets WHERE address IN ('$T4', '$T5')" >/dev/null
n=$(sql "SELECT count(*) FROM retest_requests")
check_error "re-test in an excluded range: 409 refused" 409 refused POST "/v1/targets/$T4/retest" "$OPERATOR"
check_contains "the API says why" "$(jqr .error.message)" "never probed (exclude)"
check_error "re-test of an excluded target: 409 excluded" 409 excluded POST "/v1/targets/$T5/retest" "$OPERATOR"
for tw in "$T4:in a range we never test" "$T5:this server is excluded from our tests"; do
	t=${tw%%:*} c=$(sql "SELECT id FROM cases WHERE address = '${tw%%:*}'")
	req GET "/r/$(link "$c" $((now + 3600)) "$SECRET")"
	check_eq "customer page for $t: 409" "$CODE" 409
	check_contains "customer page for $t says why" "$BODY" "${tw#*:}"
done
# The reason is said in the customer's language, not pasted in English into it.
sql "UPDATE customers SET locale = 'de' WHERE ext_id = 'cust-2'" >/dev/null
c=$(sql "SELECT id FROM cases WHERE address = '$T5'")
req GET "/r/$(link "$c" $((now + 3600)) "$SECRET")"
check_contains "German page gives the reason in German" "$BODY" \
	"Eine erneute Prüfung dieses Servers ist nicht möglich (dieser Server ist von unseren Prüfungen ausgenommen)"
check_eq "German page has no English reason" "$(grep -c 'excluded' <<<"$BODY")" 0
sql "UPDATE customers SET locale = 'en' WHERE ext_id = 'cust-2'" >/dev/null
check_eq "refused re-tests queue nothing" "$(sql "SELECT count(*) FROM retest_requests")" "$n"

# Rate limits: a case on T3 (never probed here) with a recent customer re-test is refused with 429.
sql "INSERT INTO targets (customer_id, address, ports, next_probe_at)
       SELECT id, '$T3', '{2525}', now() + interval '7 days' FROM customers WHERE ext_id = 'cust-2';
     INSERT INTO cases (target_id, customer_id, address, state, finding, blocked, last_retest_at)
     SELECT id, customer_id, address, 'notified', 'accepted_not_relayed', false, now() - interval '5 minutes'
     FROM targets WHERE address = '$T3'" >/dev/null
CASE2=$(sql "SELECT id FROM cases WHERE address = '$T3'")
L2=$(link "$CASE2" $((now + 3600)) "$SECRET")
n=$(sql "SELECT count(*) FROM retest_requests")
req GET "/r/$L2"
check_eq "too soon: the page still opens" "$CODE" "200"
check_contains "too soon: the page says when (en)" "$BODY" "in 55 minutes"
check_contains "too soon: the button is hidden" "$BODY" '<form id="ask" method="post" action="'"$L2"'" hidden>'
req POST "/r/$L2"
check_eq "too soon after the last re-test: 429" "$CODE" "429"
check_contains "too soon: says when (en)" "$BODY" "in 55 minutes"
check_eq "too soon: no re-test" "$(sql "SELECT count(*) FROM retest_requests")" "$n"
req POST "/r/$FORGED"
check_eq "forged link POST: 403" "$CODE" "403"
check_eq "forged link POST: no re-test" "$(sql "SELECT count(*) FROM retest_requests")" "$n"
codes=
for i in $(seq 1 70); do codes+=$(curl -s -o /dev/null -w '%{http_code} ' "$API_BASE/r/$FORGED"); done
check_contains "the page is rate limited per client" "$codes" "429"

kill -TERM "$DPID"; wait "$DPID"; rc=$?
check_eq "relayauditd stops cleanly with the api role" "$rc" "0"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$TEST_TMP/daemon.log"; then
	fail "relayauditd log is free of sanitizer reports" "$(grep -m3 -E "Sanitizer|runtime error:" "$TEST_TMP/daemon.log")"
else
	pass "relayauditd log is free of sanitizer reports"
fi
sim_stop targets
