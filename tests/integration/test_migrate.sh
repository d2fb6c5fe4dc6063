#!/bin/bash
# relayctl migrate against a real PostgreSQL: from empty, twice, two at once,
# a broken file rolled back with file and line, a changed applied file.
. "$(dirname "$0")/../lib.sh"
cd "$TEST_TMP" || exit 1  # keep any relayaudit.conf of the build tree out of the way
NFILES=$(ls "$ROOT"/migrations/[0-9]*_*.sql | wc -l)
MAXV=$(ls "$ROOT"/migrations/[0-9]*_*.sql | sed 's#.*/##; s#_.*##' | sort -n | tail -1 | sed 's/^0*//')

# -- from empty
out=$("$RELAYCTL" migrate 2>&1); rc=$?
check_eq "migrate_from_empty_exits_0" "$rc" 0
check_eq "migrate_from_empty_records_every_file" "$(sql 'SELECT count(*) FROM schema_migrations')" "$NFILES"
check_eq "migrate_from_empty_creates_the_model" \
	"$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN
	       ('customers','targets','probes','probe_attempts','sink_receipts','cases','case_events',
	        'outbox','enforcement_actions','complaints','api_tokens','sweeps')")" 12
check_contains "migrate_logs_what_it_applied" "$out" "event=migrate_done applied=$NFILES version=$MAXV"
check_eq "schema_migrations_has_name_and_checksum" \
	"$(sql "SELECT name || ':' || length(checksum) FROM schema_migrations WHERE version = 1")" "schema:64"

# -- twice: nothing to do, nothing touched
before=$(sql "SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM schema_migrations")
out=$("$RELAYCTL" migrate 2>&1); rc=$?
check_eq "migrate_twice_exits_0" "$rc" 0
check_contains "migrate_twice_applies_nothing" "$out" "applied=0"
check_eq "migrate_twice_leaves_schema_migrations_alone" \
	"$(sql "SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM schema_migrations")" "$before"

out=$("$RELAYCTL" migrate --status 2>&1); rc=$?
check_eq "status_when_up_to_date_exits_0" "$rc" 0
check_contains "status_lists_applied" "$out" "001  schema"

