#!/bin/bash
# make deb's package: named relayaudit_<version>_<arch>.deb, its dependencies
# declared, the config a conffile. Installed with dpkg -i into a throwaway
# root (a copy-on-write overlay of this Debian 12 system in a private mount
# namespace: the maintainer scripts really run, nothing reaches the real
# system), it creates its user, enables its units without starting them, and
# relayctl --version and relayctl config check work from the installed files;
# systemd-analyze verify accepts the installed units. Then remove and purge.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
version=$(cat VERSION)
arch=$(dpkg --print-architecture)
# Package what is built, in the variant it was built in (never rebuild bin/ mid-suite).
san=
[ "$(cat build/variant 2>/dev/null)" = san ] && san=1
out=$(SANITIZE=$san deploy/deb/build.sh "$TEST_TMP/deb" 2>&1); rc=$?
check_eq "deb_builds" "$rc" 0
DEB=$TEST_TMP/deb/relayaudit_${version}_$arch.deb
if [ ! -f "$DEB" ]; then fail "deb_is_named_for_version_and_arch" "no $DEB: $out"; exit 0; fi
pass "deb_is_named_for_version_and_arch"

depends=$(dpkg-deb -f "$DEB" Depends)
for lib in libevent-2.1 libpq5 libjansson4 libmicrohttpd12 libc6 adduser; do
	check_contains "deb_depends_on_$lib" "$depends" "$lib"
done
check_eq "deb_version" "$(dpkg-deb -f "$DEB" Version)" "$version"
check_eq "config_is_a_conffile" "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles)" "/etc/relayaudit/relayaudit.conf"
listing=$(dpkg-deb -c "$DEB")
for f in ./usr/bin/relayauditd ./usr/bin/relayctl ./usr/share/relayaudit/migrations/001_schema.sql \
	./usr/share/relayaudit/enforcers/log-only ./usr/share/man/man8/relayctl.8.gz \
	./usr/share/man/man5/relayaudit.conf.5.gz ./lib/systemd/system/relayauditd.service \
	./lib/systemd/system/relayaudit-sweep.timer ./etc/relayaudit/relayaudit.conf; do
	check_contains "deb_holds_${f##*/}" "$listing" " $f"
done
if getent passwd relayaudit >/dev/null; then
	fail "host_has_no_relayaudit_user" "the host already has a relayaudit user; the postinst check below proves nothing"
fi

# The throwaway root: an overlay whose upper layer is a tmpfs in a private
# mount namespace, gone when the namespace ends.
cat >"$TEST_TMP/inroot.sh" <<'INNER'
#!/bin/bash
set -u
ov=$1 deb=$2
mount -t tmpfs tmpfs "$ov" || exit 3
mkdir -p "$ov/up" "$ov/work" "$ov/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/up,workdir=$ov/work" "$ov/root" || exit 4
R=$ov/root
mount -t proc proc "$R/proc"; mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/run"; mount -t tmpfs tmpfs "$R/tmp"
cp "$deb" "$R/tmp/pkg.deb"
inroot() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
inroot dpkg -i /tmp/pkg.deb >"$ov/dpkg-i.log" 2>&1; echo "dpkg_i=$?"
echo "status=$(inroot dpkg-query -W -f='${Status}' relayaudit 2>&1)"
echo "version=$(cd / && inroot relayctl --version 2>&1)"
echo "check_default=$(inroot sh -c 'cd / && relayctl config check >/dev/null 2>&1; echo $?')"
echo "check_enforcer=$(inroot relayctl config check -c /etc/relayaudit/relayaudit.conf 2>&1 | grep '^enforcer_command')"
echo "daemon_version=$(inroot relayauditd --version 2>&1)"
echo "user=$(inroot getent passwd relayaudit | cut -d: -f1,6,7)"
echo "conf_owner=$(inroot stat -c '%U:%G %a' /etc/relayaudit/relayaudit.conf)"
echo "state_owner=$(inroot stat -c '%U:%G %a' /var/lib/relayaudit)"
echo "enabled_daemon=$(readlink "$R/etc/systemd/system/multi-user.target.wants/relayauditd.service")"
echo "enabled_timer=$(readlink "$R/etc/systemd/system/timers.target.wants/relayaudit-sweep.timer")"
echo "verify=$(inroot systemd-analyze verify --man=no /lib/systemd/system/relayauditd.service /lib/systemd/system/relayaudit-sweep.service /lib/systemd/system/relayaudit-sweep.timer 2>&1; echo "rc $?")"
echo "man=$(inroot man -w relayctl 2>&1)"
# An edited conffile survives a reinstall of the same package.
echo "node_name = edited" >>"$R/etc/relayaudit/relayaudit.conf"
inroot dpkg -i --force-confold /tmp/pkg.deb >>"$ov/dpkg-i.log" 2>&1; echo "reinstall=$?"
echo "conf_kept=$(grep -c '^node_name = edited' "$R/etc/relayaudit/relayaudit.conf")"
inroot dpkg -r relayaudit >>"$ov/dpkg-i.log" 2>&1; echo "remove=$?"
echo "removed_bin=$(test -e "$R/usr/bin/relayctl"; echo $?)"
inroot dpkg -P relayaudit >>"$ov/dpkg-i.log" 2>&1; echo "purge=$?"
echo "purged_conf=$(test -e "$R/etc/relayaudit/relayaudit.conf"; echo $?)"
echo "log=$(tail -5 "$ov/dpkg-i.log" | tr '\n' ' ')"
INNER
chmod 755 "$TEST_TMP/inroot.sh"
mkdir -p "$TEST_TMP/ov"
res=$(timeout 300 unshare -m --propagation private "$TEST_TMP/inroot.sh" "$TEST_TMP/ov" "$DEB" 2>&1); rc=$?
if [ $rc -ne 0 ]; then
	fail "throwaway_root_mounts" "unshare/overlay exit $rc: ${res:0:400}"
	exit 0
