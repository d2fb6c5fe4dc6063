/*
 * Splitting a SQL script (a migration file) into statements, so each runs on
 * its own and an error is mapped back to a line of the file. Pure: no libpq.
 */
#ifndef RELAYAUDIT_SQL_SCRIPT_H
#define RELAYAUDIT_SQL_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

struct sql_stmt {
	size_t offset; /* first significant byte (comments and blanks before it skipped) */
	size_t len;    /* up to and including the ';', or to the end of the script */
	int line;      /* 1-based line of offset */
};

/*
 * Splits at top-level ';' (not inside quotes, dollar quotes or comments).
 * Statements holding only comments and blanks are dropped. Returns the
 * number of statements (array in *out, caller frees) or -1 with *why when
 * a quote or comment is never closed (*err_line says where it opened).
 */
int sql_script_split(const char *sql, size_t len, struct sql_stmt **out, const char **why,
                     int *err_line);

/*
 * The line of the file holding PostgreSQL's error position (1-based, in
 * characters of the UTF-8 statement text) within stmt; stmt->line when the
 * position is 0 or out of range.
 */
int sql_script_line_at(const char *sql, const struct sql_stmt *stmt, int position);

/*
 * True when stmt is transaction control (BEGIN, COMMIT, ROLLBACK, END,
 * ABORT, START TRANSACTION), which a migration must not hold: each file
 * already runs in a transaction of its own.
 */
bool sql_script_is_transaction_control(const char *sql, const struct sql_stmt *stmt);

#endif
