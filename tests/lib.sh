# Shared helpers for tests/integration/*.sh. Each script is run by
# tests/run.sh with RELAYAUDIT_DATABASE pointing at a fresh database and
# TEST_TMP at a scratch directory; it prints PASS/FAIL lines.
#
#   pass NAME           record a passing check
#   fail NAME WHY       record a failing check (got/want in WHY)
#   check_eq NAME GOT WANT
#   wait_for SECS CMD...   poll CMD every 0.1 s until it succeeds or SECS pass
#   sql "SELECT ..."    one value from the test database

: "${ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${TEST_TMP:=$(mktemp -d /tmp/relayaudit-it.XXXXXX)}"
SUITE=${SUITE:-$(basename "$0" .sh)}
RELAYCTL=$ROOT/bin/relayctl
RELAYAUDITD=$ROOT/bin/relayauditd
RELAYSIM=$ROOT/bin/relaysim

pass() { echo "PASS $SUITE: $1"; }
fail() { echo "FAIL $SUITE: $1: $2"; }

check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

check_contains() {
	if [[ $2 == *"$3"* ]]; then pass "$1"; else fail "$1" "got '${2:0:400}', want it to contain '$3'"; fi
}

wait_for() {
	local secs=$1; shift
	local end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@" >/dev/null 2>&1
}

sql() {
	psql -X -q -t -A -v ON_ERROR_STOP=1 "$RELAYAUDIT_DATABASE" -c "$1"
}

# Background processes started with bg_start are killed when the script exits.
BG_PIDS=()
bg_start() {
	"$@" &
	BG_PIDS+=($!)
}
bg_cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap bg_cleanup EXIT

# new_database NAME: an extra empty database beside the test's own (same
# throwaway cluster); prints its conninfo.
new_database() {
	local name=${TEST_DB:-t}_$1
	local admin=${RELAYAUDIT_DATABASE/dbname=$TEST_DB/dbname=postgres}
	PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$admin" \
		-c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\"" >/dev/null || return 1
	echo "${RELAYAUDIT_DATABASE/dbname=$TEST_DB/dbname=$name}"
}
# A random high port, so copies of a test running in other trees at the same
# time rarely collide; callers retry with another on a failed bind.
random_port() { echo $((20000 + RANDOM % 40000)); }
