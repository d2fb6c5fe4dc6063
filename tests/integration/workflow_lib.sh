# Shared set-up of the workflow integration tests (sourced, not run):
# schema, one customer with one target, a capture SMTP server standing in
# for the smarthost, a config, and the runner (`relayctl workflow run`).
#
#   wf_setup                   schema + customer + target 192.0.2.25
#   wf_capture [ARGS...]       (re)start the capture server; sets CAPTURE_PORT
#   wf_config [KEY=VALUE...]   writes $WF_CONF (smarthost = the capture server)
#   wf_start / wf_kill9        start the runner in the background / kill -9 it
#   wf_probe VERDICT [BACKSCATTER] [PORT]   insert a finished probe row, as the daemon does
#   wf_mails                   number of captured messages
#   wf_applied ACTION          "applied" lines of ACTION in the enforcer log

. "$ROOT/tests/lib.sh"

# Loopback range of the workflow tests: 127.0.45.0 - 127.0.49.255.
WF_IP=${WF_IP:-127.0.45.$((RANDOM % 200 + 10))}
WF_CONF=$TEST_TMP/$SUITE.conf
WF_MAILDIR=$TEST_TMP/$SUITE.mail
WF_ENFORCER_LOG=$TEST_TMP/$SUITE.enforcer.log
WF_ADDR=${WF_ADDR:-192.0.2.25}
export RELAYAUDIT_ENFORCER_LOG=$WF_ENFORCER_LOG
CAPTURE_PID=
RUNNER_PID=

wf_setup() {
	"$RELAYCTL" migrate >"$TEST_TMP/$SUITE.migrate.log" 2>&1 ||
		{ fail setup "relayctl migrate failed: $(tail -3 "$TEST_TMP/$SUITE.migrate.log")"; exit 1; }
	sql "INSERT INTO customers (ext_id, name, contact_email, locale)
	     VALUES ('cust-1', 'Example BV', 'postmaster@customer.example', '${WF_LOCALE:-en}')" >/dev/null
	sql "INSERT INTO targets (customer_id, address, next_probe_at)
	     SELECT id, '$WF_ADDR', now() + interval '7 days' FROM customers WHERE ext_id = 'cust-1'" >/dev/null
}

wf_capture() {
	local portfile=$TEST_TMP/$SUITE.capture.port
	[ -n "$CAPTURE_PID" ] && { kill "$CAPTURE_PID" 2>/dev/null; wait "$CAPTURE_PID" 2>/dev/null; }
	rm -f "$portfile"
	# A restart keeps the port, so the runner's smarthost stays right.
	python3 "$ROOT/tests/integration/capture_smtp.py" --listen "$WF_IP:${CAPTURE_PORT:-0}" --dir "$WF_MAILDIR" \
		--portfile "$portfile" "$@" &
	CAPTURE_PID=$!
	BG_PIDS+=("$CAPTURE_PID")
	wait_for 30 test -s "$portfile" || { fail setup "capture server did not start"; exit 1; }
	CAPTURE_PORT=$(cat "$portfile")
}

wf_config() {
	local -A over=()
	local kv line
	for kv in "$@"; do over[${kv%%=*}]=${kv#*=}; done
	{
		for line in "node_name=wf-test" "secret=workflow-test-secret-0123456789" \
			"smarthost=$WF_IP:${CAPTURE_PORT:-25}" "notify_from=abuse@isp.example" \
			"helo_name=relayaudit.isp.example" "retest_url=https://isp.example/r/" \
			"enforcer_command=${WF_HOOK:-$ROOT/deploy/enforcers/log-only}" \
			"poll_interval=1s" "retry_backoff=1s" "outbox_dir=$TEST_TMP/$SUITE.outbox"; do
			[ -n "${over[${line%%=*}]+set}" ] && continue
			echo "${line%%=*} = ${line#*=}"
		done
		for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
	} >"$WF_CONF"
}

wf_start() {
	"$RELAYCTL" workflow run -c "$WF_CONF" >>"$TEST_TMP/$SUITE.runner.log" 2>&1 &
	RUNNER_PID=$!
	BG_PIDS+=("$RUNNER_PID")
}

# Stops the runner with TERM and checks it exits cleanly (0; sanitizers
# report leaks and errors through the exit status).
wf_stop() {
	local rc
	[ -n "$RUNNER_PID" ] || return 0
	kill "$RUNNER_PID" 2>/dev/null
	wait "$RUNNER_PID" 2>/dev/null
	rc=$?
	RUNNER_PID=
	WF_STOPS=$((${WF_STOPS:-0} + 1))
	check_eq "runner_stops_cleanly_$WF_STOPS" "$rc" 0
	[ "$rc" = 0 ] || tail -20 "$TEST_TMP/$SUITE.runner.log"
}

wf_kill9() {
	kill -9 "$RUNNER_PID" 2>/dev/null
	wait "$RUNNER_PID" 2>/dev/null
	RUNNER_PID=
}

# wf_probe VERDICT [BACKSCATTER] [PORT]: a finished probe of $WF_ADDR; a
# relay_confirmed one names trick $WF_TRICK and transcript $WF_TRANSCRIPT
# (E'' string body) when they are set.
wf_probe() {
	sql "INSERT INTO probes (target_id, address, port, started_at, finished_at, verdict,
	                         backscatter, trick, evidence)
	     SELECT id, address, ${3:-25}, now(), now(), '$1', '${2:-refused}',
	            CASE WHEN '$1' = 'relay_confirmed' THEN '${WF_TRICK:-outside/percent-ip}' END,
	            jsonb_build_object('transcript', E'${WF_TRANSCRIPT:-S: 220 mail.customer.example ESMTP\nC: EHLO probe.isp.example\nS: 250 mail.customer.example\nC: MAIL FROM:<probe@relayaudit-outside.invalid>\nS: 250 2.1.0 Ok\nC: RCPT TO:<rt0123@sink.relayaudit.test%customer.example>\nS: 250 2.1.5 Ok}')
	       FROM targets WHERE address = '$WF_ADDR' RETURNING id"
}

wf_mails() {
	find "$WF_MAILDIR" -name '*.eml' 2>/dev/null | wc -l
}

wf_mail() { # N: the Nth captured message
	cat "$WF_MAILDIR/$1.eml"
}

# Undoes quoted-printable soft breaks and =XX so bodies can be grepped.
wf_mail_text() {
	python3 -c 'import quopri,sys; sys.stdout.write(quopri.decodestring(open(sys.argv[1],"rb").read()).decode("utf-8","replace").replace("\r\n","\n"))' "$WF_MAILDIR/$1.eml"
}

# The decoded body with line breaks and indents as single spaces: phrases
# are found wherever the 72-column wrapping broke them.
wf_mail_flat() {
	wf_mail_text "$1" | sed -e 's/^ *//' | tr '\n' ' '
}

wf_applied() {
	[ -f "$WF_ENFORCER_LOG" ] || { echo 0; return; }
	grep -c " applied $1 " "$WF_ENFORCER_LOG" || true
}

wf_case() { # COLUMN [CASE_ID]: a column of the newest (or the given) case
	if [ -n "${2:-}" ]; then
		sql "SELECT $1 FROM cases WHERE id = $2"
	else
		sql "SELECT $1 FROM cases ORDER BY id DESC LIMIT 1"
	fi
}

wf_eq() { # wait_for helper: [ "$(eval "$1")" = "$2" ]
	[ "$(eval "$1")" = "$2" ]
}
