/*
 * The SQL for sink receipts (see receipts.h). Rows are written with unnest()
 * from array parameters, so a message with several tokens is one statement.
 */
#include "db/receipts.h"
#include "common/util.h"
#include "db/db.h"
#include "db/pgarray.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char insert_sql[] =
    "INSERT INTO sink_receipts (received_at, node, peer, helo, mail_from, rcpts, is_bounce,"
    "  probe_id, attempt, token_where, forged_tokens, received_chain, excerpt, size)"
    " SELECT to_timestamp(r.at), $1, r.peer::inet, r.helo, r.mail_from,"
    "  string_to_array(r.rcpts, E'\\n'), r.bounce, nullif(r.probe_id, 0), r.attempt,"
    "  r.token_where, r.forged, r.chain, r.excerpt, r.size"
    " FROM unnest($2::float8[], $3::text[], $4::text[], $5::text[], $6::text[],"
    "  $7::boolean[], $8::bigint[], $9::smallint[], $10::text[], $11::int[], $12::text[],"
    "  $13::text[], $14::int[])"
    "  AS r(at, peer, helo, mail_from, rcpts, bounce, probe_id, attempt, token_where, forged,"
    "       chain, excerpt, size)";

int
receipts_insert(PGconn *c, const char *node, const struct receipt_row *rows, size_t n)
{
	struct pgarray a[13];
	const char *params[14];
	int rc;

	for (size_t i = 0; i < ARRAY_LEN(a); i++)
		pgarray_init(&a[i]);
	for (size_t i = 0; i < n; i++) {
		const struct receipt_row *r = &rows[i];
		size_t len = 1;
		char *rcpts, *p;

		for (size_t k = 0; k < r->nrcpts; k++)
			len += strlen(r->rcpts[k]) + 1;
		rcpts = p = xcalloc(1, len);
		for (size_t k = 0; k < r->nrcpts; k++)
			p += snprintf(p, len - (size_t)(p - rcpts), "%s%s", k ? "\n" : "",
			              r->rcpts[k]);
		pgarray_add_f64(&a[0], (double)r->received_ms / 1000.0);
		pgarray_add_text(&a[1], r->peer);
		pgarray_add_text(&a[2], r->helo ? r->helo : "");
		pgarray_add_text(&a[3], r->mail_from ? r->mail_from : "");
		pgarray_add_text(&a[4], rcpts);
		pgarray_add_text(&a[5], r->is_bounce ? "t" : "f");
		pgarray_add_i64(&a[6], r->probe_id);
		if (r->probe_id != 0)
			pgarray_add_i64(&a[7], r->attempt);
		else
			pgarray_add_null(&a[7]);
		pgarray_add_text(&a[8], r->token_where ? r->token_where : "");
		pgarray_add_i64(&a[9], r->forged);
		pgarray_add_text(&a[10], r->received_chain ? r->received_chain : "");
		pgarray_add_text(&a[11], r->excerpt ? r->excerpt : "");
		pgarray_add_i64(&a[12], r->size);
		free(rcpts);
	}
	params[0] = node;
	for (size_t i = 0; i < ARRAY_LEN(a); i++)
		params[i + 1] = pgarray_str(&a[i]);
	rc = db_cmd(c, "receipts_insert", insert_sql, 14, params);
	for (size_t i = 0; i < ARRAY_LEN(a); i++)
		pgarray_free(&a[i]);
	return rc;
}

