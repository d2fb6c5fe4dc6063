#!/bin/bash
# The customer's side of the loop through one relayauditd (probe, sink,
# workflow and api roles) and relaysim: an open relay is found and a mail
# lands in the outbox; opening the mail's link (GET) changes nothing; the
# page's button (POST) asks for a re-test; the relay is still open, so a
# "still open" mail follows and the page says so; after the fix another
# POST brings the "resolved" mail and the unblock. The same in Dutch.
# relayctl mail preview renders every kind in every locale from the case.
SUITE=workflow_customer
. "$(dirname "$0")/workflow_lib.sh"
IP=127.0.47.1
SINK=$IP:2526
EN=127.0.47.10 NL=127.0.47.11
API_PORT=$((20000 + RANDOM % 20000))
API_BASE=http://$IP:$API_PORT
OUTBOX=$TEST_TMP/$SUITE.outbox

"$RELAYCTL" migrate >"$TEST_TMP/$SUITE.migrate.log" 2>&1 || { fail setup "relayctl migrate failed"; exit 1; }
sql "INSERT INTO customers (ext_id, name, contact_email, locale) VALUES
       ('cust-en', 'Example Ltd', 'postmaster@en.example', 'en'),
       ('cust-nl', 'Voorbeeld BV', 'postmaster@nl.example', 'nl');
     INSERT INTO targets (customer_id, address, ports, next_probe_at)
       SELECT id, CASE ext_id WHEN 'cust-en' THEN '$EN'::inet ELSE '$NL'::inet END, '{2525}', now()
       FROM customers" >/dev/null
wf_config roles=probe,sink,workflow,api sink_listen=$SINK probe_ports=2525 confirm_window=20s \
	probe_timeout=5s greylist_wait=1s smarthost= outbox_dir=$OUTBOX api_listen=$IP:$API_PORT \
	api_threads=2 retest_url=$API_BASE/r/ retest_min_interval=0 isp_name="Example Net" \
	isp_contact_email=abuse@example.net isp_contact_phone="+31 20 555 0100"

declare -A SIM
start_sim() { # ADDR BEHAVIOUR
	"$RELAYSIM" "$1:2525=$2" --sink "$SINK" >>"$TEST_TMP/sim.$1.log" 2>&1 &
	SIM[$1]=$!
	BG_PIDS+=("${SIM[$1]}")
	wait_for 5 bash -c "exec 3<>/dev/tcp/$1/2525" 2>/dev/null
}
stop_sim() { kill "${SIM[$1]}"; wait "${SIM[$1]}" 2>/dev/null; }
start_sim $EN open
start_sim $NL open
"$RELAYAUDITD" -c "$WF_CONF" >"$TEST_TMP/daemon.log" 2>&1 &
DAEMON=$!
BG_PIDS+=("$DAEMON")
wait_for 15 curl -sf -o /dev/null "$API_BASE/v1/health" ||
	{ fail "daemon starts" "$(tail -5 "$TEST_TMP/daemon.log")"; exit 1; }

mails() { ls "$OUTBOX"/*-"$2".eml 2>/dev/null | while read -r f; do grep -l "^To: .*$1" "$f"; done | wc -l; }
mail_text() { # CONTACT KIND: the decoded body of that mail
	local f
	f=$(grep -l "^To: .*$1" "$OUTBOX"/*-"$2".eml 2>/dev/null | tail -1)
	[ -n "$f" ] && python3 -c 'import quopri,sys; sys.stdout.write(quopri.decodestring(open(sys.argv[1],"rb").read()).decode("utf-8","replace").replace("\r\n","\n"))' "$f"
}
mail_flat() { mail_text "$@" | sed -e 's/^ *//' | tr '\n' ' '; }
requests() { sql "SELECT count(*) FROM retest_requests r JOIN targets t ON t.id = r.target_id WHERE t.address = '$1'"; }
page() { curl -s --max-time 10 "$1"; }
post() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST --data "token=${1##*/}" "$1"; }
status() { curl -s --max-time 10 "$1/status" | jq -r .state; }

