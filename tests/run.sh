#!/bin/bash
# make test: every unit test binary (bin/tests/test_*) and every integration
# script (tests/integration/test_*.sh), each with a fresh database in a
# throwaway PostgreSQL cluster that is removed afterwards. Prints
# "N passed, N failed" and exits non-zero on any failure.
#
#   tests/run.sh [PATTERN]   only the tests whose file name contains PATTERN
#   TEST_JOBS=N              groups run at once (default 4; 1 = one at a time)
#
# Tests are grouped by the loopback range they use (see GROUP below); the
# files of one group run one after another, the groups side by side, so no
# two tests ever share an address while the suite still overlaps its waits.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. deploy/pg.sh

pattern=${1:-}
jobs=${TEST_JOBS:-4}
TEST_TMP=$(mktemp -d /tmp/relayaudit-test.XXXXXX)
chmod 755 "$TEST_TMP"
export TEST_TMP ROOT
# The engine refuses any target outside 127.0.0.0/8 and ::1 while tests run.
export RELAYAUDIT_LOOPBACK_ONLY=1
PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
PG_INITDB_OPTS=--no-sync
export PG_INITDB_OPTS

cleanup() {
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pg_stop "$TEST_TMP/pg"
	# Stray helpers a failed test left behind (postfix instances, simulators).
	[ -x tests/integration/cleanup-mta.sh ] && tests/integration/cleanup-mta.sh "$TEST_TMP" >/dev/null 2>&1
	rm -rf "$TEST_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_start "$TEST_TMP/pg" || { echo "could not start the test PostgreSQL"; echo "0 passed, 1 failed"; exit 1; }
export RELAYAUDIT_TEST_PGHOST=$TEST_TMP/pg
mkdir -p "$TEST_TMP/results"

# The group of a test: who owns which loopback range.
GROUP() {
	case $1 in
	test_api_*) echo api ;;
	test_browser_*) echo browser ;;
	test_daemon_*|test_make_run) echo daemon ;;
	test_sim_*|test_postfix_*|test_mta_*) echo sim ;;
	test_probe_*) echo probe ;;
	test_sink_*) echo sink ;;
	test_workflow_*) echo workflow ;;
	test_config|test_import|test_install|test_layering|test_migrate|test_help|test_deps|test_man|test_package) echo foundation ;;
	*) echo unit ;;
	esac
}

# run_one NAME CMD...: runs one test file, leaves NAME.log and NAME.res.
run_one() {
	local name=$1; shift
	local db log rc p f t0=$SECONDS res=$TEST_TMP/results/$name.res
	# Each file gets its own scratch directory: suites run side by side, and
	# two of them writing "$TEST_TMP/err" at once would read each other's.
	local tmp=$TEST_TMP/t/$name
	mkdir -p "$tmp" && chmod 755 "$TEST_TMP/t" "$tmp"
	db=t_$(echo "$name" | tr -c 'a-zA-Z0-9_\n' '_')
	log=$TEST_TMP/results/$name.log
	if ! pg_createdb "$TEST_TMP/pg" "$db"; then
		echo "FAIL $name: could not create its database" >"$log"
		echo "0 1 1 0" >"$res"
		return
	fi
	RELAYAUDIT_DATABASE=$(pg_conninfo "$TEST_TMP/pg" "$db") TEST_DB=$db TEST_TMP=$tmp \
		timeout --kill-after=10 ${TEST_TIMEOUT:-600} "$@" >"$log" 2>&1 </dev/null
	rc=$?
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		# A crash, a sanitizer report or a timeout with no FAIL line is a failure too.
		echo "FAIL $name: exited with status $rc" >>"$log"
		f=1
	fi
	echo "$p $f $rc $((SECONDS - t0))" >"$res"
}

# Collect the tests, then the groups in first-seen order.
declare -A group_tests
groups=()
names=()
add_test() {
	local name=$1 cmd=$2 g
	[ -n "$pattern" ] && [[ $name != *"$pattern"* ]] && return
	g=$(GROUP "$name")
	[ -z "${group_tests[$g]+x}" ] && groups+=("$g")
	group_tests[$g]+="$name|$cmd "
	names+=("$name")
}
for t in bin/tests/test_*; do
	[ -x "$t" ] && add_test "$(basename "$t")" "$t"
done
for t in tests/integration/test_*.sh; do
	[ -f "$t" ] && add_test "$(basename "$t" .sh)" "$t"
done

run_group() {
	local item name cmd
	for item in ${group_tests[$1]}; do
		name=${item%%|*}
		cmd=${item#*|}
		if [[ $cmd == *.sh ]]; then
			run_one "$name" bash "$cmd"
		else
			run_one "$name" "$cmd"
		fi
		echo "   finished $name ($(cut -d' ' -f4 "$TEST_TMP/results/$name.res") s)" >&2
	done
}

for g in "${groups[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	run_group "$g" &
done
wait

passed=0
failed=0
failures=()
for name in "${names[@]}"; do
	read -r p f rc secs <"$TEST_TMP/results/$name.res"
	log=$TEST_TMP/results/$name.log
	echo "== $name ($secs s)"
	grep -E '^(PASS|FAIL|SKIP) ' "$log"
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures+=("$name")
		echo "-- last lines of $name's output:"
		grep -vE '^(PASS|SKIP) ' "$log" | tail -30 | sed 's/^/   /'
	fi
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
