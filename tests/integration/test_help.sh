#!/bin/bash
# Every program and every relayctl subcommand answers --help (and -h) and
# --version on stdout with exit status 0, touching nothing: no database is
# reachable here, so a subcommand that went on to work would fail.
. "$(dirname "$0")/../lib.sh"
# A folder of its own: tests of other groups run beside this one in TEST_TMP.
TEST_TMP=$TEST_TMP/help
mkdir -p "$TEST_TMP"
cd "$TEST_TMP" || exit 1
export RELAYAUDIT_DATABASE="host=$TEST_TMP/no-such-server dbname=none connect_timeout=1"
version=$(cat "$ROOT/VERSION")

# answers NAME WANT_IN_STDOUT CMD...: exit 0, stdout holds WANT, stderr empty.
answers() {
	local name=$1 want=$2 out err rc
	shift 2
	out=$("$@" 2>"$TEST_TMP/err" </dev/null); rc=$?
	err=$(cat "$TEST_TMP/err")
	if [ $rc -ne 0 ]; then fail "$name" "got exit $rc, want 0 (stderr: ${err:0:200})"; return; fi
	if [ -n "$err" ]; then fail "$name" "got stderr '${err:0:200}', want nothing on stderr"; return; fi
	check_contains "$name" "$out" "$want"
}

for prog in relayctl relayauditd relaysim; do
	answers "${prog}_help_on_stdout" "usage: $prog" "$ROOT/bin/$prog" --help
	answers "${prog}_short_help_on_stdout" "usage: $prog" "$ROOT/bin/$prog" -h
	answers "${prog}_version_on_stdout" "$prog (relayaudit) $version" "$ROOT/bin/$prog" --version
done

# The enforcer hooks are programs an operator runs by hand too.
for hook in "$ROOT"/deploy/enforcers/*; do
	h=$(basename "$hook")
	answers "enforcer_${h}_help_on_stdout" "usage: $h" "$hook" --help
	answers "enforcer_${h}_version_on_stdout" "$h (relayaudit" "$hook" --version
done

# The subcommands relayctl lists: a new one is checked without editing this test.
subs=$("$RELAYCTL" --help | sed -n '/^commands:/,$p' | awk 'NR > 1 && NF { print $1 }')
check_contains "relayctl_lists_its_commands" "$(echo $subs)" "config token api migrate import workflow probe sink sweep status"
for s in $subs; do
	answers "relayctl_${s}_help_on_stdout" "usage: relayctl $s" "$RELAYCTL" "$s" --help
	answers "relayctl_${s}_short_help_on_stdout" "usage: relayctl $s" "$RELAYCTL" "$s" -h
	answers "relayctl_${s}_version_on_stdout" "relayctl (relayaudit) $version" "$RELAYCTL" "$s" --version
done
# Second-level commands (token create, config check, ...) answer too.
for s in "token create" "token revoke" "token list" "config check" "config reference" \
	"config example" "api serve" "workflow run"; do
	# shellcheck disable=SC2086
	answers "relayctl_${s// /_}_help_on_stdout" "usage: relayctl ${s%% *}" "$RELAYCTL" $s --help
done

# A mistake still goes to stderr with exit status 2.
"$RELAYCTL" status --bogus >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check_eq "relayctl_bad_option_exits_2" "$rc" 2
check_eq "relayctl_bad_option_prints_nothing_on_stdout" "$(cat "$TEST_TMP/out")" ""
"$RELAYAUDITD" --bogus >"$TEST_TMP/out" 2>"$TEST_TMP/err"; rc=$?
check_eq "relayauditd_bad_option_exits_2" "$rc" 2
check_contains "relayauditd_bad_option_usage_on_stderr" "$(cat "$TEST_TMP/err")" "usage: relayauditd"
