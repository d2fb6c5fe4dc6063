#!/bin/bash
# make test: every unit test binary (bin/tests/test_*) and every integration
# script (tests/integration/*.sh), each with a fresh database in a throwaway
# PostgreSQL cluster that is removed afterwards. Prints "N passed, N failed".
#
#   tests/run.sh [PATTERN]   only the tests whose file name contains PATTERN
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. deploy/pg.sh

pattern=${1:-}
TEST_TMP=$(mktemp -d /tmp/relayaudit-test.XXXXXX)
chmod 755 "$TEST_TMP"
export TEST_TMP ROOT
PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
PG_INITDB_OPTS=--no-sync
export PG_INITDB_OPTS

cleanup() {
	pg_stop "$TEST_TMP/pg"
	# Stray helpers a failed test left behind (postfix instances, simulators).
	[ -x tests/integration/cleanup-mta.sh ] && tests/integration/cleanup-mta.sh "$TEST_TMP" >/dev/null 2>&1
	rm -rf "$TEST_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_start "$TEST_TMP/pg" || { echo "could not start the test PostgreSQL"; echo "0 passed, 1 failed"; exit 1; }
export RELAYAUDIT_TEST_PGHOST=$TEST_TMP/pg

passed=0
failed=0
failures=()

run_one() {
	local name=$1; shift
	local db log rc p f
	db=t_$(echo "$name" | tr -c 'a-zA-Z0-9_\n' '_')
	pg_createdb "$TEST_TMP/pg" "$db" || { failed=$((failed + 1)); failures+=("$name: createdb"); return; }
	log=$TEST_TMP/$name.log
	echo "== $name"
	RELAYAUDIT_DATABASE=$(pg_conninfo "$TEST_TMP/pg" "$db") TEST_DB=$db \
		timeout --kill-after=10 ${TEST_TIMEOUT:-600} "$@" >"$log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$log"
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures+=("$name")
	fi
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		# A crash, a sanitizer report or a timeout with no FAIL line is a failure too.
		echo "FAIL $name: exited with status $rc"
		failed=$((failed + 1))
		failures+=("$name (exit $rc)")
	fi
	if [ $rc -ne 0 ] || [ "$f" -gt 0 ]; then
		echo "-- last lines of $name's output:"
		grep -vE '^(PASS|SKIP) ' "$log" | tail -30 | sed 's/^/   /'
	fi
}

for t in bin/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	[ -n "$pattern" ] && [[ $n != *"$pattern"* ]] && continue
	run_one "$n" "$t"
done
for t in tests/integration/test_*.sh; do
	[ -f "$t" ] || continue
	n=$(basename "$t" .sh)
	[ -n "$pattern" ] && [[ $n != *"$pattern"* ]] && continue
	run_one "$n" bash "$t"
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
