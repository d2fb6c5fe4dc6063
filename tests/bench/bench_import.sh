#!/bin/bash
# Benchmark: relayctl import of 100,000 CSV rows (90% IPv4 hosts, 9% IPv6
# hosts, 1% /30 ranges; 20,000 customers) into a throwaway PostgreSQL, then
# the same file again (nothing changes). Prints rows/s for each.
#
#   tests/bench/bench_import.sh [ROWS]
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ROWS=${1:-100000}
. deploy/pg.sh
TMP=$(mktemp -d /tmp/relayaudit-bench.XXXXXX)
chmod 755 "$TMP"
PG_INITDB_OPTS=--no-sync
trap 'pg_stop "$TMP/pg"; rm -rf "$TMP"' EXIT

pg_start "$TMP/pg" >/dev/null || { echo "bench_import: cannot start PostgreSQL"; exit 1; }
pg_createdb "$TMP/pg" bench || exit 1
export RELAYAUDIT_DATABASE
RELAYAUDIT_DATABASE=$(pg_conninfo "$TMP/pg" bench)
cd "$TMP" || exit 1
"$ROOT/bin/relayctl" migrate >/dev/null 2>&1 || { echo "bench_import: migrate failed"; exit 1; }

awk -v n="$ROWS" 'BEGIN {
	print "customer,address,contact_email,name,locale,ports,domains"
	for (i = 0; i < n; i++) {
		c = int(i / 5)
		if (i % 100 == 99)
			a = sprintf("100.%d.%d.%d/30", int(i / 65536) % 256, int(i / 256) % 256, (i % 64) * 4)
		else if (i % 10 == 9)
			a = sprintf("2001:db8:%x::%x", int(i / 65536), i % 65536)
		else
			a = sprintf("10.%d.%d.%d", int(i / 65536) % 256, int(i / 256) % 256, i % 256)
		printf "cust%d,%s,abuse@c%d.example,\"Customer %d, Ltd\",en,25;587,c%d.example\n", c, a, c, c, c
	}
}' >"$TMP/bench.csv"

run() { # run LABEL: prints rows/s from the import's own timing
	local out ms
	out=$("$ROOT/bin/relayctl" import "$TMP/bench.csv" 2>&1) || { echo "bench_import: $1 failed: $out" | tail -5; exit 1; }
	ms=$(echo "$out" | sed -n 's/.* ms=\([0-9]*\).*/\1/p')
	targets=$(echo "$out" | sed -n 's/.* targets=\([0-9]*\).*/\1/p')
	[ "${ms:-0}" -gt 0 ] || ms=1
	awk -v l="$1" -v r="$ROWS" -v t="$targets" -v ms="$ms" \
		'BEGIN { printf "bench_import: %-9s %7d rows (%d targets) in %6.2f s = %8d rows/s\n", l, r, t, ms / 1000, r * 1000 / ms }'
}
run first
run reimport
