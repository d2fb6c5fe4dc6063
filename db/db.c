/*
 * Synchronous libpq helpers for relayctl and start-up code. Errors are
 * logged as key=value lines; the conninfo in them never shows a password.
 */
#include "db/db.h"

#include <inttypes.h>
#include "common/config.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
db_embedded_conninfo(void)
{
	static const char *const rels[] = {"var/pg/data", NULL};
	char *root = paths_exe_root();
	char *data = paths_find_dir(root, rels);
	char *conninfo = NULL;

	if (data != NULL) {
		/* As root, make run's cluster belongs to the postgres user (see deploy/pg.sh). */
		conninfo = xasprintf("host=%s/var/pg dbname=relayaudit%s", root,
		                     geteuid() == 0 ? " user=postgres" : "");
	}
	free(data);
	free(root);
	return conninfo;
}

char *
db_conninfo(const struct config *cfg, const char **why)
{
	const char *configured = config_str(cfg, CFG_DATABASE);
	char *embedded;

	if (configured != NULL && *configured != '\0')
		return xstrdup(configured);
	embedded = db_embedded_conninfo();
	if (embedded == NULL)
		*why = "no database configured: set `database` in relayaudit.conf or "
		       "RELAYAUDIT_DATABASE, or start the embedded one with make run";
	return embedded;
}

/* Appends "key=value" to buf, quoting the value the way libpq reads it. */
static void
redact_append(char **buf, const char *key, const char *val)
{
	size_t len = strlen(*buf), need = len + strlen(key) + 2 * strlen(val) + 6;
	char *q;
	bool quote = *val == '\0' || strpbrk(val, " \t'\\") != NULL;

	*buf = xrealloc(*buf, need);
	q = *buf + len;
	if (len > 0)
		*q++ = ' ';
	q += snprintf(q, need - (size_t)(q - *buf), "%s=", key);
	if (quote)
		*q++ = '\'';
	for (const char *p = val; *p; p++) {
		if (*p == '\'' || *p == '\\')
			*q++ = '\\';
		*q++ = *p;
	}
	if (quote)
		*q++ = '\'';
	*q = '\0';
}

char *
db_conninfo_redact(const char *conninfo)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	char *out;

	if (opts == NULL) {
		PQfreemem(err);
		return xstrdup("(unparseable conninfo)");
	}
	out = xstrdup("");
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		redact_append(&out, o->keyword,
		              strcmp(o->keyword, "password") == 0 ? "********" : o->val);
	}
	PQconninfoFree(opts);
	return out;
}

void
db_message_clean(const char *msg, char *buf, size_t len)
{
	char tmp[1024];
	size_t n = strcspn(msg ? msg : "", "\n");

	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, msg ? msg : "", n);
	tmp[n] = '\0';
	/* PostgreSQL quotes names with "; keep them readable inside a quoted log value. */
	for (char *p = tmp; *p; p++) {
		if (*p == '"')
			*p = '\'';
	}
	log_censor(buf, len, tmp, n);
}

PGconn *
db_connect(const char *conninfo)
{
	/*
	 * Keywords before dbname are defaults the conninfo may override: a bounded
	 * connect, and the program's name in pg_stat_activity.
	 */
	const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *const vals[] = {"15", program_invocation_short_name, conninfo, NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	char msg[512], *shown;

	if (conn != NULL && PQstatus(conn) == CONNECTION_OK) {
		/* Keep NOTICEs (e.g. "relation already exists, skipping") off the output. */
		PQclear(PQexec(conn, "SET client_min_messages = warning"));
		return conn;
	}
	shown = db_conninfo_redact(conninfo);
	db_message_clean(conn ? PQerrorMessage(conn) : "out of memory", msg, sizeof(msg));
	log_error("db_connect_failed", "conninfo=\"%s\" error=\"%s\"", shown, msg);
	free(shown);
	PQfinish(conn);
	return NULL;
}

void
db_close(PGconn *conn)
{
	if (conn != NULL)
		PQfinish(conn);
}

const char *
db_result_message(const PGresult *res)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	return m ? m : (res ? PQresultErrorMessage(res) : "no result");
}

PGresult *
db_exec(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params)
{
	int64_t t0 = now_mono_ms();
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	char msg[512];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		log_debug("db_exec", "what=%s rows=%s ms=%lld", what,
		          *PQcmdTuples(res) ? PQcmdTuples(res) : "-",
		          (long long)(now_mono_ms() - t0));
		return res;
	}
	db_message_clean(res ? db_result_message(res) : PQerrorMessage(conn), msg, sizeof(msg));
	log_error("db_error", "what=%s sqlstate=%s error=\"%s\"", what,
	          res && PQresultErrorField(res, PG_DIAG_SQLSTATE)
	              ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
	              : "-",
	          msg);
	PQclear(res);
	return NULL;
}

int
db_cmd(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = db_exec(conn, what, sql, nparams, params);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
db_begin(PGconn *conn)
{
	return db_cmd(conn, "begin", "BEGIN", 0, NULL);
}

int
db_commit(PGconn *conn)
{
	return db_cmd(conn, "commit", "COMMIT", 0, NULL);
}

void
db_rollback(PGconn *conn)
{
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
}

int64_t
db_col_i64(const PGresult *res, int row, int col)
{
	int64_t v = 0;

	if (!PQgetisnull(res, row, col))
		parse_i64(PQgetvalue(res, row, col), INT64_MIN, INT64_MAX, &v);
	return v;
}

char *
db_col_dup(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

void
db_col_copy(const PGresult *res, int row, int col, char *out, size_t len)
{
	snprintf(out, len, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

void
db_fmt_i64(char buf[24], int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
}

bool
db_conn_broken(PGconn *conn)
{
	PGresult *r;
	bool ok;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return true;
	if (PQtransactionStatus(conn) == PQTRANS_INTRANS ||
	    PQtransactionStatus(conn) == PQTRANS_INERROR)
		PQclear(PQexec(conn, "ROLLBACK"));
	r = PQexec(conn, "SELECT 1");
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return !ok || PQstatus(conn) != CONNECTION_OK;
}
