/*
 * The outbox SQL (see outbox.h): queue, claim (db/queue.c), hand-off
 * mark, and the three endings (sent, retry later, failed for good).
 */
#include "db/outbox.h"
#include "common/util.h"
#include "db/db.h"
#include "db/queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
db_outbox_queue(PGconn *conn, int64_t case_id, const char *key, const char *kind,
                const char *locale, const char *to, const char *subject, const char *message_id,
                const char *body)
{
	char cid[24];
	const char *params[] = {cid, key, kind, locale, to, subject, message_id, body};

	db_fmt_i64(cid, case_id);
	return db_cmd(
	    conn, "outbox_queue",
	    "INSERT INTO outbox (case_id, idempotency_key, kind, locale, to_addr, subject, "
	    "message_id, body) VALUES (nullif($1, '0')::bigint, $2, $3, $4, $5, $6, $7, $8) "
	    "ON CONFLICT (idempotency_key) DO NOTHING",
	    8, params);
}

int
db_outbox_claim(PGconn *conn, const char *node, int64_t lease, int max, struct db_outbox_job **jobs,
                int *n)
{
	PGresult *res;

	*jobs = NULL;
	*n = 0;
	res = db_queue_claim(conn, DB_QUEUE_OUTBOX, node, lease, max);
	if (res == NULL)
		return -1;
	*n = PQntuples(res);
	*jobs = xcalloc((size_t)*n + 1, sizeof(**jobs));
	for (int i = 0; i < *n; i++) {
		struct db_outbox_job *j = &(*jobs)[i];
		int64_t v;

		parse_i64(PQgetvalue(res, i, 0), 0, INT64_MAX, &j->id);
		parse_i64(PQgetvalue(res, i, 1), 0, INT64_MAX, &j->case_id);
		j->key = xstrdup(PQgetvalue(res, i, 2));
		j->kind = xstrdup(PQgetvalue(res, i, 3));
		j->to = xstrdup(PQgetvalue(res, i, 4));
		j->message_id = xstrdup(PQgetvalue(res, i, 5));
		j->body = xstrdup(PQgetvalue(res, i, 6));
		parse_i64(PQgetvalue(res, i, 7), 0, INT32_MAX, &v);
		j->attempts = (int)v;
		j->handed_off = strcmp(PQgetvalue(res, i, 8), "t") == 0;
	}
	PQclear(res);
	return 0;
}

void
db_outbox_jobs_free(struct db_outbox_job *jobs, int n)
{
	for (int i = 0; jobs && i < n; i++) {
		free(jobs[i].key);
		free(jobs[i].kind);
		free(jobs[i].to);
		free(jobs[i].message_id);
		free(jobs[i].body);
	}
	free(jobs);
}

int
db_outbox_handoff(PGconn *conn, int64_t id)
{
	char ids[24];
	const char *params[] = {ids};

	db_fmt_i64(ids, id);
	return db_cmd(conn, "outbox_handoff", "UPDATE outbox SET handoff_at = now() WHERE id = $1",
	              1, params);
}

int
db_outbox_sent(PGconn *conn, int64_t id, const char *delivered_to, const char *note)
{
	char ids[24];
	const char *params[] = {ids, delivered_to, note};

	db_fmt_i64(ids, id);
	return db_cmd(conn, "outbox_sent",
	              "UPDATE outbox SET state = 'done', sent_at = coalesce(handoff_at, now()), "
	              "delivered_to = $2, last_error = $3, claimed_until = NULL WHERE id = $1",
	              3, params);
}

int
db_outbox_retry(PGconn *conn, int64_t id, const char *error, int64_t delay)
{
	char ids[24], secs[24];
	const char *params[] = {ids, error, secs};

	db_fmt_i64(ids, id);
	db_fmt_i64(secs, delay);
	return db_cmd(conn, "outbox_retry",
	              "UPDATE outbox SET state = 'pending', last_error = $2, handoff_at = NULL, "
	              "claimed_until = NULL, "
	              "next_attempt_at = now() + make_interval(secs => $3::bigint) WHERE id = $1",
	              3, params);
}

int
db_outbox_failed(PGconn *conn, int64_t id, const char *error)
{
	char ids[24];
	const char *params[] = {ids, error};

	db_fmt_i64(ids, id);
	return db_cmd(conn, "outbox_failed",
	              "UPDATE outbox SET state = 'failed', last_error = $2, claimed_until = NULL "
	              "WHERE id = $1",
	              2, params);
}