# -- a temp migrations dir: the real ones plus a broken file
MDIR=$TEST_TMP/migrations
mkdir -p "$MDIR" && cp "$ROOT"/migrations/*.sql "$MDIR"/
cat >"$MDIR/900_broken.sql" <<'SQL'
-- a comment; with a semicolon
CREATE TABLE broken_before (id integer);
INSERT INTO broken_before VALUES (1);
SELECT 1,
       no_such_column
  FROM broken_before;
CREATE TABLE broken_after (id integer);
SQL
out=$("$RELAYCTL" migrate --status --dir "$MDIR" 2>&1); rc=$?
check_eq "status_with_pending_exits_1" "$rc" 1
check_contains "status_lists_pending" "$out" "900  broken                       pending"
out=$("$RELAYCTL" migrate --dir "$MDIR" 2>&1); rc=$?
check_eq "broken_migration_exits_1" "$rc" 1
check_contains "broken_migration_names_file_and_line" "$out" "file=$MDIR/900_broken.sql line=5"
check_contains "broken_migration_says_why" "$out" "no_such_column"
check_eq "broken_migration_is_rolled_back" "$(sql "SELECT to_regclass('broken_before') IS NULL")" t
check_eq "broken_migration_leaves_the_previous_version" "$(sql 'SELECT max(version) FROM schema_migrations')" "$MAXV"

# A runtime error without a position points at its statement's first line.
printf 'CREATE TABLE broken_before (id integer);\n\n\nCREATE TABLE customers (id integer);\n' >"$MDIR/900_broken.sql"
out=$("$RELAYCTL" migrate --dir "$MDIR" 2>&1)
check_contains "error_without_position_names_the_statement_line" "$out" "900_broken.sql line=4"

printf 'CREATE TABLE broken_before (id integer);\nCOMMIT;\n' >"$MDIR/900_broken.sql"
out=$("$RELAYCTL" migrate --dir "$MDIR" 2>&1)
check_contains "commit_inside_a_migration_is_refused_with_its_line" "$out" "900_broken.sql line=2 error=\"transaction control"

printf 'CREATE TABLE later_ok (id integer);\n' >"$MDIR/900_broken.sql"
out=$("$RELAYCTL" migrate --dir "$MDIR" 2>&1); rc=$?
check_eq "fixed_migration_applies" "$rc:$(sql "SELECT to_regclass('later_ok') IS NOT NULL")" "0:t"

# -- an applied file edited afterwards is refused
echo "-- edited" >>"$MDIR/900_broken.sql"
out=$("$RELAYCTL" migrate --dir "$MDIR" 2>&1); rc=$?
check_eq "changed_applied_migration_exits_1" "$rc" 1
check_contains "changed_applied_migration_is_named" "$out" "900_broken.sql error=\"applied migration changed"

# -- two processes at once: both wait on the advisory lock, one applies, the other finds nothing
DB2=$(new_database conc)
mkfifo "$TEST_TMP/lockfifo"
psql -X -q "$DB2" <"$TEST_TMP/lockfifo" >/dev/null 2>&1 &
holder=$!
exec 7>"$TEST_TMP/lockfifo"
echo "SELECT pg_advisory_lock(1919249505);" >&7
lock_waiters() {
	psql -X -t -A "$DB2" -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND objid = 1919249505 AND NOT granted"
}
wait_for 10 test "$(psql -X -t -A "$DB2" -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 1919249505 AND granted")" = 1
RELAYAUDIT_DATABASE=$DB2 "$RELAYCTL" migrate >"$TEST_TMP/m1.out" 2>&1 &
p1=$!
RELAYAUDIT_DATABASE=$DB2 "$RELAYCTL" migrate >"$TEST_TMP/m2.out" 2>&1 &
p2=$!
wait_for 10 test "$(lock_waiters)" = 2
check_eq "concurrent_migrations_wait_for_the_lock" "$(lock_waiters)" 2
echo "SELECT pg_advisory_unlock(1919249505);" >&7
exec 7>&-
wait $p1; r1=$?
wait $p2; r2=$?
wait $holder
check_eq "concurrent_migrations_both_exit_0" "$r1:$r2" "0:0"
applied=$(cat "$TEST_TMP/m1.out" "$TEST_TMP/m2.out" | grep -o 'event=migrate_done applied=[0-9]*' | sed 's/.*=//' | sort -n | tr '\n' ' ')
check_eq "concurrent_migrations_one_applies_the_other_finds_nothing" "$applied" "0 $NFILES "
check_eq "concurrent_migrations_record_each_version_once" \
	"$(psql -X -t -A "$DB2" -c 'SELECT count(*), count(DISTINCT version) FROM schema_migrations')" "$NFILES|$NFILES"

# And with no lock holder at all: two racing processes still end in one schema.
DB3=$(new_database race)
RELAYAUDIT_DATABASE=$DB3 "$RELAYCTL" migrate >/dev/null 2>&1 & p1=$!
RELAYAUDIT_DATABASE=$DB3 "$RELAYCTL" migrate >/dev/null 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
check_eq "racing_migrations_both_succeed" "$r1:$r2:$(psql -X -t -A "$DB3" -c 'SELECT count(*) FROM schema_migrations')" "0:0:$NFILES"

# -- connection errors name the server but never the password
out=$(RELAYAUDIT_DATABASE="host=$TEST_TMP/nowhere dbname=x user=u password=hunter2" "$RELAYCTL" migrate 2>&1); rc=$?
check_eq "unreachable_database_exits_1" "$rc" 1
check_contains "unreachable_database_names_the_conninfo" "$out" "host=$TEST_TMP/nowhere"
if [[ $out == *hunter2* ]]; then fail "connect_error_hides_the_password" "got '$out'"; else pass "connect_error_hides_the_password"; fi
