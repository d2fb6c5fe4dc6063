#!/bin/bash
# The OpenAPI document the API serves is lint-clean under Redocly's
# recommended rules (@redocly/cli from npm, run offline): URL-safe unique
# operationIds, a license entry, no warnings. The test installs its node
# dependencies itself (npm ci in tests/openapi) when they are missing.
. "$(dirname "$0")/api_lib.sh"

LINT=$ROOT/tests/openapi
if [ ! -x "$LINT/node_modules/.bin/redocly" ]; then
	# Runs outside the test's network namespace only if the caller allows it; npm ci needs the registry.
	(cd "$LINT" && npm ci --no-audit --no-fund --ignore-scripts >"$TEST_TMP/$SUITE.npm.log" 2>&1) ||
		{ fail redocly_installed "npm ci in tests/openapi failed: $(tail -3 "$TEST_TMP/$SUITE.npm.log")"; exit 1; }
fi
api_migrate || { fail "migrate" "migrations failed"; exit 1; }
api_start 127.0.61.9
curl -s --max-time 10 "$API_BASE/v1/openapi.json" >"$TEST_TMP/$SUITE.json"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
out=$("$LINT/node_modules/.bin/redocly" lint --config "$LINT/redocly.yaml" --format stylish \
	"$TEST_TMP/$SUITE.json" 2>&1)
rc=$?
check_eq redocly_lint_passes "$rc" 0
# Clean means no problem at all: a warning is reported as "LINE:COL  warning  RULE ...".
problems=$(grep -E '^[[:space:]]+[0-9]+:[0-9]+[[:space:]]+(warning|error)' <<<"$out")
if [ -z "$problems" ] && grep -q 'validated in' <<<"$out"; then
	pass openapi_lint_clean
else
	fail openapi_lint_clean "got: $(echo "${problems:-$out}" | head -8 | tr '\n' ' ')"
fi
check_eq operation_ids_url_safe \
	"$(jq -r '[.paths[][] | .operationId | select(test("^[A-Za-z0-9_]+$") | not)] | length' "$TEST_TMP/$SUITE.json")" 0
check_eq operation_ids_unique \
	"$(jq -r '[.paths[][] | .operationId] | (length - (unique | length))' "$TEST_TMP/$SUITE.json")" 0
check_eq openapi_has_a_license "$(jq -r '.info.license.name' "$TEST_TMP/$SUITE.json")" Proprietary
