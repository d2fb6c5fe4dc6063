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
receipts_pending(PGconn *c, int64_t max_age_s, struct receipt_match *out, int max)
{
	char age[24], lim[16];
	const char *params[2] = {age, lim};
	PGresult *res;
	int n;

	str_fmt(age, sizeof(age), "%" PRId64, max_age_s);
	str_fmt(lim, sizeof(lim), "%d", max);
	res = db_exec(
	    c, "receipts_pending",
	    "SELECT r.id, r.probe_id, r.attempt, r.is_bounce, r.token_where,"
	    "  (extract(epoch FROM r.received_at) * 1000)::bigint,"
	    "  p.id IS NOT NULL AND p.verdict IS NOT NULL, p.verdict, p.backscatter,"
	    "  (extract(epoch FROM p.started_at) * 1000)::bigint, coalesce(p.duration_ms, 0),"
	    "  a.probe_id IS NOT NULL, a.sender, a.form, a.token, a.backscatter,"
	    "  coalesce(a.eod_code, 0), host(p.address), coalesce(p.port, 0)"
	    " FROM sink_receipts r"
	    " LEFT JOIN probes p ON p.id = r.probe_id"
	    " LEFT JOIN probe_attempts a ON a.probe_id = r.probe_id AND a.idx = r.attempt"
	    " WHERE NOT r.applied AND r.probe_id IS NOT NULL"
	    "  AND r.received_at > now() - make_interval(secs => $1)"
	    " ORDER BY r.id LIMIT $2",
	    2, params);
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
		receipts_copy(res, i, 17, m->address, sizeof(m->address));
		m->port = (int)db_col_i64(res, i, 18);
	}
	PQclear(res);
	return n;
}

int
receipts_apply(PGconn *c, int64_t receipt_id, int64_t probe_id, int attempt, const char *verdict,
               const char *backscatter, const char *trick, bool relayed)
{
	char rid[24], pid[24], att[16];
	const char *p4[4] = {pid, verdict, backscatter, trick};
	const char *p2[2] = {pid, att};
	const char *p1[1] = {rid};

	str_fmt(rid, sizeof(rid), "%" PRId64, receipt_id);
	str_fmt(pid, sizeof(pid), "%" PRId64, probe_id);
	str_fmt(att, sizeof(att), "%d", attempt);
	if (db_begin(c) < 0)
		return -1;
	/* workflow_done_at = NULL: a probe the workflow saw as accepted_not_relayed is news again.
	 */
	if (db_cmd(c, "receipts_apply_probe",
	           "WITH p AS (UPDATE probes SET verdict = $2::verdict,"
	           /* The first receipt names the trick; later ones of the same probe keep it. */
	           "   backscatter = $3::backscatter_result,"
	           "   trick = CASE WHEN verdict = 'relay_confirmed' THEN trick"
	           "                ELSE coalesce($4, trick) END,"
	           "   stage = CASE WHEN $2 = 'relay_confirmed' THEN 'sink' ELSE stage END,"
	           "   confirmed_at = coalesce(confirmed_at, now()), workflow_done_at = NULL"
	           "  WHERE id = $1 RETURNING id, target_id)"
	           " UPDATE targets t SET last_verdict = $2::verdict,"
	           "   last_backscatter = $3::backscatter_result, updated_at = now()"
	           "  FROM p WHERE t.id = p.target_id AND t.last_probe_id = p.id",
	           4, p4) < 0)
		goto fail;
	if (relayed && db_cmd(c, "receipts_apply_attempt",
	                      "UPDATE probe_attempts SET outcome = 'relayed', stage = 'sink'"
	                      " WHERE probe_id = $1 AND idx = $2",
	                      2, p2) < 0)
		goto fail;
	if (db_cmd(c, "receipts_applied", "UPDATE sink_receipts SET applied = true WHERE id = $1",
	           1, p1) < 0)
		goto fail;
	return db_commit(c);
fail:
	db_rollback(c);
	return -1;
}

int
receipts_done(PGconn *c, int64_t receipt_id)
{
	char rid[24];
	const char *p1[1] = {rid};

	str_fmt(rid, sizeof(rid), "%" PRId64, receipt_id);
	return db_cmd(c, "receipts_done", "UPDATE sink_receipts SET applied = true WHERE id = $1",
	              1, p1);
}
