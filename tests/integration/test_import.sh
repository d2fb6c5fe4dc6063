#!/bin/bash
# relayctl import against a real PostgreSQL: CSV and JSON lines, IPv4, IPv6
# and CIDR; a bad row writes nothing; re-import changes nothing; --dry-run.
. "$(dirname "$0")/../lib.sh"
cd "$TEST_TMP" || exit 1
"$RELAYCTL" migrate >/dev/null 2>&1 || { fail "setup" "migrate failed"; exit 1; }
printf 'probe_ports = 25,587\nimport_max_cidr = 16\n' >"$TEST_TMP/import.conf"
IMPORT=("$RELAYCTL" import -c "$TEST_TMP/import.conf")

snapshot() {
	sql "SELECT (SELECT count(*) || ':' || coalesce(string_agg(xmin::text || updated_at, ',' ORDER BY id), '') FROM customers)
	         || '/' || (SELECT count(*) || ':' || coalesce(string_agg(xmin::text || updated_at, ',' ORDER BY id), '') FROM targets)"
}

cat >"$TEST_TMP/good.csv" <<'CSV'
customer,address,contact_email,name,locale,access_type,ports,domains
acme,192.0.2.10,abuse@acme.example,"Acme, Inc.",de-AT,business,25;2525,mx.acme.example;acme.example
acme,192.0.2.16/30,abuse@acme.example,,,,,
v6co,2001:db8::25,noc@v6.example,V6 Co,,dsl,,
v6co,2001:db8:1::/126,noc@v6.example,,,,587,
CSV
out=$("${IMPORT[@]}" "$TEST_TMP/good.csv" 2>&1); rc=$?
check_eq "good_csv_exits_0" "$rc" 0
check_contains "good_csv_reports_counts" "$out" "customers_new=2 customers_changed=0 targets_new=10"
check_eq "good_csv_customers" "$(sql "SELECT string_agg(ext_id || '|' || name || '|' || contact_email || '|' || locale || '|' || access_type, ' ' ORDER BY ext_id) FROM customers")" \
	"acme|Acme, Inc.|abuse@acme.example|de-AT|business v6co|V6 Co|noc@v6.example|en|dsl"
check_eq "good_csv_ipv4_target_with_ports_and_domains" \
	"$(sql "SELECT ports::text || domains::text FROM targets WHERE address = '192.0.2.10'")" "{25,2525}{mx.acme.example,acme.example}"
check_eq "good_csv_cidr_expands_to_hosts" \
	"$(sql "SELECT string_agg(host(address), ',' ORDER BY address) FROM targets WHERE address << '192.0.2.16/30'")" \
	"192.0.2.16,192.0.2.17,192.0.2.18,192.0.2.19"
check_eq "good_csv_default_ports_come_from_probe_ports" \
	"$(sql "SELECT ports::text FROM targets WHERE address = '192.0.2.17'")" "{25,587}"
check_eq "good_csv_ipv6_and_ipv6_cidr" \
	"$(sql "SELECT count(*) FROM targets WHERE family(address) = 6 AND customer_id = (SELECT id FROM customers WHERE ext_id = 'v6co')")" 5

check_eq "good_csv_domains_column_fills_the_customers_record_too" \
	"$(sql "SELECT string_agg(ext_id || domains::text, ' ' ORDER BY ext_id) FROM customers")" "acme{mx.acme.example,acme.example} v6co{}"

# -- re-import: nothing changes, not even updated_at or the row versions
before=$(snapshot)
out=$("${IMPORT[@]}" "$TEST_TMP/good.csv" 2>&1); rc=$?
check_eq "reimport_exits_0" "$rc" 0
check_contains "reimport_counts_no_changes" "$out" "customers_new=0 customers_changed=0 targets_new=0 targets_changed=0"
check_eq "reimport_touches_no_row" "$(snapshot)" "$before"

# -- one bad row among good ones: nothing written, its line reported
cat >"$TEST_TMP/onebad.csv" <<'CSV'
customer,address,contact_email
newco,198.51.100.1,abuse@new.example
newco,198.51.100.2,abuse@new.example
newco,198.51.100.300,abuse@new.example
newco,198.51.100.4,abuse@new.example
CSV
before=$(snapshot)
out=$("${IMPORT[@]}" "$TEST_TMP/onebad.csv" 2>&1); rc=$?
check_eq "one_bad_row_exits_1" "$rc" 1
check_contains "one_bad_row_reports_file_and_line" "$out" "$TEST_TMP/onebad.csv:4: address '198.51.100.300'"
check_eq "one_bad_row_writes_nothing" "$(snapshot)" "$before"

