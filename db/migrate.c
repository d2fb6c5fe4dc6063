/*
 * relayctl migrate: reads migrations/NNN_*.sql, compares them with
 * schema_migrations and applies the pending ones statement by statement so
 * a failure names the file and line it came from.
 */
#include "db/migrate.h"
#include "common/hmac.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"
#include "db/sql_script.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_MAX_FILES 10000
#define MIGRATE_MAX_SIZE (16 * 1024 * 1024)

struct migration {
	int version;
	char *file; /* base name */
	char *name; /* between "NNN_" and ".sql" */
	char *path;
	char checksum[2 * SHA256_LEN + 1];
	char *sql;
	size_t len;
	/* From schema_migrations. */
	bool applied;
	char *applied_checksum;
	char *applied_at;
};

struct migration_set {
	struct migration *v;
	size_t n;
	bool locked;
};

static void
migration_set_free(struct migration_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i].file);
		free(set->v[i].name);
		free(set->v[i].path);
		free(set->v[i].sql);
		free(set->v[i].applied_checksum);
		free(set->v[i].applied_at);
	}
	free(set->v);
}

static int
migration_cmp(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* "NNN_name.sql" -> version and name; -1 for files that are not migrations. */
static int
migration_parse_name(const char *file, int *version, char **name)
{
	size_t len = strlen(file), digits = strspn(file, "0123456789");
	int64_t v;
	char num[16];

	if (digits == 0 || digits >= sizeof(num) || file[digits] != '_' || len < digits + 6 ||
	    strcmp(file + len - 4, ".sql") != 0)
		return -1;
	memcpy(num, file, digits);
	num[digits] = '\0';
	/* parse_i64 is decimal, so leading zeros are fine. */
	if (parse_i64(num, 1, 999999, &v) < 0)
		return -1;
	*version = (int)v;
	*name = xstrndup(file + digits + 1, len - digits - 5);
	return 0;
}

static int
migration_read(struct migration *m)
{
	FILE *f = fopen(m->path, "rb");
	uint8_t sum[SHA256_LEN];
	size_t cap = 8192;

	if (f == NULL) {
		log_error("migrate_failed", "file=%s error=\"%s\"", m->path, strerror(errno));
		return -1;
	}
	m->sql = xmalloc(cap + 1);
	m->len = 0;
	for (;;) {
		size_t got = fread(m->sql + m->len, 1, cap - m->len, f);

		m->len += got;
		if (m->len < cap)
			break;
		if (cap >= MIGRATE_MAX_SIZE) {
			fclose(f);
			log_error("migrate_failed", "file=%s error=\"larger than %d bytes\"",
			          m->path, MIGRATE_MAX_SIZE);
			return -1;
		}
		cap *= 2;
		m->sql = xrealloc(m->sql, cap + 1);
	}
	fclose(f);
	m->sql[m->len] = '\0';
	sha256(m->sql, m->len, sum);
	hex_encode(sum, sizeof(sum), m->checksum);
	return 0;
}

/* Reads every NNN_*.sql in dir, sorted by version; duplicates are an error. */
static int
migration_scan(const char *dir, struct migration_set *set)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	memset(set, 0, sizeof(*set));
	if (d == NULL) {
		log_error("migrate_failed", "dir=%s error=\"%s\"", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct migration m = {0};

		if (migration_parse_name(de->d_name, &m.version, &m.name) < 0)
			continue;
		if (set->n == MIGRATE_MAX_FILES) {
			free(m.name);
			break;
		}
		if (set->n == cap) {
			cap = cap ? 2 * cap : 16;
			set->v = xrealloc(set->v, cap * sizeof(*set->v));
		}
		m.file = xstrdup(de->d_name);
		m.path = xasprintf("%s/%s", dir, de->d_name);
		set->v[set->n++] = m;
	}
	closedir(d);
	qsort(set->v, set->n, sizeof(*set->v), migration_cmp);
	for (size_t i = 0; i < set->n; i++) {
		if (i > 0 && set->v[i].version == set->v[i - 1].version) {
			log_error("migrate_failed",
			          "dir=%s error=\"two migrations share version %d: %s and %s\"",
			          dir, set->v[i].version, set->v[i - 1].file, set->v[i].file);
			return -1;
		}
		if (migration_read(&set->v[i]) < 0)
			return -1;
	}
	return 0;
}

static const char create_table_sql[] = "CREATE TABLE schema_migrations ("
                                       " version integer PRIMARY KEY,"
                                       " name text NOT NULL,"
                                       " checksum text NOT NULL,"
                                       " applied_at timestamptz NOT NULL DEFAULT now())";

/*
 * Marks which files are applied; versions in the database that no file
 * holds are logged (a newer node migrated further) and counted in *unknown.
 */
static int
migration_load_applied(PGconn *conn, struct migration_set *set, FILE *status_out)
{
	PGresult *res = db_exec(conn, "migrate_applied",
	                        "SELECT version, name, checksum, "
	                        "to_char(applied_at AT TIME ZONE 'UTC', "
	                        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	                        "FROM schema_migrations ORDER BY version",
	                        0, NULL);

	if (res == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t version;
		struct migration *m = NULL;

		if (parse_i64(PQgetvalue(res, r, 0), 0, 999999, &version) < 0)
			continue;
		for (size_t i = 0; i < set->n; i++) {
			if (set->v[i].version == version)
				m = &set->v[i];
		}
		if (m == NULL) {
			if (status_out != NULL)
				fprintf(status_out, "%03d  %-28s %-8s %s\n", (int)version,
				        PQgetvalue(res, r, 1), "unknown", PQgetvalue(res, r, 3));
			else
				log_warn("migration_unknown",
				         "version=%d name=%s reason=\"applied in the database "
				         "but no file here holds it\"",
				         (int)version, PQgetvalue(res, r, 1));
			continue;
		}
		m->applied = true;
		m->applied_checksum = xstrdup(PQgetvalue(res, r, 2));
		m->applied_at = xstrdup(PQgetvalue(res, r, 3));
	}
	PQclear(res);
	return 0;
}

static int
migration_report_failure(const struct migration *m, const struct sql_stmt *stmt, PGresult *res,
                         PGconn *conn)
{
	const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	int64_t position = 0;
	char msg[512], det[512];

	if (pos != NULL && parse_i64(pos, 0, INT32_MAX, &position) < 0)
		position = 0;
	db_message_clean(res ? db_result_message(res) : PQerrorMessage(conn), msg, sizeof(msg));
	db_message_clean(detail, det, sizeof(det));
	log_error("migrate_failed",
	          "file=%s line=%d sqlstate=%s error=\"%s\"%s%s%s rolled_back=yes", m->path,
	          sql_script_line_at(m->sql, stmt, (int)position), state ? state : "-", msg,
	          *det ? " detail=\"" : "", det, *det ? "\"" : "");
	return -1;
}

/* One migration in one transaction; on failure everything it did is rolled back. */
static int
migration_apply_one(PGconn *conn, struct migration *m)
{
	struct sql_stmt *stmts = NULL;
	const char *why = NULL;
	int err_line = 0, n;
	char version[16];
	const char *params[3];
	int64_t t0 = now_mono_ms();

	n = sql_script_split(m->sql, m->len, &stmts, &why, &err_line);
	if (n < 0) {
		log_error("migrate_failed", "file=%s line=%d error=\"%s\"", m->path, err_line, why);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (sql_script_is_transaction_control(m->sql, &stmts[i])) {
			log_error(
			    "migrate_failed",
			    "file=%s line=%d error=\"transaction control in a migration: each "
			    "file already runs in its own transaction\"",
			    m->path, stmts[i].line);
			free(stmts);
			return -1;
		}
	}
	if (db_begin(conn) < 0) {
		free(stmts);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		/* The statement runs as its own string so error positions are relative to it. */
		char *text = xstrndup(m->sql + stmts[i].offset, stmts[i].len);
		PGresult *res = PQexec(conn, text);
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

		free(text);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			migration_report_failure(m, &stmts[i], res, conn);
			PQclear(res);
			free(stmts);
			db_rollback(conn);
			return -1;
		}
		PQclear(res);
	}
	free(stmts);
	snprintf(version, sizeof(version), "%d", m->version);
	params[0] = version;
	params[1] = m->name;
	params[2] = m->checksum;
	if (db_cmd(conn, "migrate_record",
	           "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3,
	           params) < 0 ||
	    db_commit(conn) < 0) {
		db_rollback(conn);
		log_error("migrate_failed", "file=%s error=\"could not record the migration\"",
		          m->path);
		return -1;
	}
	log_info("migration_applied", "version=%d file=%s statements=%d ms=%lld", m->version,
	         m->file, n, (long long)(now_mono_ms() - t0));
	return 0;
}