loop() { # ADDR CONTACT LOCALE WORDS_FOUND WORDS_STILL_OPEN
	local addr=$1 contact=$2 lc=$3 link code n
	wait_for 60 wf_eq "mails $contact relay_blocked" 1
	check_eq "${lc}_relay_found_mail_in_outbox" "$(mails "$contact" relay_blocked)" 1
	link=$(mail_text "$contact" relay_blocked | grep -oE "$API_BASE/r/[0-9]+\.[0-9]+\.[0-9a-f]+" | head -1)
	check_contains "${lc}_mail_has_the_link" "$link" "$API_BASE/r/"
	body=$(page "$link")
	check_contains "${lc}_page_in_the_customers_language" "$body" "lang=\"$lc\""
	check_contains "${lc}_page_says_the_finding_in_words" "$body" "$4"
	check_contains "${lc}_page_names_the_isp_and_phone" "$body" "+31 20 555 0100"
	curl -s -I -o /dev/null --max-time 10 "$link"
	check_eq "${lc}_get_and_head_request_nothing" "$(requests "$addr")" 0

	code=$(post "$link")
	check_eq "${lc}_page_post_answers_303" "$code" 303
	check_eq "${lc}_page_post_requests_one_retest" "$(requests "$addr")" 1
	wait_for 60 wf_eq "mails $contact still_open" 1
	check_eq "${lc}_still_open_mail_in_outbox" "$(mails "$contact" still_open)" 1
	check_contains "${lc}_still_open_mail_in_the_customers_language" "$(mail_flat "$contact" still_open)" "$5"
	check_eq "${lc}_page_status_still_open" "$(status "$link")" still_open
	check_eq "${lc}_still_blocked" "$(sql "SELECT blocked FROM cases WHERE address = '$addr'")" t

	stop_sim "$addr"
	start_sim "$addr" closed
	n=$(wf_applied unblock)
	code=$(post "$link")
	check_eq "${lc}_second_post_answers_303" "$code" 303
	wait_for 60 wf_eq "mails $contact resolved" 1
	check_eq "${lc}_resolved_mail_in_outbox" "$(mails "$contact" resolved)" 1
	wait_for 20 wf_eq "wf_applied unblock" $((n + 1))
	check_eq "${lc}_unblocked" "$(wf_applied unblock)" $((n + 1))
	check_eq "${lc}_case_resolved" "$(sql "SELECT state || ' ' || blocked FROM cases WHERE address = '$addr'")" "resolved false"
	check_eq "${lc}_page_status_resolved" "$(status "$link")" resolved
}
loop $EN postmaster@en.example en "is an open relay" "found the problem still"
loop $NL postmaster@nl.example nl "een open relay is" "toont dat het probleem nog"

# relayctl mail preview: every kind in every locale from the real case's
# data renders whole, wrapped, with no variable left and no English headings
# inside another language.
CASE_EN=$(sql "SELECT id FROM cases WHERE address = '$EN'")
bad=
for kind in relay_blocked suspicious backscatter complaint_blocked reminder escalation still_open resolved; do
	for lc in en de nl fr; do
		out=$("$RELAYCTL" mail preview $kind --case "$CASE_EN" --locale $lc -c "$WF_CONF" 2>"$TEST_TMP/preview.err") ||
			{ bad+="$kind/$lc: exit $? $(head -c 200 "$TEST_TMP/preview.err"); "; continue; }
		[[ $out == *"{{"* || $out == *"}}"* ]] && bad+="$kind/$lc: unreplaced variable; "
		long=$(python3 -c 'import sys; print(max(len(l) for l in sys.stdin.read().split("\n")))' <<<"$out")
		[ "$long" -gt 78 ] && bad+="$kind/$lc: a line of $long characters; "
		grep -q "^Content-Language: $lc$" <<<"$out" || bad+="$kind/$lc: not in $lc; "
		if [ $lc != en ]; then
			for en_text in "Dear customer" "What we found" "How to fix it" "Ask for a re-test" "Kind regards" "Empty your mail queue"; do
				[[ $out == *"$en_text"* ]] && bad+="$kind/$lc: English '$en_text'; "
			done
		fi
	done
done
if [ -z "$bad" ]; then pass preview_every_kind_and_locale_renders_whole; else fail preview_every_kind_and_locale_renders_whole "$bad"; fi
out=$("$RELAYCTL" mail preview relay_blocked --case "$CASE_EN" -c "$WF_CONF" 2>&1)
check_contains preview_is_the_customers_mail "$out" "To: postmaster@en.example"
check_contains preview_has_the_exchange_through_the_dot "$out" "  C: DATA"
check_contains preview_has_the_sinks_receipt "$out" "Our receiving server got this test message at"
raw=$("$RELAYCTL" mail preview relay_blocked --case "$CASE_EN" --raw -c "$WF_CONF" 2>&1)
check_contains preview_raw_is_the_encoded_message "$raw" "Content-Transfer-Encoding: quoted-printable"
"$RELAYCTL" mail preview nosuchkind --case "$CASE_EN" -c "$WF_CONF" >/dev/null 2>&1
check_eq preview_unknown_kind_is_usage_error "$?" 2
out=$("$RELAYCTL" mail preview resolved --case 99999 -c "$WF_CONF" 2>&1)
check_contains preview_unknown_case_says_so "$out" "no such case"

# An operator's template directory wins over the shipped one, key by key.
mkdir -p "$TEST_TMP/tmpl/en"
printf 'Subject: Our own subject for {{address}}\n\nOur own text, case {{case}}.\n' >"$TEST_TMP/tmpl/en/resolved.txt"
echo "template_dir = $TEST_TMP/tmpl" >>"$WF_CONF"
out=$("$RELAYCTL" mail preview resolved --case "$CASE_EN" -c "$WF_CONF" 2>&1)
check_contains preview_operator_template_wins "$out" "Subject: Our own subject for $EN"
out=$("$RELAYCTL" mail preview still_open --case "$CASE_EN" -c "$WF_CONF" 2>&1)
check_contains preview_other_kinds_stay_shipped "$out" "found the problem still"
printf 'Subject: x\n\n{{nosuchvariable}}\n' >"$TEST_TMP/tmpl/en/resolved.txt"
out=$("$RELAYCTL" mail preview resolved --case "$CASE_EN" -c "$WF_CONF" 2>&1); rc=$?
check_eq preview_unknown_variable_fails "$rc" 1
check_contains preview_unknown_variable_named "$out" "{{nosuchvariable}}"

kill -TERM "$DAEMON"
wait "$DAEMON"
check_eq daemon_stops_cleanly "$?" 0
