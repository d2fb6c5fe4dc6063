/*
 * Writing parsed import rows (import_parse.h) in one transaction: COPY into
 * temporary tables, then set-based upserts that touch only rows that change.
 */
#ifndef RELAYAUDIT_IMPORT_H
#define RELAYAUDIT_IMPORT_H

#include "db/import_parse.h"

#include <libpq-fe.h>
#include <stdbool.h>

struct import_counts {
	long customers_new, customers_changed;
	long targets_new, targets_changed;
	long targets_total; /* addresses in the file after CIDR expansion */
};

/*
 * Stages res's rows and applies them; with dry_run everything is rolled
 * back after the checks and counts. default_ports ("{25,587}") fills targets
 * whose row names no ports. Returns 0; -1 when the database found errors
 * (added to res with their lines; nothing written) or a query failed (logged).
 */
int import_write(PGconn *conn, struct import_result *res, const char *default_ports, bool dry_run,
                 struct import_counts *counts);

#endif
