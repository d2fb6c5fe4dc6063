#!/bin/bash
# make bench: each benchmark prints its own figures; not part of make test.
#   BENCH=probe|import|daemon|api   only that one (default: all)
set -u
# Benchmarks probe loopback farms only; the engine refuses anything else.
export RELAYAUDIT_LOOPBACK_ONLY=1
cd "$(dirname "$0")/../.."
rc=0
for b in probe catalogue import daemon api; do
	[ -n "${BENCH:-}" ] && [ "$BENCH" != "$b" ] && continue
	[ -x "tests/bench/bench_$b.sh" ] || continue
	echo "######## bench_$b"
	"tests/bench/bench_$b.sh" || rc=1
done
exit $rc
