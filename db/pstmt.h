/*
 * The API's database access: one libpq connection per HTTP worker thread,
 * statements prepared once per connection, and SQLSTATEs sorted into the few
 * outcomes an HTTP handler distinguishes (not found, conflict, invalid, down).
 * Every statement the API runs is a pstmt_stmt defined in a db/<name>_query.c file.
 */
#ifndef RELAYAUDIT_PSTMT_H
#define RELAYAUDIT_PSTMT_H

#include <libpq-fe.h>
#include <stdbool.h>

enum pstmt_status {
	PSTMT_OK,
	PSTMT_NOT_FOUND, /* the statement returned no row */
	PSTMT_CONFLICT, /* unique violation */
	PSTMT_INVALID, /* check, foreign key or type violation: the input was wrong */
	PSTMT_DOWN, /* no connection to the database */
	PSTMT_ERROR, /* anything else: a bug or an overloaded server */
};

struct pstmt_stmt {
	const char *name; /* unique prepared-statement name */
	const char *sql;
	int nparams;
	/*
	 * Planned afresh on every run instead of prepared once: for lists whose
	 * optional filters decide which index fits, a generic plan cannot know.
	 */
	bool adhoc;
};

struct pstmt;

/* Connects (blocking, bounded by connect_timeout); NULL and *why on failure. */
struct pstmt *pstmt_connect(const char *conninfo, const char **why);
void pstmt_close(struct pstmt *db);
/* True when the connection is up (reconnects once if it was lost). */
bool pstmt_alive(struct pstmt *db);

/*
 * Runs st with params (NULL entries are SQL NULL). On PSTMT_OK *res holds the
 * result (caller PQclear()s it); otherwise *why says what went wrong in words
 * fit for a client (constraint names, never SQL text). A lost connection is
 * re-established and the statement retried once.
 */
enum pstmt_status pstmt_exec(struct pstmt *db, const struct pstmt_stmt *st,
			     const char *const *params, PGresult **res, char *why, size_t whylen);

/*
 * The common case: a statement returning at most one row whose first column is
 * text (usually a JSON document). *out is malloc'd; PSTMT_NOT_FOUND when no row
 * or a NULL value.
 */
enum pstmt_status pstmt_text(struct pstmt *db, const struct pstmt_stmt *st,
			     const char *const *params, char **out, char *why, size_t whylen);

/*
 * A whole result as text, for callers that must not see libpq (the API): row
 * i, column j is cell(rows, i, j), "" for SQL NULL. Free with pstmt_rows_free.
 */
struct pstmt_rows {
	int n, ncols;
	char **cells;
};
enum pstmt_status pstmt_rows(struct pstmt *db, const struct pstmt_stmt *st,
			     const char *const *params, struct pstmt_rows *out, char *why,
			     size_t whylen);
const char *pstmt_cell(const struct pstmt_rows *rows, int i, int j);
void pstmt_rows_free(struct pstmt_rows *rows);
/* A statement whose rows do not matter (an audit row). */
enum pstmt_status pstmt_cmd(struct pstmt *db, const struct pstmt_stmt *st,
			    const char *const *params, char *why, size_t whylen);

/* The live connection for code that drives libpq itself (bulk import); NULL when down. */
PGconn *pstmt_conn(struct pstmt *db);

/* Database errors seen by this process (for /metrics). */
unsigned long pstmt_error_count(void);

/* A connection for one-shot commands (relayctl): NULL after printing why. */
struct pstmt *pstmt_connect_cli(const char *conninfo);

#endif
