#!/bin/bash
# relaysim answers a pipelined group completely and in order, all of it in one
# write (so one read of the client's gets it): a whole connection's transactions
# ending in QUIT, a group larger than one of relaysim's reads, the same over
# implicit TLS; with --delay, no reply line leaves earlier than the delay after
# the command that caused it, and a group's replies still leave together; a client
# silent for --idle-secs gets 421 and the connection closes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/sim_lib.sh"

trap bg_cleanup EXIT
CLIENT=$ROOT/tests/integration/sim_pipeline_client.py
N=127.0.29

sim_start_anyport plain $N.1:PORT=closed || { fail start "relaysim did not start"; exit 1; }
P=$SIM_PORT
sim_start_anyport delayed --delay 40 $N.2:PORT=closed || { fail start "relaysim --delay did not start"; exit 1; }
PD=$SIM_PORT
sim_start_anyport idle --idle-secs 1 $N.4:PORT=closed || { fail start "relaysim --idle-secs did not start"; exit 1; }
PI=$SIM_PORT
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=relaysim.test" \
	-keyout "$TEST_TMP/key.pem" -out "$TEST_TMP/cert.pem" >/dev/null 2>&1 ||
	{ fail setup "openssl could not make a certificate"; exit 1; }
sim_start_anyport tls --tls-port PORT --tls-cert "$TEST_TMP/cert.pem" --tls-key "$TEST_TMP/key.pem" \
	$N.3:PORT=closed || { fail start "relaysim --tls-port did not start"; exit 1; }
PT=$SIM_PORT

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
timeout 20 python3 "$CLIENT" tls $N.3 "$PT" 2>&1 | report
timeout 20 python3 "$CLIENT" delay 40 $N.2 "$PD" 2>&1 | report
timeout 20 python3 "$CLIENT" idle 1 $N.4 "$PI" 2>&1 | report

sim_stop plain && pass "relaysim exits cleanly" || fail sim_stop "relaysim did not exit 0"
sim_stop tls && pass "relaysim --tls-port exits cleanly" || fail sim_stop "relaysim --tls-port did not exit 0"
sim_stop idle && pass "relaysim --idle-secs exits cleanly" || fail sim_stop "relaysim --idle-secs did not exit 0"
sim_stop delayed && pass "relaysim --delay exits cleanly" || fail sim_stop "relaysim --delay did not exit 0"
