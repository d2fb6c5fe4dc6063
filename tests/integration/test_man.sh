#!/bin/bash
# The man pages render without groff warnings, `man ./man/relayctl.8` works,
# and they name every relayctl command and relayauditd option there is.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
for page in man/relayctl.8 man/relayauditd.8 man/relayaudit.conf.5; do
	n=$(basename "$page")
	if [ ! -f "$page" ]; then fail "${n}_exists" "$page missing"; continue; fi
	warn=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1)
	check_eq "${n}_renders_without_warnings" "$warn" ""
	out=$(MANWIDTH=80 man -l "$page" 2>&1); rc=$?
	check_eq "${n}_man_exits_0" "$rc" 0
	check_contains "${n}_has_a_name_section" "$out" "NAME"
done
# man ./man/relayctl.8 (a path with a slash) as the README says.
out=$(MANWIDTH=200 man ./man/relayctl.8 2>&1); rc=$?
check_eq "man_dot_slash_path_works" "$rc" 0
check_contains "man_dot_slash_path_shows_the_page" "$out" "relayctl - administer relayaudit"

# relayctl(8) documents every command relayctl lists.
page=$(MANWIDTH=200 man -l man/relayctl.8 2>/dev/null)
for s in $("$RELAYCTL" --help | sed -n '/^commands:/,$p' | awk 'NR > 1 && NF { print $1 }'); do
	if grep -qE "^ +$s( |$)" <<<"$page" || grep -qE "^ +config $s" <<<"$page"; then
		pass "relayctl_page_documents_$s"
	else
		fail "relayctl_page_documents_$s" "no '$s' paragraph in man/relayctl.8"
	fi
done
# relayauditd(8) documents every option of relayauditd --help.
page=$(MANWIDTH=200 man -l man/relayauditd.8 2>/dev/null)
for o in $("$RELAYAUDITD" --help | grep -oE -- '--[a-z-]+' | sort -u); do
	check_contains "relayauditd_page_documents_$o" "$page" "$o"
done
