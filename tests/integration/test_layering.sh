#!/bin/bash
# Layers point one way (shared/STYLE.md). The linker proves the calls: make's
# layercheck links every layer's archive whole against only the layers it may
# call (DEPS_<layer> in the Makefile), so an upward or sideways call fails the
# build; here a deliberate one must fail it. The includes of third-party
# headers are checked by grep: probe-engine includes no libpq, jansson or
# microhttpd header; common includes none either; db includes no HTTP.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1

forbidden() { # forbidden NAME DIR REGEX
	local hits
	hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($3)" "$2"/*.[ch] 2>/dev/null)
	if [ -z "$hits" ]; then pass "$1"; else fail "$1" "got includes: $(echo "$hits" | head -5 | tr '\n' ' ')"; fi
}
forbidden "probe_engine_includes_no_libpq_jansson_microhttpd" probe-engine 'libpq-fe\.h|libpq/|jansson\.h|microhttpd\.h'
forbidden "common_includes_no_library_headers" common 'libpq-fe\.h|jansson\.h|microhttpd\.h|event2/'
forbidden "db_includes_no_http" db 'microhttpd\.h'
# GMime (complaint reports) lives in db/arf_parse.c; the other layers use its results.
for d in common probe-engine api auditd auditd/workflow auditd/ctl; do
	forbidden "only_db_includes_gmime_not_$d" "$d" 'gmime/'
done

# The link check, driven through make exactly as the build runs it.
SAN=; [ "$(cat build/variant 2>/dev/null)" = san ] && SAN=1
layercheck() { # layercheck LAYER [INJECT_OBJECT]: make's output, exit status kept
	local dir="$TEST_TMP/lc-$1${2:+-injected}"
	make -s SANITIZE=$SAN LAYERCHECK_DIR="$dir" ${2:+INJECT_$1=$2} "$dir/$1" 2>&1
}
printf '%s\n' 'extern void *db_connect(const char *);' \
	'void *probe_calls_up(void) { return db_connect(""); }' >"$TEST_TMP/up.c"
printf '%s\n' 'extern int api_role_start(const void *, const char *);' \
	'int workflow_calls_sideways(void) { return api_role_start(0, ""); }' >"$TEST_TMP/side.c"
${CC:-cc} -c -o "$TEST_TMP/up.o" "$TEST_TMP/up.c" && ${CC:-cc} -c -o "$TEST_TMP/side.o" "$TEST_TMP/side.c" ||
	fail "layercheck_objects_compile" "cc failed"
for l in probe workflow; do
	out=$(layercheck $l); rc=$?
	check_eq "layercheck_${l}_links_against_its_deps" "$rc" 0
done
out=$(layercheck probe "$TEST_TMP/up.o"); rc=$?
check_eq "probe_engine_calling_db_fails_the_build" "$rc" 2
check_contains "probe_engine_calling_db_names_the_symbol" "$out" "undefined reference to \`db_connect'"
out=$(layercheck workflow "$TEST_TMP/side.o"); rc=$?
check_eq "workflow_calling_api_fails_the_build" "$rc" 2
check_contains "workflow_calling_api_names_the_symbol" "$out" "undefined reference to \`api_role_start'"

# Verdicts are one table (probe-engine/result.c): every other file works with the
# enum, so no string comparison names a verdict or compares a verdict variable
# ("closed", "error" and the like are also case states and SMTP outcomes).
VERDICT_CMP='str(n|case|ncase)?cmp[[:space:]]*\([^;]*(verdict|"(no_smtp|rejected_banner|accepted_not_relayed|relay_confirmed)")'
verdict_cmps() { # verdict_cmps FILE...: the offending lines
	grep -nE "$VERDICT_CMP" "$@" 2>/dev/null
}
hits=$(verdict_cmps $(git ls-files '*.c' '*.h' | grep -vE '^(tests/|probe-engine/result\.c$)'))
if [ -z "$hits" ]; then pass "no_verdict_name_compared_outside_the_verdict_table"
else fail "no_verdict_name_compared_outside_the_verdict_table" "got: $(echo "$hits" | head -5 | tr '\n' ' ')"; fi
mkdir -p "$TEST_TMP/fake"
printf '%s\n' 'if (strcmp(p->verdict, "closed") == 0)' 'x = strcmp(v, "relay_confirmed");' \
	'if (strcmp(state, "closed") == 0)' 'if (strcmp(a->verdict, b->verdict) == 0)' >"$TEST_TMP/fake/v.c"
check_eq "verdict_check_finds_compared_names" "$(verdict_cmps "$TEST_TMP/fake/v.c" | cut -d: -f1 | tr '\n' ' ')" "1 2 4 "
# A re-test request is written once (db/retests.c), for the API, the link and the workflow.
hits=$(git ls-files '*.c' '*.h' | grep -vE '^(tests/|db/retests\.c$)' | xargs grep -nE 'INSERT[[:space:]]+INTO[[:space:]]+retest_requests')
if [ -z "$hits" ]; then pass "retest_request_sql_only_in_db_retests"
else fail "retest_request_sql_only_in_db_retests" "got: $(echo "$hits" | head -5 | tr '\n' ' ')"; fi
# The API and the daemon's and relayctl's code read results through db/ (pstmt_text,
# pstmt_rows, domain functions), never libpq's.
hits=$(grep -nE '\bPGresult\b|\bPQ(exec|getvalue|ntuples|clear|nfields|getisnull|cmdTuples)' api/*.[ch])
if [ -z "$hits" ]; then pass "api_touches_no_pgresult"
else fail "api_touches_no_pgresult" "got: $(echo "$hits" | head -5 | tr '\n' ' ')"; fi
hits=$(git ls-files 'auditd/*.c' 'auditd/*.h' | xargs grep -nE '\bPGresult\b|\bPQ(exec|getvalue|ntuples|clear|nfields|getisnull|cmdTuples)')
if [ -z "$hits" ]; then pass "auditd_and_relayctl_touch_no_pgresult"
else fail "auditd_and_relayctl_touch_no_pgresult" "got: $(echo "$hits" | head -5 | tr '\n' ' ')"; fi
# The check itself must be able to fail.
mkdir -p "$TEST_TMP/fake"
echo '#include <libpq-fe.h>' >"$TEST_TMP/fake/x.c"
if grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](libpq-fe\.h)' "$TEST_TMP/fake/x.c"; then
	pass "layering_check_detects_a_forbidden_include"
else
	fail "layering_check_detects_a_forbidden_include" "pattern missed '#include <libpq-fe.h>'"
fi
