#!/bin/bash
# make install PREFIX=...: the installed relayctl checks the installed example
# config and migrates from the installed share dir, away from the build tree.
. "$(dirname "$0")/../lib.sh"
PREFIX=$TEST_TMP/prefix
# Install what is built, in the variant it was built in (never rebuild bin/ mid-suite).
san=
[ "$(cat "$ROOT/build/variant" 2>/dev/null)" = san ] && san=SANITIZE=1
out=$(make -C "$ROOT" -s install PREFIX="$PREFIX" $san 2>&1); rc=$?
check_eq "make_install_exits_0" "$rc" 0
[ $rc -eq 0 ] || { echo "$out" | tail -20; exit 0; }
for f in bin/relayctl bin/relayauditd etc/relayaudit.conf.example share/relayaudit/migrations/001_schema.sql; do
	if [ -f "$PREFIX/$f" ]; then pass "installs_$(basename "$f")"; else fail "installs_$(basename "$f")" "$PREFIX/$f missing"; fi
done
for f in "$ROOT"/deploy/enforcers/*; do
	[ -f "$f" ] || continue
	n=$(basename "$f")
	if [ -x "$PREFIX/share/relayaudit/enforcers/$n" ]; then pass "installs_enforcer_$n"; else fail "installs_enforcer_$n" "$PREFIX/share/relayaudit/enforcers/$n missing or not executable"; fi
done
for lc in en de nl fr; do
	for f in "$ROOT"/templates/$lc/*.txt; do
		[ -f "$PREFIX/share/relayaudit/templates/$lc/$(basename "$f")" ] || { fail "installs_templates_$lc" "$PREFIX/share/relayaudit/templates/$lc/$(basename "$f") missing"; continue 2; }
	done
	pass "installs_templates_$lc"
done
check_eq "installed_example_is_not_world_readable" "$(stat -c %a "$PREFIX/etc/relayaudit.conf.example")" 640
cd / || exit 1
out=$("$PREFIX/bin/relayctl" config check -c "$PREFIX/etc/relayaudit.conf.example" 2>&1); rc=$?
check_eq "installed_relayctl_checks_the_installed_example" "$rc" 0
out=$("$PREFIX/bin/relayctl" migrate --dir "$PREFIX/share/relayaudit/migrations" 2>&1); rc=$?
check_eq "installed_relayctl_migrates_from_the_share_dir" "$rc" 0
check_contains "installed_migrations_are_applied" "$out" "dir=$PREFIX/share/relayaudit/migrations"
out=$("$PREFIX/bin/relayctl" migrate 2>&1); rc=$?
check_contains "installed_relayctl_finds_its_share_dir_by_itself" "$rc $out" "0 "
check_contains "installed_default_dir_is_the_share_dir" "$out" "applied=0 version="
check_contains "installed_default_dir_path" "$out" "dir=$PREFIX/share/relayaudit/migrations"
# The example leaves `secret` empty, which the probe role refuses; with one set it is accepted.
out=$("$PREFIX/bin/relayauditd" -n -c "$PREFIX/etc/relayaudit.conf.example" 2>&1); rc=$?
check_contains "installed_daemon_asks_for_a_secret" "$rc $out" "1 "
check_contains "installed_daemon_names_the_missing_secret" "$out" "secret"
{ cat "$PREFIX/etc/relayaudit.conf.example"; echo "secret = 0123456789abcdef0123456789"; } >"$TEST_TMP/site.conf"
chmod 600 "$TEST_TMP/site.conf"
out=$("$PREFIX/bin/relayauditd" -n -c "$TEST_TMP/site.conf" 2>&1); rc=$?
check_eq "installed_daemon_accepts_the_example_with_a_secret" "$rc" 0
