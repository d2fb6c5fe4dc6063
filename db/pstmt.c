/*
 * One libpq connection with its own set of prepared statements. The API keeps
 * one per HTTP worker thread, so a slow query holds up only its own thread and
 * nothing here needs a lock.
 */
#include "db/pstmt.h"
#include "common/log.h"
#include "common/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PSTMT_MAX_PREPARED 128

struct pstmt {
	char *conninfo;
	PGconn *conn;
	/* Statements prepared on this connection; forgotten on reconnect. */
	const struct pstmt_stmt *prepared[PSTMT_MAX_PREPARED];
	int nprepared;
};

static atomic_ulong pstmt_errors;

unsigned long
pstmt_error_count(void)
{
	return atomic_load(&pstmt_errors);
}

static PGconn *
pstmt_open(const char *conninfo, const char **why)
{
	/* UTC so every timestamp PostgreSQL renders is RFC 3339 with +00:00. */
	const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", NULL};
	const char *vals[] = {conninfo, "3", "relayaudit-api", "-c TimeZone=UTC", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(c) != CONNECTION_OK) {
		static __thread char msg[256];

		str_fmt(msg, sizeof(msg), "%s", PQerrorMessage(c));
		msg[strcspn(msg, "\n")] = '\0';
		*why = msg;
		PQfinish(c);
		return NULL;
	}
	return c;
}

struct pstmt *
pstmt_connect(const char *conninfo, const char **why)
{
	PGconn *c = pstmt_open(conninfo, why);
	struct pstmt *db;

	if (c == NULL)
		return NULL;
	db = xcalloc(1, sizeof(*db));
	db->conninfo = xstrdup(conninfo);
	db->conn = c;
	return db;
}

struct pstmt *
pstmt_connect_cli(const char *conninfo)
{
	const char *why = NULL;
	struct pstmt *db = pstmt_connect(conninfo, &why);

	if (db == NULL)
		fprintf(stderr, "relayctl: cannot connect to the database: %s\n", why);
	return db;
}

void
pstmt_close(struct pstmt *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db->conninfo);
	free(db);
}

static bool
pstmt_reconnect(struct pstmt *db)
{
	const char *why = NULL;
	PGconn *c;

	PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
	c = pstmt_open(db->conninfo, &why);
	if (c == NULL) {
		log_warn("api_db_down", "reason=\"%s\"", why);
		return false;
	}
	db->conn = c;
	log_info("api_db_reconnected", "%s", "");
	return true;
}

bool
pstmt_alive(struct pstmt *db)
{
	/*
	 * Reading what is pending (without blocking) notices a session the server
	 * ended while it sat idle, so the next statement goes to a new session
	 * instead of failing half-way.
	 */
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK && PQconsumeInput(db->conn) == 1 &&
	    PQstatus(db->conn) == CONNECTION_OK)
		return true;
	return pstmt_reconnect(db);
}

PGconn *
pstmt_conn(struct pstmt *db)
{
	return pstmt_alive(db) ? db->conn : NULL;
}

static bool
pstmt_is_prepared(const struct pstmt *db, const struct pstmt_stmt *st)
{
	for (int i = 0; i < db->nprepared; i++) {
		if (db->prepared[i] == st)
			return true;
	}
	return false;
}

/* SQLSTATE classes that mean "the client sent something wrong". */
static const struct {
	const char *prefix;
	enum pstmt_status status;
} pstmt_states[] = {
	{"23505", PSTMT_CONFLICT}, /* unique_violation */
	{"23P01", PSTMT_CONFLICT}, /* exclusion_violation */
	{"23", PSTMT_INVALID}, /* other integrity violations: check, FK, not null */
	{"22", PSTMT_INVALID}, /* data exceptions: bad inet, overflow, bad enum */
	{"08", PSTMT_DOWN}, /* connection exceptions */
	{"57P", PSTMT_DOWN}, /* admin shutdown, crash shutdown, cannot connect now */
};

static enum pstmt_status
pstmt_classify(const PGresult *r, char *why, size_t whylen)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);

	if (state == NULL)
		state = "";
	for (size_t i = 0; i < ARRAY_LEN(pstmt_states); i++) {
		const char *p = pstmt_states[i].prefix;

		if (strncmp(state, p, strlen(p)) != 0)
			continue;
		if (cons != NULL)
			str_fmt(why, whylen, "violates %s", cons);
		else
			str_fmt(why, whylen, "%s", msg ? msg : "invalid value");
		return pstmt_states[i].status;
	}
	str_fmt(why, whylen, "database error");
	return PSTMT_ERROR;
}

