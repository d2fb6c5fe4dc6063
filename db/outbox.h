/*
 * SQL of the notification outbox. A row is queued once (unique idempotency
 * key), claimed with SKIP LOCKED and a lease, and marked handed off just
 * before the final "." of DATA: a row found claimed-but-expired with that
 * mark is never sent again, because the smarthost may already hold it.
 */
#ifndef RELAYAUDIT_DB_OUTBOX_H
#define RELAYAUDIT_DB_OUTBOX_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct db_outbox_job {
	int64_t id, case_id;
	char *key, *kind, *to, *message_id, *body;
	int attempts;    /* including this one */
	bool handed_off; /* an earlier attempt got as far as the final dot */
};

/* Queues a message; a second call with the same key changes nothing. 0 or -1. */
int db_outbox_queue(PGconn *conn, int64_t case_id, const char *key, const char *kind,
                    const char *locale, const char *to, const char *subject, const char *message_id,
                    const char *body);

/* Claims up to max due rows for node for lease seconds. */
int db_outbox_claim(PGconn *conn, const char *node, int64_t lease, int max,
                    struct db_outbox_job **jobs, int *n);
void db_outbox_jobs_free(struct db_outbox_job *jobs, int n);

/* The final dot is about to be sent. */
int db_outbox_handoff(PGconn *conn, int64_t id);
/* Delivered (or handed off with no answer: note says so). */
int db_outbox_sent(PGconn *conn, int64_t id, const char *delivered_to, const char *note);
/* Temporary failure: again after delay seconds; the hand-off mark is cleared. */
int db_outbox_retry(PGconn *conn, int64_t id, const char *error, int64_t delay);
/* Permanent failure: recorded, never retried. */
int db_outbox_failed(PGconn *conn, int64_t id, const char *error);

#endif