fi
val() { sed -n "s/^$1=//p" <<<"$res"; }
check_eq "dpkg_i_installs_the_package" "$(val dpkg_i)" 0
[ "$(val dpkg_i)" = 0 ] || echo "   dpkg: $(val log)"
check_eq "package_is_installed_ok" "$(val status)" "install ok installed"
check_eq "installed_relayctl_version" "$(val version)" "relayctl (relayaudit) $version"
check_eq "installed_relayauditd_version" "$(val daemon_version)" "relayauditd (relayaudit) $version"
check_eq "installed_config_check_finds_etc_config" "$(val check_default)" 0
check_contains "installed_config_names_the_packaged_hook" "$(val check_enforcer)" "/usr/share/relayaudit/enforcers/log-only"
check_eq "postinst_creates_the_system_user" "$(val user)" "relayaudit:/var/lib/relayaudit:/usr/sbin/nologin"
check_eq "config_belongs_to_the_user_mode_600" "$(val conf_owner)" "relayaudit:relayaudit 600"
check_eq "state_dir_belongs_to_the_user" "$(val state_owner)" "relayaudit:relayaudit 750"
check_eq "daemon_unit_is_enabled" "$(val enabled_daemon)" "/lib/systemd/system/relayauditd.service"
check_eq "sweep_timer_is_enabled" "$(val enabled_timer)" "/lib/systemd/system/relayaudit-sweep.timer"
check_eq "systemd_analyze_verify_accepts_the_packaged_units" "$(val verify)" "rc 0"
check_eq "man_finds_the_installed_page" "$(val man)" "/usr/share/man/man8/relayctl.8.gz"
check_eq "reinstall_succeeds" "$(val reinstall)" 0
check_eq "reinstall_keeps_the_edited_conffile" "$(val conf_kept)" 1
check_eq "dpkg_r_removes" "$(val remove)" 0
check_eq "remove_deletes_the_binaries" "$(val removed_bin)" 1
check_eq "dpkg_purge_succeeds" "$(val purge)" 0
check_eq "purge_deletes_the_conffile" "$(val purged_conf)" 1
# Nothing reached the real system.
if getent passwd relayaudit >/dev/null || [ -e /usr/bin/relayctl ] || [ -e /etc/relayaudit/relayaudit.conf ]; then
	fail "real_system_untouched" "relayaudit user or files appeared on the host"
else
	pass "real_system_untouched"
fi
