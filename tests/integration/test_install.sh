#!/bin/bash
# make install PREFIX=...: every file where docs/operating.md says; the
# installed relayctl checks the installed config and migrates from the
# installed share dir, away from the build tree; systemd-analyze verify
# accepts the installed units.
. "$(dirname "$0")/../lib.sh"
PREFIX=$TEST_TMP/prefix
# Install what is built, in the variant it was built in (never rebuild bin/ mid-suite).
san=
[ "$(cat "$ROOT/build/variant" 2>/dev/null)" = san ] && san=SANITIZE=1
out=$(make -C "$ROOT" -s install PREFIX="$PREFIX" $san 2>&1); rc=$?
check_eq "make_install_exits_0" "$rc" 0
[ $rc -eq 0 ] || { echo "$out" | tail -20; exit 0; }
for f in bin/relayctl bin/relayauditd etc/relayaudit/relayaudit.conf \
	share/doc/relayaudit/relayaudit.conf.example share/doc/relayaudit/README.md \
	share/doc/relayaudit/docs/operating.md share/relayaudit/migrations/001_schema.sql \
	share/man/man8/relayctl.8 share/man/man8/relayauditd.8 share/man/man5/relayaudit.conf.5 \
	lib/systemd/system/relayauditd.service lib/systemd/system/relayaudit-sweep.service \
	lib/systemd/system/relayaudit-sweep.timer; do
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
CONF=$PREFIX/etc/relayaudit/relayaudit.conf
check_eq "installed_config_is_mode_600" "$(stat -c %a "$CONF")" 600
cd / || exit 1
out=$("$PREFIX/bin/relayctl" config check -c "$PREFIX/share/doc/relayaudit/relayaudit.conf.example" 2>&1); rc=$?
check_eq "installed_relayctl_checks_the_installed_example" "$rc" 0
# The installed config names the installed hook and the state directory, not the build tree.
out=$("$PREFIX/bin/relayctl" config check -c "$CONF" 2>&1); rc=$?
check_eq "installed_config_is_valid" "$rc" 0
check_contains "installed_config_names_the_installed_enforcer" "$out" "enforcer_command = $PREFIX/share/relayaudit/enforcers/log-only"
check_contains "installed_config_writes_mail_under_var_lib" "$out" "outbox_dir = /var/lib/relayaudit/outbox"
if [[ $out == *"$ROOT"* ]]; then fail "installed_config_does_not_name_the_build_tree" "got '$out'"; else pass "installed_config_does_not_name_the_build_tree"; fi
# A second install keeps the site's config.
echo "node_name = site-edit" >>"$CONF"
make -C "$ROOT" -s install PREFIX="$PREFIX" $san >/dev/null 2>&1
check_contains "reinstall_keeps_the_site_config" "$(cat "$CONF")" "node_name = site-edit"

# The units name the installed programs and config, and systemd accepts them.
UNITS=$PREFIX/lib/systemd/system
check_contains "unit_runs_the_installed_daemon" "$(cat "$UNITS/relayauditd.service")" "ExecStart=$PREFIX/bin/relayauditd -c $CONF"
out=$(cd "$UNITS" && systemd-analyze verify --man=no ./relayauditd.service ./relayaudit-sweep.service ./relayaudit-sweep.timer 2>&1); rc=$?
check_eq "systemd_analyze_verify_exits_0" "$rc" 0
check_eq "systemd_analyze_verify_has_no_complaints" "$out" ""
unit=$(cat "$UNITS/relayauditd.service")
for want in "User=relayaudit" "WorkingDirectory=/var/lib/relayaudit" "ProtectSystem=strict" "PrivateTmp=yes" \
	"NoNewPrivileges=yes" "CapabilityBoundingSet=CAP_NET_BIND_SERVICE" "ReadWritePaths=/var/lib/relayaudit"; do
	if grep -qx "$want" <<<"$unit"; then pass "unit_sets_${want%%=*}"; else fail "unit_sets_${want%%=*}" "relayauditd.service lacks the line '$want'"; fi
done
# Every Exec path is absolute.
rel=$(grep -hE '^Exec[A-Za-z]*=' "$UNITS"/*.service | grep -vE '^Exec[A-Za-z]*=[-+!@:]*/')
check_eq "unit_exec_paths_are_absolute" "$rel" ""
check_contains "timer_starts_the_sweep" "$(systemd-analyze verify --man=no "$UNITS/relayaudit-sweep.timer" 2>&1; cat "$UNITS/relayaudit-sweep.service")" "ExecStart=$PREFIX/bin/relayctl sweep --all"
out=$("$PREFIX/bin/relayctl" migrate --dir "$PREFIX/share/relayaudit/migrations" 2>&1); rc=$?
check_eq "installed_relayctl_migrates_from_the_share_dir" "$rc" 0
check_contains "installed_migrations_are_applied" "$out" "dir=$PREFIX/share/relayaudit/migrations"
out=$("$PREFIX/bin/relayctl" migrate 2>&1); rc=$?
check_contains "installed_relayctl_finds_its_share_dir_by_itself" "$rc $out" "0 "
check_contains "installed_default_dir_is_the_share_dir" "$out" "applied=0 version="
check_contains "installed_default_dir_path" "$out" "dir=$PREFIX/share/relayaudit/migrations"
# The installed config leaves `secret` empty, which the probe role refuses; with one set it is accepted.
out=$("$PREFIX/bin/relayauditd" -n -c "$CONF" 2>&1); rc=$?
check_contains "installed_daemon_asks_for_a_secret" "$rc $out" "1 "
check_contains "installed_daemon_names_the_missing_secret" "$out" "secret"
{ cat "$CONF"; echo "secret = 0123456789abcdef0123456789"; } >"$TEST_TMP/site.conf"
chmod 600 "$TEST_TMP/site.conf"
out=$("$PREFIX/bin/relayauditd" -n -c "$TEST_TMP/site.conf" 2>&1); rc=$?
check_eq "installed_daemon_accepts_the_example_with_a_secret" "$rc" 0

# The dashboard's files: installed, and served by the installed binary from its share dir.
for f in index.html app.js lib.js style.css; do
	if [ -f "$PREFIX/share/relayaudit/web/$f" ]; then pass "installs_web_$f"; else fail "installs_web_$f" "$PREFIX/share/relayaudit/web/$f missing"; fi
done
port=$(random_port)
printf 'api_listen = 127.0.75.2:%s\nsecret = 0123456789abcdef0123456789\nlog_level = info\n' "$port" >"$TEST_TMP/web.conf"
chmod 600 "$TEST_TMP/web.conf"
bg_start "$PREFIX/bin/relayctl" api serve -c "$TEST_TMP/web.conf" 2>"$TEST_TMP/web.log"
wait_for 10 curl -sf -o /dev/null "http://127.0.75.2:$port/v1/openapi.json"
curl -s -o "$TEST_TMP/index.html" "http://127.0.75.2:$port/"
if cmp -s "$TEST_TMP/index.html" "$PREFIX/share/relayaudit/web/index.html"; then
	pass "installed_api_serves_the_installed_dashboard"
else
	fail "installed_api_serves_the_installed_dashboard" "got '$(head -c 200 "$TEST_TMP/index.html")' ($(grep -o 'web=[^ ]*' "$TEST_TMP/web.log"))"
fi
check_contains "installed_api_names_its_web_dir" "$(cat "$TEST_TMP/web.log")" "web=$PREFIX/share/relayaudit/web"
