#!/bin/bash
# Rewrites what is generated from the option table in common/config.c:
# the block of docs/operating.md between the config-reference markers and
# deploy/relayaudit.conf.example. Run after adding or changing an option;
# tests/integration/test_config.sh fails until you do.
set -eu
cd "$(dirname "$0")/.."
[ -x bin/relayctl ] || make -s bin/relayctl
bin/relayctl config example >deploy/relayaudit.conf.example
ref=$(mktemp)
trap 'rm -f "$ref"' EXIT
bin/relayctl config reference >"$ref"
awk -v ref="$ref" '
	/<!-- config-reference:begin -->/ { print; while ((getline l < ref) > 0) print l; skip = 1; next }
	/<!-- config-reference:end -->/ { skip = 0 }
	!skip { print }
' docs/operating.md >docs/operating.md.new
mv docs/operating.md.new docs/operating.md
echo "regenerated the docs/operating.md config reference and deploy/relayaudit.conf.example"
