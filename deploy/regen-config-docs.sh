#!/bin/bash
# Rewrites what is generated from the option table in common/config.c:
# the block of docs/operating.md between the config-reference markers,
# man/relayaudit.conf.5 (from man/relayaudit.conf.5.in) and
# deploy/relayaudit.conf.example. Run after adding or changing an option;
# tests/integration/test_config.sh fails until you do.
#
#   deploy/regen-config-docs.sh          rewrite them in the tree
#   deploy/regen-config-docs.sh DIR      write the three into DIR instead (the test compares)
set -eu
cd "$(dirname "$0")/.."
out=${1:-.}
[ -x bin/relayctl ] || make -s bin/relayctl
mkdir -p "$out/docs" "$out/man" "$out/deploy"
bin/relayctl config example >"$out/deploy/relayaudit.conf.example"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin/relayctl config reference >"$tmp/ref"
awk -v ref="$tmp/ref" '
	/<!-- config-reference:begin -->/ { print; while ((getline l < ref) > 0) print l; skip = 1; next }
	/<!-- config-reference:end -->/ { skip = 0 }
	!skip { print }
' docs/operating.md >"$tmp/operating.md"
mv "$tmp/operating.md" "$out/docs/operating.md"
bin/relayctl config man >"$tmp/options"
awk -v opts="$tmp/options" -v version="$(cat VERSION)" '
	/^\.\\" @OPTIONS@$/ { while ((getline l < opts) > 0) print l; next }
	{ gsub(/@VERSION@/, version); print }
' man/relayaudit.conf.5.in >"$out/man/relayaudit.conf.5"
[ "$out" = . ] && echo "regenerated the docs/operating.md config reference, man/relayaudit.conf.5 and deploy/relayaudit.conf.example"
exit 0
