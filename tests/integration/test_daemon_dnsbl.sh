#!/bin/bash
# DNSBL listings as triggers: the daemon's dnsbl role looks customers'
# addresses up in a test zone served by a real rbldnsd on loopback (its own
# nameserver from the config, nothing else asked). A new listing is recorded
# on the target, asks for a re-test and shows in the case timeline with the
# zone and the returned code, within one check interval; a delisting is
# recorded too; an address never listed leaves no trace.
SUITE=daemon_dnsbl
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

IP=127.0.56.9 # the daemon group's range (127.0.62 is the API tests')
ZDIR=$TEST_TMP/zones
INTERVAL=3
mkdir -p "$ZDIR" && chmod 755 "$ZDIR"
daemon_migrate || { fail setup "migrate failed"; exit 1; }
daemon_targets 3 # 127.0.40.1 (gets a case), .2 (no case), .3 (never listed)

# zone_list ADDR...: the ip4set the zone serves; a fresh mtime each time so rbldnsd reloads.
ZONE_GEN=0
zone_list() {
	{ echo ":127.0.0.2:Open relay listed by the test zone"; printf '%s\n' "$@"; } >"$ZDIR/.relays.new"
	chmod 644 "$ZDIR/.relays.new"
	ZONE_GEN=$((ZONE_GEN + 2))
	touch -d "@$(($(date +%s) + ZONE_GEN))" "$ZDIR/.relays.new"
	mv "$ZDIR/.relays.new" "$ZDIR/relays"
}
zone_list
port=$(random_port)
# rbldnsd writes its query log (+: line by line) as its own user inside the chroot.
touch "$ZDIR/querylog" && chown rbldns "$ZDIR/querylog"
# bl2.test lists .3 from the start; the daemon asks it only once a reload names it.
{ echo ":127.0.0.4:Listed by the second test zone"; echo 127.0.40.3; } >"$ZDIR/relays2"
bg_start rbldnsd -n -u rbldns -r "$ZDIR" -w / -c 1 -l +querylog -b "$IP/$port" bl.test:ip4set:relays \
	bl2.test:ip4set:relays2 \
	>"$TEST_TMP/rbldnsd.log" 2>&1
wait_for 10 sh -c "dig @$IP -p $port +short +time=1 +tries=1 bl.test SOA >/dev/null 2>&1" ||
	{ fail setup "rbldnsd did not start: $(tail -3 "$TEST_TMP/rbldnsd.log")"; exit 1; }

export RELAYAUDIT_ENFORCER_LOG=$TEST_TMP/enforcer.log
daemon_conf "$TEST_TMP/d.conf" dnsbl-node "roles = workflow,dnsbl" \
	"dnsbl_zones = bl.test" "dnsbl_nameservers = $IP:$port" "dnsbl_interval = ${INTERVAL}s" \
	"dnsbl_rate = 20" "dnsbl_timeout = 2s" \
	"enforcer_command = $ROOT/deploy/enforcers/log-only" "outbox_dir = $TEST_TMP/outbox"
daemon_start "$TEST_TMP/d.conf" "$TEST_TMP/daemon.log"

# A case for .1, opened the real way: a complaint through relayctl.
sed 's/__ADDR__/127.0.40.1/g' "$ROOT/tests/unit/data/arf/arf-rfc5965.eml" |
	"$RELAYCTL" complaint -c "$TEST_TMP/d.conf" --mail - >/dev/null 2>"$TEST_TMP/complaint.err"
wait_for 15 sql_true "SELECT EXISTS (SELECT 1 FROM cases WHERE address = '127.0.40.1' AND blocked)" ||
	fail setup "no blocked case for 127.0.40.1: $(cat "$TEST_TMP/complaint.err")"
case_id=$(sql "SELECT id FROM cases WHERE address = '127.0.40.1'")
wait_for 15 grep -q 'event=dnsbl_pass' "$TEST_TMP/daemon.log" ||
	fail dnsbl_checks_run "no dnsbl_pass in the daemon log"
check_eq nothing_listed_nothing_recorded "$(sql "SELECT count(*) FROM dnsbl_listings")" 0

listed_at=$SECONDS
zone_list 127.0.40.1 127.0.40.2
# rbldnsd reloads within its 1 s check; the daemon sees it at its next pass.
wait_for $((INTERVAL + 4)) sql_true "SELECT count(*) = 2 FROM dnsbl_listings" &&
	took=$((SECONDS - listed_at))
check_eq listing_recorded_on_the_targets \
	"$(sql "SELECT string_agg(host(t.address) || ' ' || l.zone || ' ' || l.code, ',' ORDER BY t.address)
	        FROM dnsbl_listings l JOIN targets t ON t.id = l.target_id WHERE l.delisted_at IS NULL")" \
	"127.0.40.1 bl.test 127.0.0.2,127.0.40.2 bl.test 127.0.0.2"
