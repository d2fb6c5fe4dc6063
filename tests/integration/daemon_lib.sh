# Helpers for tests/integration/test_daemon_*.sh (sourced after lib.sh).
# Each test works in a directory of its own: other groups run side by side
# in the same TEST_TMP, and relayctl would read a relayaudit.conf lying in
# the current directory.
# Targets live in 127.0.40.0 - 127.0.44.255, where nothing listens: every
# probe is a refused connection (no_smtp), fast and local.

TEST_TMP=$TEST_TMP/$SUITE
mkdir -p "$TEST_TMP"

# daemon_conf FILE NODE ["key = value" ...]: a config for a test node; the
# extra lines replace the defaults of the same key.
daemon_conf() {
	local f=$1 node=$2 l k; shift 2
	local defaults=(
		"node_name = $node"
		"roles = probe"
		"secret = daemon-test-secret-0123456789"
		"probe_rate = 0"
		"probe_per_net = 0"
		"probe_timeout = 5s"
		"poll_interval = 1s"
		"lease_time = 10s"
		"shutdown_grace = 5s"
		"log_level = info"
	)
	{
		for l in "${defaults[@]}"; do
			k=${l%% *}
			printf '%s\n' "$@" | grep -q "^$k *=" || echo "$l"
		done
		for l in "$@"; do echo "$l"; done
	} >"$f"
	chmod 600 "$f"
}

# daemon_migrate: the schema, through relayctl migrate.
daemon_migrate() {
	"$RELAYCTL" migrate >"$TEST_TMP/migrate.log" 2>&1 || { cat "$TEST_TMP/migrate.log"; return 1; }
}

# daemon_targets N [FIRST_OFFSET] [PORTS]: N targets from 127.0.40.1 upward, due now.
daemon_targets() {
	local n=$1 off=${2:-0} ports=${3:-'{25}'}
	sql "INSERT INTO customers (ext_id, contact_email) VALUES ('c1', 'c1@example.net')
	     ON CONFLICT DO NOTHING" >/dev/null
	sql "INSERT INTO targets (customer_id, address, ports)
	     SELECT (SELECT id FROM customers WHERE ext_id = 'c1'),
	            '127.0.40.0'::inet + $off + g, '$ports' FROM generate_series(1, $n) g" >/dev/null
}

# daemon_start CONF LOG: starts relayauditd in the background; its pid in DAEMON_PID.
daemon_start() {
	"$RELAYAUDITD" -c "$1" >>"$2" 2>&1 &
	DAEMON_PID=$!
	BG_PIDS+=($DAEMON_PID)
}

# daemon_stop PID [SECS]: TERM, then wait (bounded); the exit status in DAEMON_RC
# ("still-running" if it had to be killed). Not in $(...): wait needs the parent shell.
daemon_stop() {
	local pid=$1 secs=${2:-15} end
	kill -TERM "$pid" 2>/dev/null
	end=$((SECONDS + secs))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		DAEMON_RC=still-running
		return
	fi
	wait "$pid" 2>/dev/null
	DAEMON_RC=$?
}

sql_true() { [ "$(sql "$1")" = "t" ]; }
