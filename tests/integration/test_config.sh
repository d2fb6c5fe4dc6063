#!/bin/bash
# relayctl config check: the effective configuration or each error as
# FILE:LINE; the password-readable warning; the docs/operating.md reference and the
# example config generated from the option table.
. "$(dirname "$0")/../lib.sh"
cd "$TEST_TMP" || exit 1
unset RELAYAUDIT_DATABASE
C=$TEST_TMP/relayaudit.conf

cat >"$C" <<'CONF'
# a comment
probe_rate = 50
probe_timeout = 2m
roles = probe, sink
CONF
out=$("$RELAYCTL" config check -c "$C" 2>&1); rc=$?
check_eq "good_file_exits_0" "$rc" 0
check_contains "effective_value_with_its_origin" "$out" "probe_rate = 50  # $C:2"
check_contains "list_is_normalised" "$out" "roles = probe,sink  # $C:4"
check_contains "default_is_marked" "$out" "probe_concurrency = 1000  # default"

cat >"$C" <<'CONF'
probe_rate = 50
probe_sped = 3
probe_concurrency = 0
probe_timeout = soon
probe_rate = 60
api_listen = nowhere
CONF
out=$("$RELAYCTL" config check -c "$C" 2>&1); rc=$?
check_eq "bad_file_exits_1" "$rc" 1
check_contains "unknown_key_has_file_and_line" "$out" "$C:2: unknown option 'probe_sped'"
check_contains "out_of_range_has_file_and_line" "$out" "$C:3: probe_concurrency = '0': want a whole number in 1..100000"
check_contains "bad_value_has_file_and_line" "$out" "$C:4: probe_timeout = 'soon': want a duration"
check_contains "duplicate_has_file_and_line" "$out" "$C:5: probe_rate is already set at line 1"
check_contains "bad_address_has_file_and_line" "$out" "$C:6: api_listen = 'nowhere'"
check_contains "error_count_is_reported" "$out" "$C: 5 errors"
out=$("$RELAYAUDITD" -n -c "$C" 2>&1); rc=$?
check_eq "daemon_refuses_a_bad_file" "$rc" 1

# A rejected secret or password is named, never echoed.
printf 'secret = hunter2-short\ndatabase = host=/nowhere password=pw-hunter3 port=x\nprobe_rate = x\n' >"$C"
chmod 600 "$C"
out=$("$RELAYCTL" config check -c "$C" 2>&1); rc=$?
check_contains "rejected_secret_is_named" "$rc $out" "1 $C:1: secret = '(secret, not shown)': at least 16 characters"
check_eq "rejected_secret_is_never_echoed" "$(grep -c 'hunter2-short\|pw-hunter3' <<<"$out")" 0

# A file holding a secret or password that others can read gets a warning.
printf 'secret = 0123456789abcdef0123\n' >"$C"
chmod 644 "$C"
out=$("$RELAYCTL" config check -c "$C" 2>&1); rc=$?
check_contains "readable_secret_warns" "$rc $out" "0 "
check_contains "readable_secret_warning_names_the_file" "$out" "event=config_readable file=$C"
check_contains "secret_is_masked" "$out" "secret = ********"
chmod 600 "$C"
out=$("$RELAYCTL" config check -c "$C" 2>&1)
if [[ $out == *config_readable* ]]; then fail "private_secret_does_not_warn" "got '$out'"; else pass "private_secret_does_not_warn"; fi
printf 'database = host=/tmp dbname=x password=hunter2\n' >"$C"
chmod 640 "$C"
out=$("$RELAYCTL" config check -c "$C" 2>&1)
check_contains "readable_password_warns" "$out" "event=config_readable"
if [[ $out == *hunter2* ]]; then fail "password_is_masked" "got '$out'"; else pass "password_is_masked"; fi

printf 'database = postgresql://audit:hunter3@db.example/relayaudit\n' >"$C"
chmod 644 "$C"
out=$("$RELAYCTL" config check -c "$C" 2>&1)
check_contains "readable_uri_password_warns" "$out" "event=config_readable"
if [[ $out == *hunter3* ]]; then fail "uri_password_is_masked" "got '$out'"; else pass "uri_password_is_masked"; fi

# RELAYAUDIT_DATABASE is the database when the file sets none.
: >"$C"
out=$(RELAYAUDIT_DATABASE="host=/x dbname=y" "$RELAYCTL" config check -c "$C" 2>&1)
check_contains "database_from_environment" "$out" "database = host=/x dbname=y  # env RELAYAUDIT_DATABASE"

# The reference in docs/operating.md and the example config are the option table.
"$RELAYCTL" config reference >"$TEST_TMP/ref.md"
sed -n '/<!-- config-reference:begin -->/,/<!-- config-reference:end -->/p' "$ROOT/docs/operating.md" | sed '1d;$d' >"$TEST_TMP/guide-ref.md"
if diff -u "$TEST_TMP/guide-ref.md" "$TEST_TMP/ref.md" >"$TEST_TMP/ref.diff"; then
	pass "operating_guide_reference_matches_the_option_table"
else
	fail "operating_guide_reference_matches_the_option_table" "docs/operating.md differs from 'relayctl config reference' (run deploy/regen-config-docs.sh): $(head -c 600 "$TEST_TMP/ref.diff")"
fi
# relayaudit.conf(5) is generated from the same table (with man/relayaudit.conf.5.in).
"$ROOT/deploy/regen-config-docs.sh" "$TEST_TMP/gen" >/dev/null 2>&1
if diff -u "$ROOT/man/relayaudit.conf.5" "$TEST_TMP/gen/man/relayaudit.conf.5" >"$TEST_TMP/man.diff"; then
	pass "man_page_matches_the_option_table"
else
	fail "man_page_matches_the_option_table" "man/relayaudit.conf.5 differs (run deploy/regen-config-docs.sh): $(head -c 600 "$TEST_TMP/man.diff")"
fi
nman=$(awk '/^\.SH/ { in_opts = ($2 == "OPTIONS") } in_opts && /^\.TP$/ { n++ } END { print n + 0 }' "$ROOT/man/relayaudit.conf.5")
check_eq "man_page_names_every_option" "$nman" "$("$RELAYCTL" config reference | grep -c '^| `')"
"$RELAYCTL" config example >"$TEST_TMP/example.conf"
if diff -u "$ROOT/deploy/relayaudit.conf.example" "$TEST_TMP/example.conf" >"$TEST_TMP/ex.diff"; then
	pass "example_config_matches_the_option_table"
else
	fail "example_config_matches_the_option_table" "deploy/relayaudit.conf.example differs (run deploy/regen-config-docs.sh): $(head -c 600 "$TEST_TMP/ex.diff")"
fi
nopts=$("$RELAYCTL" config reference | grep -c '^| `')
check_eq "example_config_names_every_option" "$(grep -cE '^#[a-z_]+ =' "$ROOT/deploy/relayaudit.conf.example")" "$nopts"
# Uncommented, the example is a valid file of defaults.
sed -E 's/^#([a-z_]+ =)/\1/' "$ROOT/deploy/relayaudit.conf.example" >"$TEST_TMP/uncommented.conf"
out=$("$RELAYCTL" config check -c "$TEST_TMP/uncommented.conf" 2>&1); rc=$?
check_eq "uncommented_example_is_valid" "$rc" 0
