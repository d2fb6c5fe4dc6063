# Helpers for the relaysim tests (sourced after tests/lib.sh).
#
#   sim_start NAME ARGS...   start bin/relaysim in the background, wait for "ready";
#                            its stderr goes to $TEST_TMP/NAME.err
#   sim_start_anyport NAME ARGS...   the same with every "PORT" in ARGS replaced by a
#                            random high port (retried on a failed bind); sets SIM_PORT
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
	local pid=$! i
	SIM_PIDS[$name]=$pid
	BG_PIDS+=($pid)
	for ((i = 0; i < 100; i++)); do
		grep -qx ready "$out" && return 0
		kill -0 "$pid" 2>/dev/null || break # exited: a bad spec or a port in use
		sleep 0.1
	done
	grep -qx ready "$out" && return 0
	echo "relaysim $name did not become ready:" >&2
	tail -5 "$TEST_TMP/$name.err" >&2
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "SIM_PIDS[$name]"
	return 1
}

# A random high port, so copies of a test running in other trees at the same time
# rarely collide; callers retry with another when the bind fails.
sim_random_port() { echo $((20000 + RANDOM % 40000)); }

sim_start_anyport() {
	local name=$1 try
	shift
	for try in 1 2 3 4 5; do
		SIM_PORT=$(sim_random_port)
		sim_start "$name" "${@//PORT/$SIM_PORT}" 2>/dev/null && return 0
	done
	sim_start "$name" "${@//PORT/$SIM_PORT}" # once more, to show why
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

# check_probe_ended NAME DEADLINE-MS: the probe exited (not crashed) within its
# deadline by its own clock (duration_ms), and by the wall clock give or take the
# process's start and exit (5 s of slack for sanitizer builds on a busy machine).
check_probe_ended() {
	local name=$1 limit=$2 rc ms dur
	rc=$(cat "$TEST_TMP/probe-$name.rc")
	ms=$(cat "$TEST_TMP/probe-$name.ms")
	dur=$(probe_field "$name" .duration_ms)
	if [ "$rc" -gt 1 ]; then
		fail "$name: relayctl probe exits normally" "got exit status $rc, want 0 or 1 ($(tail -c 300 "$TEST_TMP/probe-$name.err" | tr '\n' ' '))"
	elif [ -z "$dur" ] || [ "$dur" -gt "$limit" ] || [ "$ms" -gt $((limit + 5000)) ]; then
		fail "$name: probe ends within its deadline" "got duration_ms=${dur:-none} wall=${ms} ms, want <= $limit ms"
	else
		pass "$name: probe ends within its deadline"
	fi
}