static int
migrate_lock(PGconn *conn)
{
	const char *key = MIGRATE_LOCK_KEY;

	return db_cmd(conn, "migrate_lock", "SELECT pg_advisory_lock($1::bigint)", 1, &key);
}

static void
migrate_unlock(PGconn *conn)
{
	const char *key = MIGRATE_LOCK_KEY;

	db_cmd(conn, "migrate_unlock", "SELECT pg_advisory_unlock($1::bigint)", 1, &key);
}

/* 1 when schema_migrations exists, 0 when not, -1 on error. */
static int
migrate_table_exists(PGconn *conn)
{
	PGresult *res = db_exec(conn, "migrate_table",
	                        "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL);
	int exists;

	if (res == NULL)
		return -1;
	exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return exists;
}

/*
 * Scans dir, takes the lock and loads what is applied. The table is created
 * only when migrating (status writes nothing), and only when missing, so a
 * role without CREATE on the schema can still run an up-to-date migrate.
 */
static int
migrate_prepare(PGconn *conn, const char *dir, struct migration_set *set, FILE *status_out)
{
	int exists;

	if (migration_scan(dir, set) < 0)
		return -1;
	if (migrate_lock(conn) < 0)
		return -1;
	set->locked = true;
	if ((exists = migrate_table_exists(conn)) < 0)
		return -1;
	if (!exists && status_out != NULL)
		return 0;
	if (!exists && db_cmd(conn, "migrate_table", create_table_sql, 0, NULL) < 0)
		return -1;
	return migration_load_applied(conn, set, status_out);
}

int
migrate_apply(PGconn *conn, const char *dir)
{
	struct migration_set set;
	int applied = 0, rc = 0, version = 0;

	if (migrate_prepare(conn, dir, &set, NULL) < 0) {
		rc = -1;
		goto done;
	}
	for (size_t i = 0; i < set.n; i++) {
		struct migration *m = &set.v[i];

		if (m->applied && strcmp(m->applied_checksum, m->checksum) != 0) {
			log_error("migrate_failed",
			          "file=%s error=\"applied migration changed since it was applied "
			          "(checksum %.12s, now %.12s); add a new migration instead\"",
			          m->path, m->applied_checksum, m->checksum);
			rc = -1;
			goto done;
		}
	}
	for (size_t i = 0; i < set.n; i++) {
		if (set.v[i].applied) {
			version = set.v[i].version;
			continue;
		}
		if (migration_apply_one(conn, &set.v[i]) < 0) {
			rc = -1;
			goto done;
		}
		applied++;
		version = set.v[i].version;
	}
	log_info("migrate_done", "applied=%d version=%d dir=%s", applied, version, dir);
done:
	if (set.locked && PQstatus(conn) == CONNECTION_OK)
		migrate_unlock(conn);
	migration_set_free(&set);
	return rc < 0 ? -1 : applied;
}

int
migrate_status(PGconn *conn, const char *dir, FILE *out)
{
	struct migration_set set;
	int rc = 0, pending = 0;

	fprintf(out, "%-4s %-28s %-8s %s\n", "ver", "name", "state", "applied_at");
	if (migrate_prepare(conn, dir, &set, out) < 0) {
		rc = -1;
		goto done;
	}
	for (size_t i = 0; i < set.n; i++) {
		const struct migration *m = &set.v[i];
		const char *state = "pending";

		if (m->applied)
			state =
			    strcmp(m->applied_checksum, m->checksum) == 0 ? "applied" : "changed";
		if (!m->applied)
			pending++;
		fprintf(out, "%03d  %-28s %-8s %s\n", m->version, m->name, state,
		        m->applied ? m->applied_at : "-");
	}
	rc = pending;
done:
	if (set.locked && PQstatus(conn) == CONNECTION_OK)
		migrate_unlock(conn);
	migration_set_free(&set);
	return rc;
}
