/*
 * The enforcement_actions SQL (see enforcement.h). The hook's JSON
 * description is assembled here from the action, its case and customer.
 */
#include "db/enforcement.h"
#include "common/util.h"
#include "db/db.h"
#include "db/queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
db_enforcement_queue(PGconn *conn, int64_t case_id, const char *key, const char *action,
                     const char *address, const char *mode)
{
	char cid[24];
	const char *params[] = {cid, key, action, address, mode};

	db_fmt_i64(cid, case_id);
	return db_cmd(conn, "enforcement_queue",
	              "INSERT INTO enforcement_actions (case_id, idempotency_key, action, address, "
	              "mode) VALUES (nullif($1, '0')::bigint, $2, $3, $4::inet, $5) "
	              "ON CONFLICT (idempotency_key) DO NOTHING",
	              5, params);
}

int
db_enforcement_claim(PGconn *conn, const char *node, int64_t lease, struct db_enforcement_job *job)
{
	const char *p1[1];
	PGresult *res;
	int64_t v;

	memset(job, 0, sizeof(*job));
	res = db_queue_claim(conn, DB_QUEUE_ENFORCEMENT, node, lease, 1);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	parse_i64(PQgetvalue(res, 0, 0), 0, INT64_MAX, &job->id);
	parse_i64(PQgetvalue(res, 0, 1), 0, INT64_MAX, &job->case_id);
	job->key = xstrdup(PQgetvalue(res, 0, 2));
	job->action = xstrdup(PQgetvalue(res, 0, 3));
	job->address = xstrdup(PQgetvalue(res, 0, 4));
	job->mode = xstrdup(PQgetvalue(res, 0, 5));
	parse_i64(PQgetvalue(res, 0, 6), 0, INT32_MAX, &v);
	job->attempts = (int)v;
	PQclear(res);

	p1[0] = job->key;
	res =
	    db_exec(conn, "enforcement_json",
	            "SELECT json_build_object('action', e.action, 'address', host(e.address), "
	            "'mode', e.mode, 'case_id', e.case_id, 'action_id', e.id, "
	            "'idempotency_key', e.idempotency_key, 'attempt', e.attempts, "
	            "'queued_at', e.created_at, 'case_state', c.state, 'finding', c.finding, "
	            "'trick', c.trick, 'customer', cu.ext_id, 'customer_name', cu.name, "
	            "'access_type', cu.access_type)::text "
	            "FROM enforcement_actions e LEFT JOIN cases c ON c.id = e.case_id "
	            "LEFT JOIN customers cu ON cu.id = c.customer_id WHERE e.idempotency_key = $1",
	            1, p1);
	job->json = xstrdup(res && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "{}");
	PQclear(res);
	return 1;
}

void
db_enforcement_job_clear(struct db_enforcement_job *job)
{
	free(job->key);
	free(job->action);
	free(job->address);
	free(job->mode);
	free(job->json);
	memset(job, 0, sizeof(*job));
}

int
db_enforcement_done(PGconn *conn, int64_t id)
{
	char ids[24];
	const char *params[] = {ids};

	db_fmt_i64(ids, id);
	return db_cmd(conn, "enforcement_done",
	              "UPDATE enforcement_actions SET state = 'done', done_at = now(), "
	              "claimed_until = NULL WHERE id = $1",
	              1, params);
}

int
db_enforcement_retry(PGconn *conn, int64_t id, const char *error, int64_t delay)
{
	char ids[24], secs[24];
	const char *params[] = {ids, error, secs};

	db_fmt_i64(ids, id);
	db_fmt_i64(secs, delay);
	return db_cmd(conn, "enforcement_retry",
	              "UPDATE enforcement_actions SET state = 'pending', last_error = $2, "
	              "claimed_until = NULL, "
	              "next_attempt_at = now() + make_interval(secs => $3::bigint) WHERE id = $1",
	              3, params);
}