# -- every kind of bad row, all reported
cat >"$TEST_TMP/allbad.csv" <<'CSV'
customer,address,contact_email,locale
b1,198.51.100.1,,en
b2,198.51.100.2,not-an-email,en
b3,198.51.100.3,x@b3.example,klingon
b4,198.51.100.0/24,x@b4.example,en
b5,198.51.100.5,x@b5.example,en
b5,198.51.100.6,y@b5.example,en
b7,192.0.2.10,x@b7.example,en
b8,192.0.2.10,x@b8.example,en
CSV
out=$("${IMPORT[@]}" "$TEST_TMP/allbad.csv" 2>&1); rc=$?
check_eq "bad_rows_exit_1" "$rc" 1
check_contains "missing_contact_is_reported" "$out" "allbad.csv:2: missing contact_email"
check_contains "bad_email_is_reported" "$out" "allbad.csv:3: contact_email 'not-an-email'"
check_contains "bad_locale_is_reported" "$out" "allbad.csv:4: locale 'klingon'"
check_contains "cidr_over_import_max_cidr_is_reported" "$out" "allbad.csv:5: address '198.51.100.0/24' expands to more than import_max_cidr = 16"
check_contains "conflicting_contact_is_reported" "$out" "allbad.csv:7: customer b5: contact_email differs from line 6"
check_eq "bad_rows_write_nothing" "$(snapshot)" "$before"
check_eq "parse_errors_are_all_reported" "$(grep -c '^.*allbad.csv:[0-9]*:' <<<"$out")" 5

# Duplicates are found after the parse: an address twice in the file is an error at the later line.
sed -i '2,7d' "$TEST_TMP/allbad.csv"
out=$("${IMPORT[@]}" "$TEST_TMP/allbad.csv" 2>&1); rc=$?
check_eq "duplicate_address_exits_1" "$rc" 1
check_contains "duplicate_address_is_reported_at_the_later_line" "$out" "allbad.csv:3: address 192.0.2.10 is also on line 2"
check_eq "duplicate_address_writes_nothing" "$(snapshot)" "$before"

# -- unknown column
printf 'customer,address,contact_email,colour\nc,192.0.2.99,a@c.example,red\n' >"$TEST_TMP/col.csv"
out=$("${IMPORT[@]}" "$TEST_TMP/col.csv" 2>&1); rc=$?
check_contains "unknown_column_is_reported_on_line_1" "$rc $out" "1 $TEST_TMP/col.csv:1: unknown column 'colour'"

# -- JSON lines, the same fields
cat >"$TEST_TMP/more.jsonl" <<'JSON'
{"customer": "jco", "address": "203.0.113.5", "contact_email": "ops@j.example", "ports": [25, 465], "domains": ["j.example"], "locale": "fr"}

{"customer": "jco", "address": "2001:db8:2::/127", "contact_email": "ops@j.example"}
JSON
# --dry-run first: validated and counted, nothing written
before=$(snapshot)
out=$("${IMPORT[@]}" --dry-run "$TEST_TMP/more.jsonl" 2>&1); rc=$?
check_eq "dry_run_exits_0" "$rc" 0
check_contains "dry_run_counts_what_would_change" "$out" "event=import_checked"
check_contains "dry_run_counts_new_targets" "$out" "targets_new=3"
check_eq "dry_run_writes_nothing" "$(snapshot)" "$before"
out=$("${IMPORT[@]}" --dry-run "$TEST_TMP/onebad.csv" 2>&1); rc=$?
check_contains "dry_run_reports_bad_rows" "$rc $out" "1 $TEST_TMP/onebad.csv:4:"

out=$("${IMPORT[@]}" "$TEST_TMP/more.jsonl" 2>&1); rc=$?
check_eq "jsonl_exits_0" "$rc" 0
check_eq "jsonl_customer_and_targets" \
	"$(sql "SELECT c.locale || ':' || count(t.*) || ':' || max(t.ports::text) FROM customers c JOIN targets t ON t.customer_id = c.id WHERE c.ext_id = 'jco' GROUP BY c.locale")" "fr:3:{25,587}"
