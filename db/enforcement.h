/*
 * SQL of enforcement actions (block, unblock, escalate through the enforcer
 * hook). Claimed one at a time with SKIP LOCKED, in order per address, so an
 * unblock never overtakes the block it lifts.
 */
#ifndef RELAYAUDIT_DB_ENFORCEMENT_H
#define RELAYAUDIT_DB_ENFORCEMENT_H

#include <libpq-fe.h>
#include <stdint.h>

struct db_enforcement_job {
	int64_t id, case_id;
	char *key, *action, *address, *mode;
	int attempts; /* including this one */
	char *json;   /* the description handed to the hook on stdin */
};

/* Queues an action; a second call with the same key changes nothing. 0 or -1. */
int db_enforcement_queue(PGconn *conn, int64_t case_id, const char *key, const char *action,
			 const char *address, const char *mode);
/* Claims the next due action for node for lease seconds: 1, 0 none, -1. */
int db_enforcement_claim(PGconn *conn, const char *node, int64_t lease,
			 struct db_enforcement_job *job);
void db_enforcement_job_clear(struct db_enforcement_job *job);
int db_enforcement_done(PGconn *conn, int64_t id);
/* Failed this time: again after delay seconds, error shown. */
int db_enforcement_retry(PGconn *conn, int64_t id, const char *error, int64_t delay);

#endif
