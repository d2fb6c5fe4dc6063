/*
 * The one statement that requests a re-test (see retests.h). Every rule
 * lives here: excluded targets are skipped, a request by case obeys the
 * case's rate limit, and the request is tied to the address's active case.
 */
#include "db/retests.h"
#include "common/util.h"
#include "db/db.h"

#include <stdbool.h>
#include <stdlib.h>

/* $1 target id, $2 address, $3 case id, $4 min interval s (by case), $5 actor. */
static const char retest_sql[] =
    "WITH k AS (UPDATE cases SET last_retest_at = now() WHERE $4::bigint IS NOT NULL"
    "   AND id = $3::bigint AND state NOT IN ('resolved', 'closed') AND target_id IS NOT NULL"
    "   AND (last_retest_at IS NULL OR last_retest_at <= now() - make_interval(secs => $4::bigint))"
    "   RETURNING id, target_id),"
    " t AS (UPDATE targets SET priority = 3, next_probe_at = now(), updated_at = now()"
    "   WHERE NOT excluded AND CASE WHEN $4::bigint IS NOT NULL THEN id = (SELECT target_id FROM k)"
    "     WHEN $1::bigint IS NOT NULL THEN id = $1::bigint ELSE address = $2::inet END"
    "   RETURNING id, address),"
    " rq AS (INSERT INTO retest_requests (target_id, case_id, requested_by)"
    "   SELECT t.id, coalesce($3::bigint, (SELECT c.id FROM cases c WHERE c.address = t.address"
    "   AND c.state NOT IN ('resolved', 'closed') ORDER BY c.id DESC LIMIT 1)), $5 FROM t"
    "   RETURNING id, target_id, case_id, requested_at)"
    " SELECT rq.id, json_build_object('id', rq.id, 'address', host(t.address), 'case_id',"
    " rq.case_id, 'status', 'pending', 'requested_at', rq.requested_at, 'url',"
    " '/v1/retests/' || rq.id)::text, pg_notify('relayaudit_due', host(t.address))"
    " FROM rq JOIN t ON t.id = rq.target_id";

int
retest_request(PGconn *conn, const struct retest_ask *ask, int64_t *id, char **json,
               const char **why)
{
	char tid[24], cid[24], secs[24];
	/* By case whenever neither target nor address is named: retest_min_interval may be 0. */
	bool by_case = ask->target_id <= 0 && ask->address == NULL && ask->case_id > 0;
	const char *params[] = {ask->target_id > 0 ? tid : NULL, ask->address,
	                        ask->case_id > 0 ? cid : NULL,
	                        by_case || ask->min_interval_s > 0 ? secs : NULL, ask->actor};
	PGresult *res;
	int made;

	db_fmt_i64(tid, ask->target_id);
	db_fmt_i64(cid, ask->case_id);
	db_fmt_i64(secs, ask->min_interval_s);
	if (json != NULL)
		*json = NULL;
	res = db_exec(conn, "retest_request", retest_sql, 5, params);
	if (res == NULL) {
		*why = "the database did not take the re-test request";
		return -1;
	}
	made = PQntuples(res) > 0;
	if (made) {
		*id = db_col_i64(res, 0, 0);
		if (json != NULL)
			*json = db_col_dup(res, 0, 1);
	}
	PQclear(res);
	return made;
}
