/*
 * Schema migrations: numbered files NNN_name.sql applied in numeric order,
 * each in its own transaction, recorded in schema_migrations, under an
 * advisory lock so several nodes may migrate at once.
 */
#ifndef RELAYAUDIT_MIGRATE_H
#define RELAYAUDIT_MIGRATE_H

#include <libpq-fe.h>
#include <stdio.h>

/* The pg_advisory_lock key ("rela" in ASCII) every migrating process takes. */
#define MIGRATE_LOCK_KEY "1919249505"

/*
 * Applies every pending migration in dir. Returns the number applied, or -1
 * after logging why (event=migrate_failed with file= and line= for a failing
 * statement; a changed checksum or a duplicate version is also an error).
 */
int migrate_apply(PGconn *conn, const char *dir);

/* Prints version, name, state (applied/pending/changed/unknown) and applied_at; -1 on error. */
int migrate_status(PGconn *conn, const char *dir, FILE *out);

#endif
