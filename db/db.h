/*
 * Synchronous libpq helpers for the command-line side (relayctl, start-up):
 * connect with an error that names the server but never the password,
 * parameterised exec, transactions. The daemon's loop uses its own
 * asynchronous connection; nothing here may be called on the loop thread.
 */
#ifndef RELAYAUDIT_DB_H
#define RELAYAUDIT_DB_H

#include <libpq-fe.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

struct config;

/*
 * The conninfo to use: config `database` (which config_new already fills
 * from RELAYAUDIT_DATABASE), else the embedded cluster of make run when it
 * exists. Returns a new string, or NULL with *why set.
 */
char *db_conninfo(const struct config *cfg, const char **why);
/* The embedded cluster's conninfo when <repo>/var/pg exists, else NULL (new string). */
char *db_embedded_conninfo(void);
/* conninfo with any password value replaced by "********" (new string). */
char *db_conninfo_redact(const char *conninfo);

/*
 * Connects; on failure logs event=db_connect_failed naming the redacted
 * conninfo and libpq's reason, and returns NULL.
 */
PGconn *db_connect(const char *conninfo);
void db_close(PGconn *conn);

/*
 * Runs one parameterised statement (text parameters, NULL entries are SQL
 * NULL). Returns the result when it succeeded (PGRES_COMMAND_OK or
 * TUPLES_OK), else logs event=db_error with what (a short label) and
 * returns NULL. The caller PQclear()s the result.
 */
PGresult *db_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                  const char *const *params);
/* db_exec that only reports success: 0 or -1. */
int db_cmd(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params);

int db_begin(PGconn *conn);
int db_commit(PGconn *conn);
/* Rolls back whatever is open; safe to call when nothing is. */
void db_rollback(PGconn *conn);

/* The primary message of a failed result, one line, for reports. */
/* One column of a result: NULL reads as 0, "" or NULL respectively. */
int64_t db_col_i64(const PGresult *res, int row, int col);
char *db_col_dup(const PGresult *res, int row, int col);
void db_col_copy(const PGresult *res, int row, int col, char *out, size_t len);
/* A bigint as a query parameter. */
void db_fmt_i64(char buf[24], int64_t v);

const char *db_result_message(const PGresult *res);
/* The first line of msg, with " turned into ' and control bytes censored, for a log value. */
void db_message_clean(const char *msg, char *buf, size_t len);
/*
 * After a failed statement: true when the connection can no longer be
 * trusted. An immediate shutdown can leave libpq reporting CONNECTION_OK
 * while every statement fails ("terminating connection"), so besides the
 * status this rolls back an open transaction and asks the server once.
 */
bool db_conn_broken(PGconn *conn);

#endif
