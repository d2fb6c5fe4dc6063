/*
 * The DNSBL checks' SQL (see dnsbl.h). A new listing and its re-test request
 * and timeline entry are one transaction, so a listing is never recorded
 * without the re-test it asks for.
 */
#include "db/dnsbl.h"
#include "common/util.h"
#include "db/db.h"
#include "db/retests.h"

#include <stdlib.h>

int
dnsbl_targets(PGconn *conn, int64_t after_id, int limit, struct dnsbl_target **out)
{
	char after[24], lim[24];
	const char *params[] = {after, lim};
	PGresult *res;
	int n;

	db_fmt_i64(after, after_id);
	db_fmt_i64(lim, limit);
	res = db_exec(conn, "dnsbl_targets",
		      "SELECT t.id, host(t.address), ' ' || coalesce((SELECT string_agg(l.zone, ' ')"
		      " FROM dnsbl_listings l WHERE l.target_id = t.id AND l.delisted_at IS NULL), '')"
		      " || ' ' FROM targets t WHERE NOT t.excluded AND t.id > $1::bigint"
		      " ORDER BY t.id LIMIT $2::int",
		      2, params);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	*out = xcalloc((size_t)n + 1, sizeof(**out));
	for (int i = 0; i < n; i++) {
		(*out)[i].id = db_col_i64(res, i, 0);
		db_col_copy(res, i, 1, (*out)[i].address, sizeof((*out)[i].address));
		(*out)[i].listed = db_col_dup(res, i, 2);
	}
	PQclear(res);
	return n;
}

void
dnsbl_targets_free(struct dnsbl_target *t, int n)
{
	for (int i = 0; i < n; i++)
		free(t[i].listed);
	free(t);
}

/* The active case's timeline: one event, the state unchanged. */
static int
dnsbl_case_event(PGconn *conn, const char *tid, const char *event, const char *zone,
		 const char *code, const char *retest)
{
	const char *params[] = {tid, event, zone, code, retest};

	return db_cmd(conn, "dnsbl_case_event",
		      "INSERT INTO case_events (case_id, event, from_state, to_state, actor, detail)"
		      " SELECT k.id, $2, k.state, k.state, 'dnsbl', jsonb_strip_nulls(jsonb_build_object("
		      " 'zone', $3::text, 'code', $4::text, 'retest_id', $5::bigint))"
		      " FROM cases k WHERE k.target_id = $1::bigint"
		      " AND k.state NOT IN ('resolved', 'closed')",
		      5, params);
}

int
dnsbl_record_listed(PGconn *conn, int64_t target_id, const char *zone, const char *code)
{
	char tid[24], rid[24];
	const char *params[] = {tid, zone, code};
	const char *why = NULL;
	char *actor = xasprintf("dnsbl:%s", zone);
	struct retest_ask ask = {.target_id = target_id, .actor = actor};
	PGresult *res;
	int64_t retest_id = 0;
	int fresh, made = 0;

	db_fmt_i64(tid, target_id);
	if (db_begin(conn) < 0)
		goto fail;
	/* xmax = 0: the row was inserted, not the open listing updated. */
	res = db_exec(conn, "dnsbl_listed",
		      "INSERT INTO dnsbl_listings (target_id, zone, code) VALUES ($1::bigint, $2, $3)"
		      " ON CONFLICT (target_id, zone) WHERE delisted_at IS NULL"
		      " DO UPDATE SET checked_at = now(), code = EXCLUDED.code"
		      " RETURNING (xmax = 0)::text",
		      3, params);
	if (res == NULL)
		goto fail;
	fresh = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (fresh) {
		made = retest_request(conn, &ask, &retest_id, NULL, &why);
		if (made < 0)
			goto fail;
		db_fmt_i64(rid, retest_id);
		if (dnsbl_case_event(conn, tid, "dnsbl_listed", zone, code, made ? rid : NULL) < 0)
			goto fail;
	}
	if (db_commit(conn) < 0)
		goto fail;
	free(actor);
	return fresh;
fail:
	db_rollback(conn);
	free(actor);
	return -1;
}

int
dnsbl_record_delisted(PGconn *conn, int64_t target_id, const char *zone)
{
	char tid[24];
	const char *params[] = {tid, zone};
	PGresult *res;
	char *code = NULL;
	int gone;

	db_fmt_i64(tid, target_id);
	if (db_begin(conn) < 0)
		return -1;
	res = db_exec(conn, "dnsbl_delisted",
		      "UPDATE dnsbl_listings SET delisted_at = now(), checked_at = now()"
		      " WHERE target_id = $1::bigint AND zone = $2 AND delisted_at IS NULL RETURNING code",
		      2, params);
	if (res == NULL)
		goto fail;
	gone = PQntuples(res) == 1;
	if (gone)
		code = db_col_dup(res, 0, 0);
	PQclear(res);
	if (gone && dnsbl_case_event(conn, tid, "dnsbl_delisted", zone, code, NULL) < 0)
		goto fail;
	free(code);
	if (db_commit(conn) < 0) {
		db_rollback(conn);
		return -1;
	}
	return gone;
fail:
	free(code);
	db_rollback(conn);
	return -1;
}
