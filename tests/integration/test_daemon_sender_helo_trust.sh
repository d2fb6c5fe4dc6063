#!/bin/bash
# relayauditd (roles probe,sink) on a real PostgreSQL against relay rules that
# trust a greeting or a customer's domain: targets imported with relayctl import,
# proof through the daemon's own sink, and the stored trick names the greeting
# (+helo-localhost) or the forged sender domain (spoof-domain/plain) as the
# one-shot probe does; the evidence keeps each attempt's greeting. With
# probe_rdns, a server whose greeting names no host gets its PTR name.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/sim_lib.sh"
. "$(dirname "$0")/sink_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }

N=127.0.65
SINK=$N.100
CONF=$TEST_TMP/trustd.conf
LOG=$TEST_TMP/trustd.log
daemon_conf "$CONF" trust-1 "roles = probe,sink" "sink_listen = $SINK:2525" \
	"sink_domain = $SINK_DOMAIN" "confirm_window = 10s" "greylist_wait = 1s" \
	"secret = $SINK_SECRET" "probe_rdns = yes" "probe_rdns_timeout = 2s" \
	"dnsbl_nameservers = $N.53:5353"

sim_start helo --sink "$SINK:2525" $N.1:2525=trust-helo-localhost ||
	{ fail sim_started "relaysim did not start"; exit 1; }
sim_start sender --sink "$SINK:2525" --trust-domain kunde-daemon.test $N.2:2525=trust-sender ||
	{ fail sim_started "relaysim (sender) did not start"; exit 1; }
sim_start anon --sink "$SINK:2525" --anonymous --trust-domain rdns-daemon.test $N.3:2525=trust-sender ||
	{ fail sim_started "relaysim (anonymous) did not start"; exit 1; }
bg_start python3 "$ROOT/tests/integration/ptr_dns.py" $N.53 5353 $N.3=mx.rdns-daemon.test \
	>"$TEST_TMP/dns.out" 2>"$TEST_TMP/dns.err"
wait_for 5 grep -qx ready "$TEST_TMP/dns.out" || { fail setup "ptr_dns.py did not start"; exit 1; }
cat >"$TEST_TMP/targets.csv" <<CSV
customer,address,contact_email,ports,domains
trust,$N.1,abuse@trust.example,2525,
trust,$N.2,abuse@trust.example,2525,kunde-daemon.test
trust,$N.3,abuse@trust.example,2525,
CSV
"$RELAYCTL" import -c "$CONF" "$TEST_TMP/targets.csv" >"$TEST_TMP/import.log" 2>&1 ||
	{ fail import "$(tail -3 "$TEST_TMP/import.log")"; exit 1; }

daemon_start "$CONF" "$LOG"
for a in $N.1 $N.2 $N.3; do
	if wait_for 60 sql_true "SELECT count(*) > 0 FROM probes WHERE address = '$a' AND verdict = 'relay_confirmed'"; then
		pass "daemon_relay_confirmed_$a"
	else
		fail "daemon_relay_confirmed_$a" "got '$(sql "SELECT verdict FROM probes WHERE address = '$a'")'"
	fi
done
check_eq daemon_trick_names_the_greeting \
	"$(sql "SELECT trick FROM probes WHERE address = '$N.1' ORDER BY id LIMIT 1")" null/plain+helo-localhost
check_eq daemon_evidence_keeps_the_greeting \
	"$(sql "SELECT count(*) FROM probes p, jsonb_array_elements(p.evidence->'attempts') a
	        WHERE p.address = '$N.1' AND a->>'helo' = 'localhost'")" 4
check_eq daemon_trick_names_the_forged_sender_domain \
	"$(sql "SELECT trick FROM probes WHERE address = '$N.2' ORDER BY id LIMIT 1")" spoof-domain/plain
check_eq daemon_relayed_attempt_forged_the_customer_domain \
	"$(sql "SELECT a.mail_from FROM probes p JOIN probe_attempts a ON a.probe_id = p.id
	        WHERE p.address = '$N.2' AND a.outcome = 'relayed' ORDER BY a.idx LIMIT 1")" "<postmaster@kunde-daemon.test>"
check_eq daemon_rdns_name_in_evidence \
	"$(sql "SELECT evidence->>'name' FROM probes WHERE address = '$N.3' ORDER BY id LIMIT 1")" mx.rdns-daemon.test
check_eq daemon_rdns_trick_names_the_forged_sender_domain \
	"$(sql "SELECT trick FROM probes WHERE address = '$N.3' ORDER BY id LIMIT 1")" spoof-domain/plain

daemon_stop "$DAEMON_PID"
check_eq daemon_term_exits_0 "$DAEMON_RC" 0
sim_stop helo
sim_stop sender
sim_stop anon
if grep -q "ERROR: AddressSanitizer\|runtime error" "$LOG"; then
	fail daemon_log_clean "$(grep -A12 "ERROR: AddressSanitizer\|runtime error" "$LOG" | head -24)"
fi
