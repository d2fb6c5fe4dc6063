/*
 * SQL of the webhook queue (migration 010): one row per case event, queued
 * by a trigger in the event's own transaction, claimed through the shared
 * leased queue (db/queue.c), then marked delivered, retried or failed.
 */
#ifndef RELAYAUDIT_DB_WEBHOOK_H
#define RELAYAUDIT_DB_WEBHOOK_H

#include <libpq-fe.h>
#include <stdint.h>

struct db_webhook_job {
	int64_t id, event_id, case_id;
	char *body;   /* the JSON to send, fixed when queued */
	int attempts; /* including this one */
};

/* Claims up to max due rows for node for lease seconds. 0 or -1. */
int db_webhook_claim(PGconn *conn, const char *node, int64_t lease, int max,
                     struct db_webhook_job **jobs, int *n);
void db_webhook_jobs_free(struct db_webhook_job *jobs, int n);

/* The receiver answered 2xx. */
int db_webhook_done(PGconn *conn, int64_t id);
/* Again after delay seconds. */
int db_webhook_retry(PGconn *conn, int64_t id, const char *error, int64_t delay);
/* Out of attempts: stays failed (counted in /metrics). */
int db_webhook_failed(PGconn *conn, int64_t id, const char *error);

#endif
