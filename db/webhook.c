/*
 * SQL of the webhook queue (see webhook.h). The rows come from the trigger
 * of migration 010; nothing here inserts them.
 */
#include "db/webhook.h"
#include "common/util.h"
#include "db/db.h"
#include "db/queue.h"

#include <stdlib.h>

int
db_webhook_claim(PGconn *conn, const char *node, int64_t lease, int max,
                 struct db_webhook_job **jobs, int *n)
{
	PGresult *res;
	int rows;

	*jobs = NULL;
	*n = 0;
	res = db_queue_claim(conn, DB_QUEUE_WEBHOOK, node, lease, max);
	if (res == NULL)
		return -1;
	rows = PQntuples(res);
	*jobs = xcalloc((size_t)rows + 1, sizeof(**jobs));
	for (int i = 0; i < rows; i++) {
		struct db_webhook_job *j = &(*jobs)[i];

		j->id = db_col_i64(res, i, 0);
		j->event_id = db_col_i64(res, i, 1);
		j->case_id = db_col_i64(res, i, 2);
		j->body = db_col_dup(res, i, 3);
		j->attempts = (int)db_col_i64(res, i, 4);
	}
	*n = rows;
	PQclear(res);
	return 0;
}

void
db_webhook_jobs_free(struct db_webhook_job *jobs, int n)
{
	for (int i = 0; jobs && i < n; i++)
		free(jobs[i].body);
	free(jobs);
}

int
db_webhook_done(PGconn *conn, int64_t id)
{
	char ids[24];
	const char *params[] = {ids};

	db_fmt_i64(ids, id);
	return db_cmd(conn, "webhook_done",
	              "UPDATE webhook_deliveries SET state = 'done', done_at = now(), "
	              "claimed_until = NULL WHERE id = $1",
	              1, params);
}

int
db_webhook_retry(PGconn *conn, int64_t id, const char *error, int64_t delay)
{
	char ids[24], secs[24];
	const char *params[] = {ids, error, secs};

	db_fmt_i64(ids, id);
	db_fmt_i64(secs, delay);
	return db_cmd(conn, "webhook_retry",
	              "UPDATE webhook_deliveries SET state = 'pending', last_error = $2, "
	              "claimed_until = NULL, "
	              "next_attempt_at = now() + make_interval(secs => $3::bigint) WHERE id = $1",
	              3, params);
}

int
db_webhook_failed(PGconn *conn, int64_t id, const char *error)
{
	char ids[24];
	const char *params[] = {ids, error};

	db_fmt_i64(ids, id);
	return db_cmd(conn, "webhook_failed",
	              "UPDATE webhook_deliveries SET state = 'failed', last_error = $2, "
	              "claimed_until = NULL WHERE id = $1",
	              2, params);
}
