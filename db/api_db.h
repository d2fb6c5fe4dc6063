/*
 * The API's database access: one libpq connection per HTTP worker thread,
 * statements prepared once per connection, and SQLSTATEs sorted into the few
 * outcomes an HTTP handler distinguishes (not found, conflict, invalid, down).
 * Every statement the API runs is an apidb_stmt defined in a db/api_*.c file.
 */
#ifndef RELAYAUDIT_API_DB_H
#define RELAYAUDIT_API_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

enum apidb_status {
	APIDB_OK,
	APIDB_NOT_FOUND, /* the statement returned no row */
	APIDB_CONFLICT, /* unique violation */
	APIDB_INVALID, /* check, foreign key or type violation: the input was wrong */
	APIDB_DOWN, /* no connection to the database */
	APIDB_ERROR, /* anything else: a bug or an overloaded server */
};

struct apidb_stmt {
	const char *name; /* unique prepared-statement name */
	const char *sql;
	int nparams;
};

struct apidb;

/* Connects (blocking, bounded by connect_timeout); NULL and *why on failure. */
struct apidb *apidb_connect(const char *conninfo, const char **why);
void apidb_close(struct apidb *db);
/* True when the connection is up (reconnects once if it was lost). */
bool apidb_alive(struct apidb *db);

/*
 * Runs st with params (NULL entries are SQL NULL). On APIDB_OK *res holds the
 * result (caller PQclear()s it); otherwise *why says what went wrong in words
 * fit for a client (constraint names, never SQL text). A lost connection is
 * re-established and the statement retried once.
 */
enum apidb_status apidb_exec(struct apidb *db, const struct apidb_stmt *st,
			     const char *const *params, PGresult **res, char *why, size_t whylen);

/*
 * The common case: a statement returning at most one row whose first column is
 * text (usually a JSON document). *out is malloc'd; APIDB_NOT_FOUND when no row
 * or a NULL value.
 */
enum apidb_status apidb_text(struct apidb *db, const struct apidb_stmt *st,
			     const char *const *params, char **out, char *why, size_t whylen);

/* Database errors seen by this process (for /metrics). */
unsigned long apidb_error_count(void);

/* A connection for one-shot commands (relayctl): NULL after printing why. */
struct apidb *apidb_connect_cli(const char *conninfo);

#endif