printf '{"customer": "x", "address": "203.0.113.9", "contact_email": "a@x.example", "size": 3}\n' >"$TEST_TMP/bad.ndjson"
out=$("${IMPORT[@]}" "$TEST_TMP/bad.ndjson" 2>&1); rc=$?
check_contains "jsonl_unknown_field_is_reported" "$rc $out" "1 $TEST_TMP/bad.ndjson:1: unknown field 'size'"

# -- a changed contact updates that customer only; an omitted name is kept
before_v6=$(sql "SELECT xmin::text FROM customers WHERE ext_id = 'v6co'")
sed 's/abuse@acme.example/security@acme.example/' "$TEST_TMP/good.csv" >"$TEST_TMP/changed.csv"
out=$("${IMPORT[@]}" "$TEST_TMP/changed.csv" 2>&1); rc=$?
check_contains "changed_contact_counts_one_change" "$rc $out" "0 "
check_contains "changed_contact_counts_one_customer" "$out" "customers_changed=1 targets_new=0 targets_changed=0"
check_eq "changed_contact_is_stored" "$(sql "SELECT contact_email || '|' || name FROM customers WHERE ext_id = 'acme'")" "security@acme.example|Acme, Inc."
check_eq "unchanged_customer_is_untouched" "$(sql "SELECT xmin::text FROM customers WHERE ext_id = 'v6co'")" "$before_v6"

# -- an address listed under another customer moves to it
printf 'customer,address,contact_email\nv6co,192.0.2.10,noc@v6.example\n' >"$TEST_TMP/move.csv"
out=$("${IMPORT[@]}" "$TEST_TMP/move.csv" 2>&1); rc=$?
check_eq "moved_address_belongs_to_the_new_customer" \
	"$rc:$(sql "SELECT c.ext_id || ':' || t.ports::text FROM targets t JOIN customers c ON c.id = t.customer_id WHERE t.address = '192.0.2.10'")" "0:v6co:{25,2525}"

# -- the default config limit applies when no -c is given
out=$("$RELAYCTL" import "$TEST_TMP/good.csv" 2>&1); rc=$?
check_eq "import_without_config_file_uses_defaults" "$rc" 0

# -- addresses that are never customer targets are refused with line and reason
#    (outside loopback_only; the documentation ranges above are allowed only there)
printf 'customer,address,contact_email\nhost,0.0.0.0,a@h.example\nhost,255.255.255.255,a@h.example\nhost,224.0.0.0/30,a@h.example\nhost,::,a@h.example\nhost,127.0.0.1,a@h.example\nhost,169.254.0.0/30,a@h.example\nhost,192.0.2.99,a@h.example\n' >"$TEST_TMP/nontarget.csv"
before=$(snapshot)
out=$(RELAYAUDIT_LOOPBACK_ONLY=0 "${IMPORT[@]}" "$TEST_TMP/nontarget.csv" 2>&1); rc=$?
check_eq "non_target_addresses_exit_1" "$rc" 1
for want in "2: address '0.0.0.0': refused, unspecified" "3: address '255.255.255.255': refused, the broadcast address" \
	"4: address '224.0.0.0/30': refused, multicast" "5: address '::': refused, unspecified" \
	"6: address '127.0.0.1': refused, loopback" "7: address '169.254.0.0/30': refused, link-local" \
	"8: address '192.0.2.99': refused, documentation"; do
	check_contains "non_target_refused_line_${want%%:*}" "$out" "$TEST_TMP/nontarget.csv:$want"
done
check_eq "non_target_addresses_write_nothing" "$(snapshot)" "$before"

# -- the IPv4-mapped form is the same host: stored as IPv4, a repeat is a duplicate
printf 'customer,address,contact_email\nmapped,::ffff:192.0.2.15,a@m.example\nmapped,192.0.2.15,a@m.example\n' >"$TEST_TMP/mapped.csv"
out=$("${IMPORT[@]}" "$TEST_TMP/mapped.csv" 2>&1); rc=$?
check_contains "mapped_and_plain_form_are_one_address" "$rc $out" "1 $TEST_TMP/mapped.csv:3: address 192.0.2.15 is also on line 2"
printf 'customer,address,contact_email\nmapped,::ffff:192.0.2.15,a@m.example\n' >"$TEST_TMP/mapped1.csv"
out=$("${IMPORT[@]}" "$TEST_TMP/mapped1.csv" 2>&1); rc=$?
check_eq "mapped_form_is_stored_as_ipv4" "$rc:$(sql "SELECT host(address) FROM targets WHERE address = '192.0.2.15' OR address = '::ffff:192.0.2.15'")" "0:192.0.2.15"

