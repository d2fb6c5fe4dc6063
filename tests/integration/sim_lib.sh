# Helpers for the relaysim tests (sourced after tests/lib.sh).
#
#   sim_start NAME ARGS...   start bin/relaysim in the background, wait for "ready";
#                            its stderr goes to $TEST_TMP/NAME.err
#   sim_stop NAME            SIGTERM it and wait; fails when it does not exit cleanly
#   smtp_talk HOST PORT CMD...   a tiny SMTP client on bash's /dev/tcp: prints the
#                            greeting's and each command's final reply line; "DATA"
#                            also sends a short message and prints the end-of-data reply
#   smtp_read_reply FD       one reply's final line, "EOF" or "TIMEOUT"

declare -A SIM_PIDS

sim_start() {
	local name=$1; shift
	local out=$TEST_TMP/$name.out
	: >"$out"
	"$RELAYSIM" "$@" >"$out" 2>"$TEST_TMP/$name.err" &
	SIM_PIDS[$name]=$!
	BG_PIDS+=($!)
	if ! wait_for 10 grep -qx ready "$out"; then
		echo "relaysim $name did not become ready:" >&2
		tail -5 "$TEST_TMP/$name.err" >&2
		return 1
	fi
}

sim_stop() {
	local name=$1 pid=${SIM_PIDS[$1]} rc
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	unset "SIM_PIDS[$name]"
	return $rc
}

SMTP_TIMEOUT=${SMTP_TIMEOUT:-3}

smtp_read_reply() {
	local fd=$1 line n rc
	for ((n = 0; n < 500; n++)); do
		IFS= read -t "$SMTP_TIMEOUT" -r line <&"$fd"
		rc=$?
		if [ $rc -gt 128 ]; then echo TIMEOUT; return 1; fi
		if [ $rc -ne 0 ]; then echo EOF; return 1; fi
		line=${line%$'\r'}
		if [[ $line =~ ^[0-9]{3}( |$) ]]; then
			echo "$line"
			return 0
		fi
	done
	echo TOOLONG
	return 1
}

smtp_talk() {
	local host=$1 port=$2 fd cmd reply rc
	shift 2
	exec {fd}<>"/dev/tcp/$host/$port" || { echo CONNECT_FAILED; return 1; }
	if smtp_read_reply "$fd"; then
		for cmd in "$@"; do
			printf '%s\r\n' "$cmd" >&"$fd" 2>/dev/null
			reply=$(smtp_read_reply "$fd")
			rc=$?
			echo "$reply"
			[ $rc -eq 0 ] || break
			if [ "$cmd" = DATA ] && [ "${reply:0:3}" = 354 ]; then
				printf 'From: <probe@outside.test>\r\nSubject: relaysim test\r\n\r\nhello\r\n.\r\n' >&"$fd" 2>/dev/null
				smtp_read_reply "$fd" || break
			fi
		done
	fi
	exec {fd}>&-
}

# The code of line N (1 = greeting) of smtp_talk's output.
reply_code() {
	sed -n "${2}p" <<<"$1" | cut -c1-3
}

# probe_run NAME TARGET DEADLINE [RELAYCTL ARGS...]: runs relayctl probe --json on
# one target (in the background when called with &) and leaves its JSON line in
# $TEST_TMP/probe-NAME.json, stderr in .err, exit status in .rc and wall ms in .ms.
probe_run() {
	local name=$1 target=$2 deadline=$3 start rc
	shift 3
	start=$(date +%s%N)
	timeout 120 "$RELAYCTL" probe --json --rate 0 --per-net 0 --deadline "$deadline" "$@" \
		"$target" >"$TEST_TMP/probe-$name.json" 2>"$TEST_TMP/probe-$name.err"
	rc=$?
	echo $(((($(date +%s%N) - start) / 1000000))) >"$TEST_TMP/probe-$name.ms"
	echo $rc >"$TEST_TMP/probe-$name.rc"
}

# probe_field NAME JQ-EXPR: a value from probe NAME's JSON line ("" when missing).
probe_field() {
	jq -r "$2 // empty" "$TEST_TMP/probe-$1.json" 2>/dev/null | head -1
}

# check_probe_ended NAME DEADLINE-MS: the probe exited (not crashed) within its deadline.
check_probe_ended() {
	local name=$1 limit=$2 rc ms dur
	rc=$(cat "$TEST_TMP/probe-$name.rc")
	ms=$(cat "$TEST_TMP/probe-$name.ms")
	dur=$(probe_field "$name" .duration_ms)
	if [ "$rc" -gt 1 ]; then
		fail "$name: relayctl probe exits normally" "got exit status $rc, want 0 or 1 ($(tail -c 300 "$TEST_TMP/probe-$name.err" | tr '\n' ' '))"
	elif [ -z "$dur" ] || [ "$dur" -gt "$limit" ] || [ "$ms" -gt $((limit + 3000)) ]; then
		fail "$name: probe ends within its deadline" "got duration_ms=${dur:-none} wall=${ms} ms, want <= $limit ms"
	else
		pass "$name: probe ends within its deadline"
	fi
}
