/*
 * One claim for every leased queue (see queue.h): the statement is the same
 * shape for each table, only the table, an extra condition and the columns
 * returned differ, so it is written once as QUEUE_CLAIM.
 */
#include "db/queue.h"
#include "db/db.h"

/* $1 node, $2 lease seconds, $3 how many. */
#define QUEUE_CLAIM(table, extra, columns)                                                          \
	"UPDATE " table " SET state = 'running', claimed_by = $1, "                                \
	"claimed_until = now() + make_interval(secs => $2::bigint), attempts = attempts + 1 "        \
	"WHERE id IN (SELECT q1.id FROM " table " q1 "                                              \
	"WHERE ((q1.state = 'pending' AND q1.next_attempt_at <= now()) "                           \
	"OR (q1.state = 'running' AND q1.claimed_until < now()))" extra                            \
	" ORDER BY q1.id LIMIT $3::int FOR UPDATE SKIP LOCKED) RETURNING " columns

#define QUEUE_RECOVER(table)                                                                       \
	"UPDATE " table " SET claimed_until = now() - interval '1 second' "                         \
	"WHERE state = 'running' AND claimed_by = $1"

static const struct {
	const char *claim_name, *claim_sql, *recover_name, *recover_sql;
} queues[DB_QUEUE__COUNT] = {
    [DB_QUEUE_OUTBOX] = {"outbox_claim",
                         QUEUE_CLAIM("outbox", "",
                                     "id, coalesce(case_id, 0), idempotency_key, kind, to_addr, "
                                     "message_id, body, attempts, handoff_at IS NOT NULL"),
                         "outbox_recover", QUEUE_RECOVER("outbox")},
    /* One hook call at a time per address, in the order they were queued
     * (a block must not overtake the unblock before it). */
    [DB_QUEUE_ENFORCEMENT] = {"enforcement_claim",
                              QUEUE_CLAIM("enforcement_actions",
                                          " AND NOT EXISTS (SELECT 1 FROM enforcement_actions q2"
                                          " WHERE q2.address = q1.address AND q2.id < q1.id"
                                          " AND q2.state IN ('pending', 'running'))",
                                          "id, coalesce(case_id, 0), idempotency_key, action, "
                                          "host(address), mode, attempts"),
                              "enforcement_recover", QUEUE_RECOVER("enforcement_actions")},
    [DB_QUEUE_WEBHOOK] = {"webhook_claim",
                          QUEUE_CLAIM("webhook_deliveries", "",
                                      "id, event_id, coalesce(case_id, 0), body, attempts"),
                          "webhook_recover", QUEUE_RECOVER("webhook_deliveries")},
};

PGresult *
db_queue_claim(PGconn *conn, enum db_queue q, const char *node, int64_t lease, int max)
{
	char secs[24], lim[24];
	const char *params[] = {node, secs, lim};

	db_fmt_i64(secs, lease);
	db_fmt_i64(lim, max);
	return db_exec(conn, queues[q].claim_name, queues[q].claim_sql, 3, params);
}

int
db_queue_recover_node(PGconn *conn, const char *node)
{
	const char *params[] = {node};

	for (int q = 0; q < DB_QUEUE__COUNT; q++) {
		if (db_cmd(conn, queues[q].recover_name, queues[q].recover_sql, 1, params) < 0)
			return -1;
	}
	return 0;
}
