#!/bin/bash
# make run: install what is missing, build, and with no database configured
# start the embedded PostgreSQL under var/pg, write var/relayaudit.conf on
# first run, migrate, load the demo customers and run the daemon in the
# foreground. Ctrl-C (or TERM) stops the daemon, then the cluster; var/ is
# kept for the next run.
#
# Environment (mostly for tests):
#   RELAYAUDIT_VAR       state directory (default: var/ of this tree)
#   RELAYAUDIT_RUN_ADDR  loopback address the API and sink listen on (127.0.0.1)
#   RELAYAUDIT_DATABASE  use this database instead of the embedded one
#   RUN_SKIP_DEPS=1, RUN_SKIP_BUILD=1  skip those steps
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR=${RELAYAUDIT_VAR:-$ROOT/var}
RUN_ADDR=${RELAYAUDIT_RUN_ADDR:-127.0.0.1}
CONF=$VAR/relayaudit.conf
[ -f "$ROOT/relayaudit.conf" ] && [ -z "${RELAYAUDIT_VAR:-}" ] && CONF=$ROOT/relayaudit.conf
DEMO=$ROOT/deploy/demo-customers.csv
. deploy/pg.sh

EMBEDDED=0    # 1 when this script started var/pg and must stop it
DAEMON_PID=
EXTRA_PIDS=() # helpers started beside the daemon (simulators), stopped before it

say() { echo "make run: $*"; }
die() { echo "make run: $*" >&2; stop_all; exit 1; }

step_deps() {
	[ "${RUN_SKIP_DEPS:-}" = 1 ] && return
	deploy/install-deps.sh || exit 1
}

step_build() {
	[ "${RUN_SKIP_BUILD:-}" = 1 ] && return
	say "building"
	make -s -j"$(nproc 2>/dev/null || echo 2)" all || exit 1
}

# A conf file of our own, made once: a random secret and loopback listeners.
step_config() {
	mkdir -p "$VAR"
	# A config from before the installed defaults (enforcer under /usr/share) gets the tree's hook.
	if [ -f "$CONF" ] && [ "$CONF" = "$VAR/relayaudit.conf" ] && ! grep -q '^enforcer_command' "$CONF"; then
		printf '# added by make run: the hook of this tree\nenforcer_command = %s\n' \
			"$ROOT/deploy/enforcers/log-only" >>"$CONF"
	fi
	[ -f "$CONF" ] && return
	local secret
	secret=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	(
		umask 077
		cat >"$CONF" <<CONF
# Written by make run on first start; edit freely, it is kept.
# Every option: deploy/relayaudit.conf.example. No 'database' line: make run
# uses its embedded PostgreSQL under var/pg.
secret = $secret
# The demo probes only its own simulators on loopback; remove this line
# (or set it to no) when the customers are real.
loopback_only = yes
api_listen = $RUN_ADDR:8080
sink_listen = $RUN_ADDR:2525
retest_url = http://$RUN_ADDR:8080/r/
outbox_dir = $VAR/outbox
complaint_quarantine_dir = $VAR/quarantine
enforcer_command = $ROOT/deploy/enforcers/log-only
# Demo pace: the demo servers are probed again every few minutes, and the
# greylisting one is retried after 10 s instead of 5 minutes.
probe_interval = 3m
no_smtp_interval = 5m
interval_jitter = 20
greylist_wait = 10s
confirm_window = 1m
# A throwaway self-signed pair, so relays that insist on TLS can deliver.
sink_tls_cert = $VAR/sink-tls/cert.pem
sink_tls_key = $VAR/sink-tls/key.pem
# A handful of targets: every verdict in the log, no_smtp too.
log_no_smtp = yes
CONF
	)
	chmod 600 "$CONF"
	say "wrote $CONF (mode 600, random secret)"
}

# The sink's throwaway certificate (make run only; production names its own).
step_sink_tls() {
	[ -f "$VAR/sink-tls/cert.pem" ] && [ -f "$VAR/sink-tls/key.pem" ] && return
	mkdir -p "$VAR/sink-tls"
	(
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 365 \
			-subj "/CN=relayaudit-sink/O=relayaudit make run" \
			-keyout "$VAR/sink-tls/key.pem" -out "$VAR/sink-tls/cert.pem" >/dev/null 2>&1
	) || die "openssl could not make the sink's throwaway certificate"
	say "made a throwaway certificate for the sink's STARTTLS in $VAR/sink-tls"
}

# The configured value of one option, as relayctl reads the file.
conf_value() {
	bin/relayctl config check -c "$CONF" 2>/dev/null | sed -n "s/^$1 = \(.*\)  # .*/\1/p"
}