# -- invalid UTF-8 in a name fails the import with its line, not a database error
printf 'customer,address,contact_email,name\nutf,192.0.2.40,a@u.example,Caf\xc3\xa9\nutf2,192.0.2.41,a@u2.example,Caf\xe9 Bar\n' >"$TEST_TMP/latin1.csv"
before=$(snapshot)
out=$("${IMPORT[@]}" "$TEST_TMP/latin1.csv" 2>&1); rc=$?
check_contains "invalid_utf8_is_reported_with_its_line" "$rc $out" "1 $TEST_TMP/latin1.csv:3: name is not valid UTF-8 (byte 4)"
check_eq "invalid_utf8_writes_nothing" "$(snapshot)" "$before"

# -- customer mail domains: the union of the customer's rows, in file order,
#    lower-cased, each once; blanks or ';' separate them
cat >"$TEST_TMP/billing.csv" <<'CSV'
customer,address,contact_email,domains
gf,192.0.2.50,it@grossefirma.example,GrosseFirma.example mail.grossefirma.example
gf,192.0.2.51,it@grossefirma.example,grossefirma.example; Filiale.example
gf,192.0.2.52,it@grossefirma.example,
CSV
out=$("${IMPORT[@]}" "$TEST_TMP/billing.csv" 2>&1); rc=$?
check_eq "billing_export_imports" "$rc" 0
check_eq "customer_domains_are_the_union_of_its_rows_in_file_order" \
	"$(sql "SELECT domains::text FROM customers WHERE ext_id = 'gf'")" "{grossefirma.example,mail.grossefirma.example,filiale.example}"
check_eq "each_target_keeps_its_own_rows_domains" \
	"$(sql "SELECT string_agg(host(address) || domains::text, ' ' ORDER BY address) FROM targets WHERE address << '192.0.2.48/28'")" \
	"192.0.2.50{grossefirma.example,mail.grossefirma.example} 192.0.2.51{grossefirma.example,filiale.example} 192.0.2.52{}"
before=$(snapshot)
out=$("${IMPORT[@]}" "$TEST_TMP/billing.csv" 2>&1)
check_eq "billing_reimport_touches_no_row" "$(snapshot)" "$before"
printf 'customer,address,contact_email\ngf,192.0.2.50,it@grossefirma.example\n' >"$TEST_TMP/nodomains.csv"
out=$("${IMPORT[@]}" "$TEST_TMP/nodomains.csv" 2>&1); rc=$?
check_eq "a_file_without_domains_keeps_the_record" \
	"$rc:$(sql "SELECT domains::text FROM customers WHERE ext_id = 'gf'")" "0:{grossefirma.example,mail.grossefirma.example,filiale.example}"
printf 'customer,address,contact_email,domains\ngf,192.0.2.50,it@grossefirma.example,grossefirma.example\n' >"$TEST_TMP/fewer.csv"
out=$("${IMPORT[@]}" "$TEST_TMP/fewer.csv" 2>&1); rc=$?
check_eq "a_file_naming_fewer_domains_replaces_the_record" \
	"$rc:$(sql "SELECT domains::text FROM customers WHERE ext_id = 'gf'")" "0:{grossefirma.example}"
printf 'customer,address,contact_email,domains\ngf,192.0.2.50,it@grossefirma.example,new.example\ngf,192.0.2.51,it@grossefirma.example,grosse_firma.example\n' >"$TEST_TMP/baddomain.csv"
before=$(snapshot)
out=$("${IMPORT[@]}" "$TEST_TMP/baddomain.csv" 2>&1); rc=$?
check_contains "a_bad_domain_is_reported_with_its_line" "$rc $out" "1 $TEST_TMP/baddomain.csv:3: domain 'grosse_firma.example': holds a character other than"
check_eq "a_bad_domain_writes_nothing" "$(snapshot)" "$before"
