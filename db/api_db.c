/*
 * One libpq connection with its own set of prepared statements. The API keeps
 * one per HTTP worker thread, so a slow query holds up only its own thread and
 * nothing here needs a lock.
 */
#include "api_db.h"
#include "log.h"
#include "util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APIDB_MAX_PREPARED 128

struct apidb {
	char *conninfo;
	PGconn *conn;
	/* Statements prepared on this connection; forgotten on reconnect. */
	const struct apidb_stmt *prepared[APIDB_MAX_PREPARED];
	int nprepared;
};

static atomic_ulong apidb_errors;

unsigned long
apidb_error_count(void)
{
	return atomic_load(&apidb_errors);
}

static PGconn *
apidb_open(const char *conninfo, const char **why)
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

struct apidb *
apidb_connect(const char *conninfo, const char **why)
{
	PGconn *c = apidb_open(conninfo, why);
	struct apidb *db;

	if (c == NULL)
		return NULL;
	db = xcalloc(1, sizeof(*db));
	db->conninfo = xstrdup(conninfo);
	db->conn = c;
	return db;
}

struct apidb *
apidb_connect_cli(const char *conninfo)
{
	const char *why = NULL;
	struct apidb *db = apidb_connect(conninfo, &why);

	if (db == NULL)
		fprintf(stderr, "relayctl: cannot connect to the database: %s\n", why);
	return db;
}

void
apidb_close(struct apidb *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db->conninfo);
	free(db);
}

static bool
apidb_reconnect(struct apidb *db)
{
	const char *why = NULL;
	PGconn *c;

	PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
	c = apidb_open(db->conninfo, &why);
	if (c == NULL) {
		log_warn("api_db_down", "reason=\"%s\"", why);
		return false;
	}
	db->conn = c;
	log_info("api_db_reconnected", "%s", "");
	return true;
}

bool
apidb_alive(struct apidb *db)
{
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return true;
	return apidb_reconnect(db);
}

static bool
apidb_is_prepared(const struct apidb *db, const struct apidb_stmt *st)
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
	enum apidb_status status;
} apidb_states[] = {
	{"23505", APIDB_CONFLICT}, /* unique_violation */
	{"23P01", APIDB_CONFLICT}, /* exclusion_violation */
	{"23", APIDB_INVALID}, /* other integrity violations: check, FK, not null */
	{"22", APIDB_INVALID}, /* data exceptions: bad inet, overflow, bad enum */
	{"08", APIDB_DOWN}, /* connection exceptions */
	{"57P", APIDB_DOWN}, /* admin shutdown, crash shutdown, cannot connect now */
};

static enum apidb_status
apidb_classify(const PGresult *r, char *why, size_t whylen)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);

	if (state == NULL)
		state = "";
	for (size_t i = 0; i < ARRAY_LEN(apidb_states); i++) {
		const char *p = apidb_states[i].prefix;

		if (strncmp(state, p, strlen(p)) != 0)
			continue;
		if (cons != NULL)
			str_fmt(why, whylen, "violates %s", cons);
		else
			str_fmt(why, whylen, "%s", msg ? msg : "invalid value");
		return apidb_states[i].status;
	}
	str_fmt(why, whylen, "database error");
	return APIDB_ERROR;
}

static PGresult *
apidb_run(struct apidb *db, const struct apidb_stmt *st, const char *const *params)
{
	if (!apidb_is_prepared(db, st)) {
		PGresult *p = PQprepare(db->conn, st->name, st->sql, st->nparams, NULL);

		if (PQresultStatus(p) != PGRES_COMMAND_OK)
			return p;
		PQclear(p);
		if (db->nprepared < APIDB_MAX_PREPARED)
			db->prepared[db->nprepared++] = st;
		else
			fatal("reason=\"more API statements than APIDB_MAX_PREPARED\"");
	}
	return PQexecPrepared(db->conn, st->name, st->nparams, params, NULL, NULL, 0);
}

enum apidb_status
apidb_exec(struct apidb *db, const struct apidb_stmt *st, const char *const *params,
	   PGresult **res, char *why, size_t whylen)
{
	enum apidb_status s;

	*res = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *r;
		ExecStatusType rs;

		if (!apidb_alive(db)) {
			atomic_fetch_add(&apidb_errors, 1);
			str_fmt(why, whylen, "database unavailable");
			return APIDB_DOWN;
		}
		r = apidb_run(db, st, params);
		rs = PQresultStatus(r);
		if (rs == PGRES_TUPLES_OK || rs == PGRES_COMMAND_OK) {
			*res = r;
			return APIDB_OK;
		}
		if (PQstatus(db->conn) != CONNECTION_OK) {
			/* The server went away under us (restart, terminated backend): retry once. */
			PQclear(r);
			atomic_fetch_add(&apidb_errors, 1);
			continue;
		}
		s = apidb_classify(r, why, whylen);
		if (s == APIDB_ERROR || s == APIDB_DOWN) {
			atomic_fetch_add(&apidb_errors, 1);
			log_warn("api_db_error", "statement=%s reason=\"%s\"", st->name,
				 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
					 ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
					 : "?");
		}
		PQclear(r);
		return s;
	}
	str_fmt(why, whylen, "database unavailable");
	return APIDB_DOWN;
}

enum apidb_status
apidb_text(struct apidb *db, const struct apidb_stmt *st, const char *const *params, char **out,
	   char *why, size_t whylen)
{
	PGresult *r;
	enum apidb_status s = apidb_exec(db, st, params, &r, why, whylen);

	*out = NULL;
	if (s != APIDB_OK)
		return s;
	if (PQntuples(r) == 0 || PQnfields(r) == 0 || PQgetisnull(r, 0, 0)) {
		PQclear(r);
		str_fmt(why, whylen, "not found");
		return APIDB_NOT_FOUND;
	}
	*out = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return APIDB_OK;
}
