/*
 * The leased queue that outbox, enforcement_actions and webhook_deliveries share: a row moves
 * pending -> running (claimed_by, claimed_until, attempts + 1) -> done or
 * failed, or back to pending for a retry; a claim takes due rows with FOR
 * UPDATE SKIP LOCKED, and a lease that runs out (a crashed node) is claimed
 * again. db/outbox.c, db/enforcement.c and db/webhook.c read the rows a claim returns.
 */
#ifndef RELAYAUDIT_DB_QUEUE_H
#define RELAYAUDIT_DB_QUEUE_H

#include <libpq-fe.h>
#include <stdint.h>

enum db_queue {
	DB_QUEUE_OUTBOX,      /* notification mails */
	DB_QUEUE_ENFORCEMENT, /* enforcer hook calls, in order per address */
	DB_QUEUE_WEBHOOK,     /* case events for webhook_url */
	DB_QUEUE__COUNT
};

/* Claims up to max due rows for node for lease seconds; the queue's columns, or NULL (logged). */
PGresult *db_queue_claim(PGconn *conn, enum db_queue q, const char *node, int64_t lease, int max);
/* Hands back every row node holds in every queue (its lease ends now): start-up after a crash. */
int db_queue_recover_node(PGconn *conn, const char *node);

#endif