step_database() {
	local configured
	bin/relayctl config check -c "$CONF" >/dev/null || die "fix $CONF first (errors above)"
	configured=$(conf_value database)
	if [ -n "$configured" ]; then
		DB_DESC="configured database"
		return
	fi
	say "starting the embedded PostgreSQL in $VAR/pg"
	pg_start "$VAR/pg" || die "could not start PostgreSQL (log: $VAR/pg/postgres.log)"
	EMBEDDED=1
	psql -X -q -h "$VAR/pg" -U "$(pg_owner)" -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'relayaudit'" | grep -q 1 ||
		psql -X -q -h "$VAR/pg" -U "$(pg_owner)" -d postgres -c "CREATE DATABASE relayaudit" >/dev/null ||
		die "could not create database relayaudit"
	RELAYAUDIT_DATABASE=$(pg_conninfo "$VAR/pg" relayaudit)
	export RELAYAUDIT_DATABASE
	DB_DESC="embedded PostgreSQL, socket $VAR/pg/.s.PGSQL.5432, database relayaudit (log $VAR/pg/postgres.log)"
}

step_migrate() {
	bin/relayctl migrate -c "$CONF" || die "migrations failed"
}

step_demo_data() {
	bin/relayctl import -c "$CONF" "$DEMO" || die "demo import failed"
}

# Hook: helpers that stand in for customers' servers (simulators) start here
# and append their pids to EXTRA_PIDS. The demo customers' servers are
# relaysim listeners: an open relay that forwards to our sink (so the daemon
# proves it: relay_confirmed), a closed server, a greylisting one, one that
# accepts and drops (accepted, then accepted_not_relayed when the
# confirmation window passes) and a closed /30; demo-nosmtp has no server.
DEMO_SIMS=(
	127.0.70.10:2525=open
	127.0.70.11:2525=closed
	127.0.70.12:2525=greylist
	127.0.70.13:2525=drop
	127.0.70.16/30:2525=closed
)
step_helpers() {
	local out=$VAR/relaysim.out i
	: >"$out"
	bin/relaysim --sink "$(conf_value sink_listen)" "${DEMO_SIMS[@]}" >"$out" 2>"$VAR/relaysim.log" &
	EXTRA_PIDS+=($!)
	for i in $(seq 1 50); do
		grep -q '^ready' "$out" && break
		sleep 0.1
	done
	grep -q '^ready' "$out" || die "relaysim did not start (log: $VAR/relaysim.log)"
	say "demo servers (relaysim): ${DEMO_SIMS[*]}"
}

step_daemon() {
	local RELAYCTL_HINT=bin/relayctl
	# bin/relayctl finds var/pg of its own tree by itself; another state dir needs the conninfo.
	[ "$EMBEDDED" = 1 ] && [ "$VAR" != "$ROOT/var" ] &&
		RELAYCTL_HINT="RELAYAUDIT_DATABASE='$RELAYAUDIT_DATABASE' bin/relayctl"

	# The log-only hook writes its log beside the rest of the demo's state.
	RELAYAUDIT_ENFORCER_LOG=${RELAYAUDIT_ENFORCER_LOG:-$VAR/enforcer.log} bin/relayauditd -c "$CONF" &
	DAEMON_PID=$!
	sleep 0.2
	kill -0 "$DAEMON_PID" 2>/dev/null || { wait "$DAEMON_PID"; DAEMON_PID=; die "relayauditd exited at start"; }
	cat <<BANNER
make run: relayaudit is running (Ctrl-C stops it and the database; var/ is kept)
  daemon     bin/relayauditd pid $DAEMON_PID, roles $(conf_value roles)
  config     $CONF
  database   $DB_DESC
  dashboard  http://$(conf_value api_listen)/  (token: $RELAYCTL_HINT token create --name desk --role operator -c $CONF)
  API        http://$(conf_value api_listen)/v1/
  sink       smtp://$(conf_value sink_listen)
  demo data  $DEMO
  relayctl   $RELAYCTL_HINT migrate --status -c $CONF
BANNER
}

# Stops what this script started, newest first, each with a bound.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 ${2:-350}); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

stop_all() {
	trap - INT TERM
	local p
	for p in "${EXTRA_PIDS[@]}"; do stop_pid "$p" 50; done
	EXTRA_PIDS=()
	if [ -n "$DAEMON_PID" ]; then
		say "stopping relayauditd"
		stop_pid "$DAEMON_PID"
		DAEMON_PID=
	fi
	if [ "$EMBEDDED" = 1 ]; then
		say "stopping the embedded PostgreSQL"
		pg_stop "$VAR/pg"
		EMBEDDED=0
	fi
}

trap 'stop_all; say "stopped"; exit 0' INT TERM

step_deps
step_build
step_config
step_sink_tls
step_database
step_migrate
step_demo_data
step_helpers
step_daemon
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
stop_all
say "relayauditd exited with status $rc"
exit $rc
