#!/bin/bash
# Counters that only grow: /metrics counts probes, complaints and DNSBL
# listings when they happen, so rows pruned by retention never make a counter
# go down; the whole page passes `promtool check metrics` (Debian's prometheus).
SUITE=daemon_metrics_counters
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

IP=127.0.56.12 # the daemon group's range (127.0.62 is the API tests')
port=$(random_port)
daemon_migrate || { fail setup "migrate failed"; exit 1; }
daemon_targets 3
daemon_conf "$TEST_TMP/d.conf" metrics-node "roles = probe,api" "api_listen = $IP:$port" \
	"api_public_health = yes" "probe_ports = 25"
daemon_start "$TEST_TMP/d.conf" "$TEST_TMP/daemon.log"
TOKEN=$("$RELAYCTL" token create --name prom --role viewer -c "$TEST_TMP/d.conf" 2>/dev/null)
metrics() { curl -s --max-time 10 -H "Authorization: Bearer $TOKEN" "http://$IP:$port/metrics"; }
metric() { metrics | awk -v m="$1" '$1 == m { print $2 }'; }

wait_for 90 sql_true "SELECT count(*) = 3 FROM probes WHERE verdict IS NOT NULL" ||
	fail setup "the daemon did not probe the 3 targets"
check_eq probes_counted_as_written "$(metric 'relayaudit_probes_total{verdict="no_smtp"}')" 3
check_eq histogram_counts_them "$(metric relayaudit_probe_duration_seconds_count)" 3
check_eq histogram_inf_bucket "$(metric 'relayaudit_probe_duration_seconds_bucket{le="+Inf"}')" 3

# Retention prunes the rows (as probes_prune does); the counters stay.
sql "DELETE FROM probe_attempts; DELETE FROM probes" >/dev/null
check_eq probes_counter_survives_pruning "$(metric 'relayaudit_probes_total{verdict="no_smtp"}')" 3
check_eq histogram_survives_pruning "$(metric relayaudit_probe_duration_seconds_count)" 3

sed 's/__ADDR__/127.0.40.1/g' "$ROOT/tests/unit/data/arf/arf-rfc5965.eml" |
	"$RELAYCTL" complaint -c "$TEST_TMP/d.conf" --mail - >/dev/null 2>&1
check_eq complaint_counted "$(metric relayaudit_complaints_total)" 1
sql "DELETE FROM complaints" >/dev/null
check_eq complaint_counter_survives_deletion "$(metric relayaudit_complaints_total)" 1

metrics >"$TEST_TMP/metrics.txt"
if ! command -v promtool >/dev/null; then
	fail promtool_check_metrics "promtool not installed (Debian package prometheus; deploy/install-deps.sh)"
elif out=$(promtool check metrics <"$TEST_TMP/metrics.txt" 2>&1); then
	pass promtool_check_metrics
else
	fail promtool_check_metrics "got: $(echo "$out" | head -5 | tr '\n' ' ')"
fi
daemon_stop "$DAEMON_PID"
check_eq daemon_stops_cleanly "$DAEMON_RC" 0