static void
receipts_copy(const PGresult *res, int row, int col, char *dst, size_t len)
{
	str_fmt(dst, len, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

int
receipts_pending(PGconn *c, bool orphans, int64_t max_age_s, struct receipt_match *out, int max)
{
	char age[24], lim[16];
	const char *params[3] = {age, lim, orphans ? "t" : "f"};
	PGresult *res;
	int n;

	str_fmt(age, sizeof(age), "%" PRId64, max_age_s);
	str_fmt(lim, sizeof(lim), "%d", max);
	/*
	 * Two scans on two partial indexes: fresh receipts (each read is settled
	 * or marked orphan, so the scan never sticks), and orphans whose probe
	 * row exists now (the join finds them; rows still without one are skipped).
	 */
	res = db_exec(
	    c, orphans ? "receipts_orphans" : "receipts_pending",
	    "SELECT r.id, r.probe_id, r.attempt, r.is_bounce, r.token_where,"
	    "  (extract(epoch FROM r.received_at) * 1000)::bigint,"
	    "  p.id IS NOT NULL AND p.verdict IS NOT NULL, p.verdict, p.backscatter,"
	    "  (extract(epoch FROM p.started_at) * 1000)::bigint, coalesce(p.duration_ms, 0),"
	    "  a.probe_id IS NOT NULL, a.sender, a.form, a.token, a.backscatter,"
	    "  coalesce(a.eod_code, 0), coalesce(a.outcome = 'relayed', false), coalesce(a.rcpts, 1),"
	    "  p.trick, coalesce(p.trick_alone, true), host(p.address), r.received_chain,"
	    "  coalesce((extract(epoch FROM p.confirm_deadline) * 1000)::bigint, 0),"
	    "  coalesce(p.port, 0), coalesce(a.tls, false)"
	    " FROM sink_receipts r"
	    " LEFT JOIN probes p ON p.id = r.probe_id"
	    " LEFT JOIN probe_attempts a ON a.probe_id = r.probe_id AND a.idx = r.attempt"
	    " WHERE NOT r.applied AND r.probe_id IS NOT NULL"
	    "  AND (CASE WHEN $3::boolean THEN r.orphan_at IS NOT NULL AND p.verdict IS NOT NULL"
	    "       ELSE r.orphan_at IS NULL END)"
	    "  AND r.received_at > now() - make_interval(secs => $1)"
	    " ORDER BY r.id LIMIT $2",
	    3, params);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		struct receipt_match *m = &out[i];

		memset(m, 0, sizeof(*m));
		m->receipt_id = db_col_i64(res, i, 0);
		m->probe_id = db_col_i64(res, i, 1);
		m->attempt = (int)db_col_i64(res, i, 2);
		m->is_bounce = PQgetvalue(res, i, 3)[0] == 't';
		receipts_copy(res, i, 4, m->token_where, sizeof(m->token_where));
		m->received_ms = db_col_i64(res, i, 5);
		m->have_probe = PQgetvalue(res, i, 6)[0] == 't';
		receipts_copy(res, i, 7, m->verdict, sizeof(m->verdict));
		receipts_copy(res, i, 8, m->backscatter, sizeof(m->backscatter));
		m->started_ms = db_col_i64(res, i, 9);
		m->duration_ms = db_col_i64(res, i, 10);
		m->have_attempt = PQgetvalue(res, i, 11)[0] == 't';
		receipts_copy(res, i, 12, m->sender, sizeof(m->sender));
		receipts_copy(res, i, 13, m->form, sizeof(m->form));
		receipts_copy(res, i, 14, m->token, sizeof(m->token));
		m->backscatter_attempt = PQgetvalue(res, i, 15)[0] == 't';
		m->eod_code = (int)db_col_i64(res, i, 16);
		m->attempt_used = PQgetvalue(res, i, 17)[0] == 't';
		m->rcpts = (int)db_col_i64(res, i, 18);
		receipts_copy(res, i, 19, m->trick, sizeof(m->trick));
		m->trick_alone = PQgetvalue(res, i, 20)[0] == 't';
		receipts_copy(res, i, 21, m->address, sizeof(m->address));
		m->received_chain = db_col_dup(res, i, 22);
		m->confirm_deadline_ms = db_col_i64(res, i, 23);
		m->port = (int)db_col_i64(res, i, 24);
		m->tls = PQgetvalue(res, i, 25)[0] == 't';
	}
	PQclear(res);
	return n;
}

void
receipts_match_free(struct receipt_match *m, int n)
{
	for (int i = 0; i < n; i++) {
		free(m[i].received_chain);
		m[i].received_chain = NULL;
	}
}

int
receipts_orphan(PGconn *c, const int64_t *ids, size_t n)
{
	struct pgarray a;
	const char *params[1];
	int rc;

	if (n == 0)
		return 0;
	pgarray_init(&a);
	for (size_t i = 0; i < n; i++)
		pgarray_add_i64(&a, ids[i]);
	params[0] = pgarray_str(&a);
	rc = db_cmd(c, "receipts_orphan",
	            "UPDATE sink_receipts SET orphan_at = now()"
	            " WHERE id = ANY($1::bigint[]) AND orphan_at IS NULL",
	            1, params);
	pgarray_free(&a);
	return rc;
}

int64_t
receipts_settle(PGconn *c, int64_t orphan_max_s)
{
	char age[24];
	const char *params[1] = {age};
	PGresult *res;
	int64_t n = 0;

	str_fmt(age, sizeof(age), "%" PRId64, orphan_max_s);
	res = db_exec(c, "receipts_settle",
	              "WITH a AS (UPDATE sink_receipts SET applied = true,"
	              "   anomaly = CASE WHEN forged_tokens > 0 THEN 'forged token' END"
	              "  WHERE NOT applied AND orphan_at IS NULL AND probe_id IS NULL RETURNING 1),"
	              " b AS (UPDATE sink_receipts SET applied = true,"
	              "   anomaly = 'its probe was never written'"
	              "  WHERE NOT applied AND orphan_at IS NOT NULL"
	              "   AND orphan_at < now() - make_interval(secs => $1) RETURNING 1)"
	              " SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b)",
	              1, params);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		n = db_col_i64(res, 0, 0);
	PQclear(res);
	return n;
}

int
receipts_apply(PGconn *c, const struct receipt_match *m, const char *verdict,
               const char *backscatter, const char *trick, bool trick_alone, bool used,
               bool via_target)
{
	char rid[24], pid[24], att[16];
	const char *p5[5] = {pid, verdict, backscatter, trick, trick_alone ? "t" : "f"};
	const char *p2[2] = {pid, att};
	const char *pr[2] = {rid, via_target ? "t" : "f"};

	str_fmt(rid, sizeof(rid), "%" PRId64, m->receipt_id);
	str_fmt(pid, sizeof(pid), "%" PRId64, m->probe_id);
	str_fmt(att, sizeof(att), "%d", m->attempt);
	if (db_begin(c) < 0)
		return -1;
	/*
	 * workflow_done_at = NULL when the verdict changes: a probe the workflow
	 * saw as accepted_not_relayed is news again. A renamed trick (a form
	 * confirmed alone) replaces one named from a transaction in company.
	 */
	if (db_cmd(c, "receipts_apply_probe",
	           "WITH p AS (UPDATE probes SET verdict = $2::verdict,"
	           "   backscatter = $3::backscatter_result,"
	           "   trick = coalesce($4, trick),"
	           "   trick_alone = CASE WHEN $4 IS NULL THEN trick_alone ELSE $5::boolean END,"
	           "   stage = CASE WHEN $2 = 'relay_confirmed' THEN 'sink' ELSE stage END,"
	           "   confirmed_at = coalesce(confirmed_at, now()),"
	           "   workflow_done_at = CASE WHEN verdict IS DISTINCT FROM $2::verdict"
	           "     OR backscatter IS DISTINCT FROM $3::backscatter_result"
	           "     THEN NULL ELSE workflow_done_at END"
	           "  WHERE id = $1 RETURNING id, target_id),"
	           " k AS (UPDATE cases SET trick = $4, updated_at = now()"
	           "  WHERE $4 IS NOT NULL AND probe_id = $1 AND trick IS DISTINCT FROM $4"
	           "   AND state NOT IN ('resolved', 'closed'))"
	           " UPDATE targets t SET last_verdict = $2::verdict,"
	           "   last_backscatter = $3::backscatter_result, updated_at = now()"
	           "  FROM p WHERE t.id = p.target_id AND t.last_probe_id = p.id",
	           5, p5) < 0)
		goto fail;
	if (used && db_cmd(c, "receipts_apply_attempt",
	                   "UPDATE probe_attempts SET outcome = 'relayed', stage = 'sink'"
	                   " WHERE probe_id = $1 AND idx = $2",
	                   2, p2) < 0)
		goto fail;
	if (db_cmd(c, "receipts_applied",
	           "UPDATE sink_receipts SET applied = true, via_target = $2::boolean WHERE id = $1",
	           2, pr) < 0)
		goto fail;
	return db_commit(c);
fail:
	db_rollback(c);
	return -1;
}

int
receipts_settle_many(PGconn *c, const struct receipt_settled *s, size_t n)
{
	struct pgarray a[6];
	const char *params[6];
	int rc;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < 6; i++)
		pgarray_init(&a[i]);
	for (size_t i = 0; i < n; i++) {
		pgarray_add_i64(&a[0], s[i].receipt_id);
		pgarray_add_i64(&a[1], s[i].probe_id);
		pgarray_add_i64(&a[2], s[i].attempt);
		pgarray_add_text(&a[3], s[i].used ? "t" : "f");
		if (s[i].used)
			pgarray_add_null(&a[4]);
		else
			pgarray_add_text(&a[4], s[i].anomaly);
		if (s[i].via_target < 0)
			pgarray_add_null(&a[5]);
		else
			pgarray_add_text(&a[5], s[i].via_target ? "t" : "f");
	}
	for (size_t i = 0; i < 6; i++)
		params[i] = pgarray_str(&a[i]);
	rc = db_cmd(c, "receipts_settle_many",
	            "WITH s AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::smallint[],"
	            "   $4::boolean[], $5::text[], $6::boolean[])"
	            "   AS s(id, probe_id, attempt, used, anomaly, via)),"
	            " a AS (UPDATE probe_attempts pa SET outcome = 'relayed', stage = 'sink' FROM s"
	            "   WHERE s.used AND pa.probe_id = s.probe_id AND pa.idx = s.attempt)"
	            " UPDATE sink_receipts r SET applied = true, anomaly = s.anomaly, via_target = s.via"
	            "  FROM s WHERE r.id = s.id",
	            6, params);
	for (size_t i = 0; i < 6; i++)
		pgarray_free(&a[i]);
	return rc;
}
