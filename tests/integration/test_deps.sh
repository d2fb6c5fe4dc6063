#!/bin/bash
# A fresh machine: make test, make run and make fuzz install what is missing
# (deploy/install-deps.sh); not as root, the script prints the exact apt-get
# command and fails; with everything present it says nothing.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# make test, make fuzz and make bench run the script before building anything.
# In the variant that is built: even make -n records the variant it is asked
# for (build/variant), and a flip would relink bin/ under the running suite.
san=
[ "$(cat build/variant 2>/dev/null)" = san ] && san=SANITIZE=1
for t in test fuzz bench; do
	first=$(make -n --no-print-directory $san "$t" 2>/dev/null | head -1)
	check_contains "make_${t}_installs_dependencies_first" "$first" "deploy/install-deps.sh"
done
check_contains "make_run_installs_dependencies" "$(cat deploy/run.sh)" "deploy/install-deps.sh"
# CI relies on the make targets alone.
if grep -v '^#' .ci/run | grep -q 'install-deps\|apt-get'; then fail "ci_installs_nothing_itself" "got: $(grep -v '^#' .ci/run | grep 'install-deps\|apt-get')"; else pass "ci_installs_nothing_itself"; fi

# Everything present (this machine ran the suite): silent success, even not as root.
cp deploy/install-deps.sh "$TEST_TMP/install-deps.sh"
chmod 755 "$TEST_TMP" "$TEST_TMP/install-deps.sh"
out=$(nobody "$TEST_TMP/install-deps.sh" 2>&1); rc=$?
check_eq "all_present_exits_0" "$rc" 0
check_eq "all_present_says_nothing" "$out" ""

# A missing package, not as root: the exact command, exit 1, nothing installed.
sed 's/^PACKAGES="$/PACKAGES="\nrelayaudit-test-no-such-package/' deploy/install-deps.sh >"$TEST_TMP/install-deps.sh"
out=$(nobody "$TEST_TMP/install-deps.sh" 2>&1); rc=$?
check_eq "missing_package_as_user_exits_1" "$rc" 1
check_contains "missing_package_as_user_prints_the_command" "$out" "apt-get install -y relayaudit-test-no-such-package"
if [[ $out == *"apt-get install -y relayaudit-test-no-such-package "* ]] || [[ $out == *"-dev"* ]]; then
	fail "only_missing_packages_are_named" "got '$out'"
else
	pass "only_missing_packages_are_named"
fi