if [ -n "${took:-}" ] && [ "$took" -le $((INTERVAL + 2)) ]; then pass listing_seen_within_one_interval
else fail listing_seen_within_one_interval "got ${took:-never} s, want at most $((INTERVAL + 2)) s"; fi
check_eq listing_asks_for_a_retest \
	"$(sql "SELECT string_agg(host(t.address), ',' ORDER BY t.address) FROM retest_requests r
	        JOIN targets t ON t.id = r.target_id WHERE r.requested_by = 'dnsbl:bl.test'")" \
	"127.0.40.1,127.0.40.2"
check_eq listed_targets_due_at_retest_priority \
	"$(sql "SELECT string_agg(host(address) || ' ' || priority || ' ' || (next_probe_at <= now()), ','
	        ORDER BY address) FROM targets WHERE address IN ('127.0.40.2')")" "127.0.40.2 3 true"
check_eq listing_in_the_case_timeline \
	"$(sql "SELECT event || ' ' || actor || ' ' || (detail->>'zone') || ' ' || (detail->>'code') || ' ' ||
	        (detail ? 'retest_id') FROM case_events WHERE case_id = $case_id AND event LIKE 'dnsbl%'")" \
	"dnsbl_listed dnsbl bl.test 127.0.0.2 true"

# Still listed at the next pass: nothing new.
passes=$(grep -c 'event=dnsbl_pass' "$TEST_TMP/daemon.log")
more_passes() { [ "$(grep -c 'event=dnsbl_pass' "$TEST_TMP/daemon.log")" -gt "$passes" ]; }
wait_for $((INTERVAL + 4)) more_passes || fail next_pass_ran "no dnsbl pass after $passes in $((INTERVAL + 4)) s"
check_eq a_known_listing_is_not_new \
	"$(sql "SELECT count(*) FROM dnsbl_listings")/$(sql "SELECT count(*) FROM retest_requests WHERE requested_by LIKE 'dnsbl:%'")" "2/2"

zone_list 127.0.40.2
wait_for $((INTERVAL + 4)) sql_true "SELECT count(*) = 1 FROM dnsbl_listings WHERE delisted_at IS NOT NULL"
check_eq delisting_recorded \
	"$(sql "SELECT host(t.address) FROM dnsbl_listings l JOIN targets t ON t.id = l.target_id
	        WHERE l.delisted_at IS NOT NULL")" "127.0.40.1"
check_eq delisting_in_the_case_timeline \
	"$(sql "SELECT string_agg(event || ' ' || (detail->>'zone') || ' ' || (detail->>'code'), ',' ORDER BY id)
	        FROM case_events WHERE case_id = $case_id AND event LIKE 'dnsbl%'")" \
	"dnsbl_listed bl.test 127.0.0.2,dnsbl_delisted bl.test 127.0.0.2"
check_eq never_listed_address_leaves_no_trace \
	"$(sql "SELECT count(*) FROM dnsbl_listings l JOIN targets t ON t.id = l.target_id WHERE t.address = '127.0.40.3'")" 0
check_contains queries_went_to_the_test_zone "$(cat "$ZDIR/querylog" 2>/dev/null)" "3.40.0.127.bl.test"
check_eq unconfigured_zone_never_asked "$(grep -c 'bl2\.test' "$ZDIR/querylog")" 0

# HUP: a zone added to the file is asked from the next pass on.
sed -i 's/^dnsbl_zones = .*/dnsbl_zones = bl.test, bl2.test/' "$TEST_TMP/d.conf"
kill -HUP "$DAEMON_PID"
wait_for $((INTERVAL + 4)) sql_true "SELECT count(*) = 1 FROM dnsbl_listings WHERE zone = 'bl2.test'"
check_eq reload_adds_a_zone \
	"$(sql "SELECT string_agg(host(t.address) || ' ' || l.zone || ' ' || l.code, ',') FROM dnsbl_listings l
	        JOIN targets t ON t.id = l.target_id WHERE l.zone = 'bl2.test'")" "127.0.40.3 bl2.test 127.0.0.4"
# Zones without nameservers: refused with the reason, the running settings kept.
sed -i '/^dnsbl_nameservers/d' "$TEST_TMP/d.conf"
kill -HUP "$DAEMON_PID"
wait_for 10 grep -q 'event=reload_refused.*role=dnsbl' "$TEST_TMP/daemon.log"
check_contains reload_without_nameservers_refused \
	"$(grep 'event=reload_refused.*role=dnsbl' "$TEST_TMP/daemon.log")" "dnsbl_nameservers is empty"
passes=$(grep -c 'event=dnsbl_pass' "$TEST_TMP/daemon.log")
wait_for $((INTERVAL + 4)) more_passes
check_eq refused_reload_keeps_checking "$(more_passes && echo yes)" yes

daemon_stop "$DAEMON_PID"
check_eq daemon_stops_cleanly "$DAEMON_RC" 0

# Zones without nameservers: the daemon refuses to start rather than ask the system resolver.
daemon_conf "$TEST_TMP/bad.conf" dnsbl-bad "roles = dnsbl" "dnsbl_zones = bl.test"
"$RELAYAUDITD" -c "$TEST_TMP/bad.conf" >"$TEST_TMP/bad.log" 2>&1
check_eq zones_without_nameservers_refused "$?" 1
check_contains refusal_names_dnsbl_nameservers "$(cat "$TEST_TMP/bad.log")" "dnsbl_nameservers"
