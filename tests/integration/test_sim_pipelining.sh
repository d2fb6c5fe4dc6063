#!/bin/bash
# relaysim answers a pipelined group completely and in order, all of it in one
# write (so one read of the client's gets it), also a group larger than one of
# its reads and a whole connection's transactions ending in QUIT; with --delay,
# no reply line leaves earlier than the delay after the command that caused it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sim_lib.sh"

trap bg_cleanup EXIT
CLIENT=$ROOT/tests/integration/sim_pipeline_client.py
N=127.0.29

sim_start_anyport plain $N.1:PORT=closed || { fail start "relaysim did not start"; exit 1; }
P=$SIM_PORT
sim_start_anyport delayed --delay 40 $N.2:PORT=closed || { fail start "relaysim --delay did not start"; exit 1; }
PD=$SIM_PORT

report() { # the client's "ok NAME" / "bad NAME: ..." lines as PASS/FAIL
	local line n=0
	while IFS= read -r line; do
		n=$((n + 1))
		case $line in
		"ok "*) pass "${line#ok }" ;;
		"bad "*) name=${line#bad }; fail "${name%%:*}" "${name#*: }" ;;
		*) fail client "unexpected output: $line" ;;
		esac
	done
	[ "$n" -gt 0 ] || fail client "the client printed nothing"
}

timeout 20 python3 "$CLIENT" group $N.1 "$P" 2>&1 | report
timeout 20 python3 "$CLIENT" big $N.1 "$P" 2>&1 | report
timeout 20 python3 "$CLIENT" delay 40 $N.2 "$PD" 2>&1 | report

sim_stop plain && pass "relaysim exits cleanly" || fail sim_stop "relaysim did not exit 0"
sim_stop delayed && pass "relaysim --delay exits cleanly" || fail sim_stop "relaysim --delay did not exit 0"