static PGresult *
pstmt_run(struct pstmt *db, const struct pstmt_stmt *st, const char *const *params)
{
	if (st->adhoc)
		return PQexecParams(db->conn, st->sql, st->nparams, NULL, params, NULL, NULL, 0);
	if (!pstmt_is_prepared(db, st)) {
		PGresult *p = PQprepare(db->conn, st->name, st->sql, st->nparams, NULL);

		if (PQresultStatus(p) != PGRES_COMMAND_OK)
			return p;
		PQclear(p);
		if (db->nprepared < PSTMT_MAX_PREPARED)
			db->prepared[db->nprepared++] = st;
		else
			fatal("reason=\"more API statements than PSTMT_MAX_PREPARED\"");
	}
	return PQexecPrepared(db->conn, st->name, st->nparams, params, NULL, NULL, 0);
}

/*
 * A statement whose connection broke is run again only when that cannot do
 * a write twice: it reads only, or the server said it was shutting the
 * session down (57P..) before the statement ran, as after
 * pg_terminate_backend() or a restart while the connection sat idle.
 */
static bool
pstmt_retry_safe(const struct pstmt_stmt *st, const PGresult *r)
{
	static const char *const writes[] = {"INSERT ", "UPDATE ", "DELETE "};
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (state != NULL && strncmp(state, "57P", 3) == 0)
		return true;
	for (size_t i = 0; i < ARRAY_LEN(writes); i++) {
		if (strstr(st->sql, writes[i]) != NULL)
			return false;
	}
	return true;
}

enum pstmt_status
pstmt_exec(struct pstmt *db, const struct pstmt_stmt *st, const char *const *params,
	   PGresult **res, char *why, size_t whylen)
{
	enum pstmt_status s;

	*res = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *r;
		ExecStatusType rs;

		if (!pstmt_alive(db)) {
			atomic_fetch_add(&pstmt_errors, 1);
			str_fmt(why, whylen, "database unavailable");
			return PSTMT_DOWN;
		}
		r = pstmt_run(db, st, params);
		rs = PQresultStatus(r);
		if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
			*res = r;
			return PSTMT_OK;
		}
		if (PQstatus(db->conn) != CONNECTION_OK) {
			/* The server went away under us (restart, terminated backend). */
			bool retry = pstmt_retry_safe(st, r);

			PQclear(r);
			atomic_fetch_add(&pstmt_errors, 1);
			if (retry)
				continue;
			str_fmt(why, whylen, "the database connection was lost; the change may or may not be made");
			return PSTMT_DOWN;
		}
		s = pstmt_classify(r, why, whylen);
		if (s == PSTMT_ERROR || s == PSTMT_DOWN) {
			atomic_fetch_add(&pstmt_errors, 1);
			log_warn("api_db_error", "statement=%s reason=\"%s\"", st->name,
				 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
					 ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
					 : "?");
		}
		PQclear(r);
		return s;
	}
	str_fmt(why, whylen, "database unavailable");
	return PSTMT_DOWN;
}

enum pstmt_status
pstmt_text(struct pstmt *db, const struct pstmt_stmt *st, const char *const *params, char **out,
	   char *why, size_t whylen)
{
	PGresult *r;
	enum pstmt_status s = pstmt_exec(db, st, params, &r, why, whylen);

	*out = NULL;
	if (s != PSTMT_OK)
		return s;
	if (PQntuples(r) == 0 || PQnfields(r) == 0 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		str_fmt(why, whylen, "not found");
		return PSTMT_NOT_FOUND;
	}
	*out = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return PSTMT_OK;
}

enum pstmt_status
pstmt_rows(struct pstmt *db, const struct pstmt_stmt *st, const char *const *params,
	   struct pstmt_rows *out, char *why, size_t whylen)
{
	PGresult *r;
	enum pstmt_status s = pstmt_exec(db, st, params, &r, why, whylen);

	memset(out, 0, sizeof(*out));
	if (s != PSTMT_OK)
		return s;
	out->n = PQntuples(r);
	out->ncols = PQnfields(r);
	out->cells = xcalloc((size_t)out->n * (size_t)out->ncols + 1, sizeof(char *));
	for (int i = 0; i < out->n; i++) {
		for (int j = 0; j < out->ncols; j++)
			out->cells[i * out->ncols + j] = xstrdup(PQgetvalue(r, i, j));
	}
	PQclear(r);
	return PSTMT_OK;
}

const char *
pstmt_cell(const struct pstmt_rows *rows, int i, int j)
{
	if (i < 0 || i >= rows->n || j < 0 || j >= rows->ncols)
		return "";
	return rows->cells[i * rows->ncols + j];
}

void
pstmt_rows_free(struct pstmt_rows *rows)
{
	for (int k = 0; rows->cells != NULL && k < rows->n * rows->ncols; k++)
		free(rows->cells[k]);
	free(rows->cells);
	memset(rows, 0, sizeof(*rows));
}

enum pstmt_status
pstmt_cmd(struct pstmt *db, const struct pstmt_stmt *st, const char *const *params, char *why,
	  size_t whylen)
{
	PGresult *r;
	enum pstmt_status s = pstmt_exec(db, st, params, &r, why, whylen);

	if (s == PSTMT_OK)
		PQclear(r);
	return s;
}
