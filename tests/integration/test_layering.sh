#!/bin/bash
# Layers point one way (shared/STYLE.md): probe-engine includes no libpq,
# jansson or microhttpd header; common includes none either; db includes no HTTP.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1

forbidden() { # forbidden NAME DIR REGEX
	local hits
	hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($3)" "$2"/*.[ch] 2>/dev/null)
	if [ -z "$hits" ]; then pass "$1"; else fail "$1" "got includes: $(echo "$hits" | head -5 | tr '\n' ' ')"; fi
}
forbidden "probe_engine_includes_no_libpq_jansson_microhttpd" probe-engine 'libpq-fe\.h|libpq/|jansson\.h|microhttpd\.h'
forbidden "probe_engine_does_not_call_up" probe-engine '(db|api|auditd)/'
forbidden "common_includes_no_library_headers" common 'libpq-fe\.h|jansson\.h|microhttpd\.h|event2/'
forbidden "db_includes_no_http" db 'microhttpd\.h'
forbidden "db_does_not_include_api_or_auditd" db '(api|auditd)/'
forbidden "workflow_does_not_include_api_daemon_or_ctl" auditd/workflow '(api|auditd/ctl)/|auditd/[a-z_]+\.h'
forbidden "daemon_does_not_include_ctl" auditd 'auditd/ctl/'
# GMime (complaint reports) lives in db/arf_parse.c; the other layers use its results.
for d in common probe-engine api auditd auditd/workflow auditd/ctl; do
	forbidden "only_db_includes_gmime_not_$d" "$d" 'gmime/'
done
# The check itself must be able to fail.
mkdir -p "$TEST_TMP/fake"
echo '#include <libpq-fe.h>' >"$TEST_TMP/fake/x.c"
if grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](libpq-fe\.h)' "$TEST_TMP/fake/x.c"; then
	pass "layering_check_detects_a_forbidden_include"
else
	fail "layering_check_detects_a_forbidden_include" "pattern missed '#include <libpq-fe.h>'"
fi
