#!/bin/bash
# The customer's mail domains on record reach every probe of its targets:
# imported through relayctl import (the billing export's domains column),
# the daemon claims the targets, and each probe of a relaysim target tests
# backscatter to the customer's domains first, then the target's own, each
# once, at most four (CATALOGUE_MAX_DOMAINS). Evidence is the observable:
# the backscatter attempts' RCPT TO in probes.evidence.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/sim_lib.sh"
cd "$TEST_TMP" || exit 1
daemon_migrate || { fail "migrate" "relayctl migrate failed"; exit 1; }

# Loopback range of this test: 127.0.86.0/24, closed servers.
sim_start_anyport sim 127.0.86.1:PORT=closed 127.0.86.2:PORT=closed 127.0.86.3:PORT=closed ||
	{ fail "relaysim starts" "see $TEST_TMP/sim.err"; exit 1; }

# Customer gf names a domain per server; customer many has five over two rows.
cat >"$TEST_TMP/billing.csv" <<CSV
customer,address,contact_email,ports,domains
gf,127.0.86.1,it@grossefirma.example,$SIM_PORT,GrosseFirma.example
gf,127.0.86.2,it@grossefirma.example,$SIM_PORT,filiale.example
many,127.0.86.3,it@many.example,$SIM_PORT,d1.example d2.example d3.example
many,127.0.44.250,it@many.example,$SIM_PORT,d4.example d5.example d1.example
CSV
printf 'probe_ports = 25\n' >"$TEST_TMP/import.conf"
out=$("$RELAYCTL" import -c "$TEST_TMP/import.conf" "$TEST_TMP/billing.csv" 2>&1) ||
	{ fail "relayctl import takes the billing file" "$out"; exit 1; }
check_eq "import_puts_the_domains_on_the_customers_record" \
	"$(sql "SELECT string_agg(ext_id || domains::text, ' ' ORDER BY ext_id) FROM customers")" \
	"gf{grossefirma.example,filiale.example} many{d1.example,d2.example,d3.example,d4.example,d5.example}"

CONF=$TEST_TMP/domains.conf
LOG=$TEST_TMP/domains.log
daemon_conf "$CONF" domains-1 "probe_deadline = 60s" "greylist_wait = 1s"
daemon_start "$CONF" "$LOG"
if wait_for 60 sql_true "SELECT count(*) = 3 FROM targets WHERE address << '127.0.86.0/24' AND last_verdict IS NOT NULL"; then
	pass "the_daemon_probes_the_customers_servers"
else
	fail "the_daemon_probes_the_customers_servers" "got '$(sql "SELECT string_agg(host(address) || '=' || coalesce(last_verdict::text, '-'), ' ') FROM targets")'"
fi

# The domains of a probe's backscatter attempts, in attempt order (the first
# backscatter attempt addresses the server's own name H).
bs_domains() {
	sql "SELECT string_agg(split_part(trim(both '<>' from a->>'rcpt_to'), '@', 2), ' ' ORDER BY (a->>'index')::int)
	       FROM probes p, jsonb_array_elements(p.evidence->'attempts') a
	      WHERE p.address = '$1' AND (a->>'backscatter')::boolean"
}
check_eq "a_probe_addresses_the_customers_other_domain_too" \
	"$(bs_domains 127.0.86.1)" "sim-127-0-86-1.relaysim.test grossefirma.example filiale.example"
check_eq "customer_domains_come_first_then_the_targets_own_each_once" \
	"$(bs_domains 127.0.86.2)" "sim-127-0-86-2.relaysim.test grossefirma.example filiale.example"
check_eq "at_most_four_domains_customer_record_first" \
	"$(bs_domains 127.0.86.3)" "sim-127-0-86-3.relaysim.test d1.example d2.example d3.example d4.example"
check_eq "the_servers_stay_closed" \
	"$(sql "SELECT string_agg(DISTINCT verdict::text, ',') FROM probes WHERE address << '127.0.86.0/24'")" "closed"

daemon_stop "$DAEMON_PID"
check_eq "term_exits_0" "$DAEMON_RC" 0
sim_stop sim
if grep -q "ERROR: AddressSanitizer\|runtime error" "$LOG"; then
	fail "daemon_log_is_free_of_sanitizer_reports" "$(grep -m3 -A5 "ERROR: AddressSanitizer\|runtime error" "$LOG")"
else
	pass "daemon_log_is_free_of_sanitizer_reports"
fi
