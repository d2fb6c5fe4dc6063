#!/bin/bash
# make bench: each benchmark prints its own figures; not part of make test.
# One line per benchmark script.
set -u
cd "$(dirname "$0")/../.."
rc=0
tests/bench/bench_import.sh || rc=1
tests/bench/bench_probe.sh || rc=1
exit $rc
