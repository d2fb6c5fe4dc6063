/*
 * The SQL for probe results (see probes.h). Each batch travels as array
 * parameters unpacked with unnest(), so a batch of hundreds of targets is a
 * handful of statements in one transaction.
 */
#include "db/probes.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"
#include "db/pgarray.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void
probe_row_clear(struct probe_row *p)
{
	for (size_t i = 0; i < p->nattempts; i++) {
		struct attempt_row *a = &p->attempts[i];

		free(a->sender);
		free(a->form);
		free(a->mail_from);
		free(a->rcpt_to);
		free(a->token);
		free(a->stage);
		free(a->outcome);
	}
	free(p->attempts);
	free(p->address);
	free(p->trick);
	free(p->stage);
	free(p->error);
	free(p->banner);
	free(p->evidence);
	memset(p, 0, sizeof(*p));
}

static const char insert_probes_sql[] =
	"INSERT INTO probes (id, target_id, address, port, node, sweep_id, started_at,"
	"  finished_at, duration_ms, verdict, backscatter, trick, stage, error, banner,"
	"  evidence, confirm_deadline, trick_alone)"
	" SELECT r.id, r.target_id, r.address, r.port, $1, r.sweep_id, to_timestamp(r.started),"
	"  to_timestamp(r.started) + make_interval(secs => r.duration_ms / 1000.0), r.duration_ms,"
	"  r.verdict::verdict, r.backscatter::backscatter_result, r.trick, r.stage, r.error,"
	"  r.banner, r.evidence::jsonb, to_timestamp(r.confirm_deadline), r.trick_alone"
	" FROM unnest($2::bigint[], $3::bigint[], $4::inet[], $5::int[], $6::bigint[],"
	"  $7::float8[], $8::int[], $9::text[], $10::text[], $11::text[], $12::text[],"
	"  $13::text[], $14::text[], $15::text[], $16::float8[], $17::boolean[])"
	"  AS r(id, target_id, address, port, sweep_id, started, duration_ms, verdict,"
	"       backscatter, trick, stage, error, banner, evidence, confirm_deadline,"
	"       trick_alone)"
	" ON CONFLICT (id) DO NOTHING";

static const char insert_attempts_sql[] =
	"INSERT INTO probe_attempts (probe_id, idx, sender, form, backscatter, mail_from,"
	"  rcpt_to, token, mail_code, rcpt_code, data_code, eod_code, stage, outcome, rcpts, tls)"
	" SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::text[],"
	"  $5::boolean[], $6::text[], $7::text[], $8::text[], $9::smallint[], $10::smallint[],"
	"  $11::smallint[], $12::smallint[], $13::text[], $14::text[], $15::smallint[],"
	"  $16::boolean[])"
	" ON CONFLICT (probe_id, idx) DO NOTHING";

/*
 * The lease must still be ours: after a lost connection the batch may
 * already have been applied (the lease is then gone and nothing is counted
 * twice). A target re-marked while we held it (re-test, new sweep) stays
 * due now at its raised priority instead of being pushed to its interval.
 */
static const char update_targets_sql[] =
	"WITH r AS (SELECT * FROM unnest($2::bigint[], $3::int[], $4::bigint[], $5::bigint[],"
	"    $6::text[], $7::text[], $8::float8[])"
	"    AS r(id, prio, sweep, probe_id, verdict, backscatter, next_s)),"
	" u AS ("
	"  UPDATE targets t SET lease_owner = NULL, lease_expires = NULL,"
	"    last_probe_id = coalesce(r.probe_id, t.last_probe_id),"
	"    last_probed_at = CASE WHEN r.probe_id IS NULL THEN t.last_probed_at ELSE now() END,"
	"    last_verdict = coalesce(r.verdict::verdict, t.last_verdict),"
	"    last_backscatter = coalesce(r.backscatter::backscatter_result, t.last_backscatter),"
	"    priority = CASE WHEN t.priority > r.prio OR t.sweep_id IS DISTINCT FROM r.sweep"
	"                    THEN t.priority ELSE 0 END,"
	"    next_probe_at = CASE WHEN t.priority > r.prio OR t.sweep_id IS DISTINCT FROM r.sweep"
	"                    THEN now() ELSE now() + make_interval(secs => r.next_s) END,"
	"    sweep_id = CASE WHEN t.sweep_id IS DISTINCT FROM r.sweep THEN t.sweep_id END,"
	"    updated_at = now()"
	"   FROM r WHERE t.id = r.id AND t.lease_owner = $1"
	/*
	 * The ids again, behind ARRAY(subquery): the planner cannot see how
	 * many there are and takes primary-key lookups. Given the bare array it
	 * may scan and hash the whole table instead (seconds per batch).
	 */
	"    AND t.id = ANY(ARRAY(SELECT unnest($2::bigint[])))"
	"  RETURNING r.sweep)"
	" UPDATE sweeps s SET done = s.done + c.n,"
	"   finished_at = CASE WHEN s.done + c.n >= s.total THEN coalesce(s.finished_at, now())"
	"                 ELSE s.finished_at END"
	"  FROM (SELECT sweep, count(*) AS n FROM u WHERE sweep IS NOT NULL GROUP BY sweep) c"
	" WHERE s.id = c.sweep";

/*
 * The writer only notes which probe answers a pending re-test request; the
 * request stays open (done_at NULL) until the workflow has judged that probe
 * and, through db_retest_answer(), told the customer. Closing it here left
 * the workflow nothing to answer, and no "still open" mail went out.
 */
static const char update_retests_sql[] =
	"UPDATE retest_requests q SET probe_id = r.probe_id"
	"  FROM unnest($1::bigint[], $2::bigint[], $3::float8[]) AS r(id, probe_id, started)"
	" WHERE q.target_id = r.id AND q.done_at IS NULL AND q.requested_at <= to_timestamp(r.started)";

static int
probes_exec(PGconn *c, const char *what, const char *sql, int n, const char *const *params)
{
	int64_t t0 = now_mono_ms();
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	int rc = 0;

	log_debug("sql_timing", "query=%s ms=%lld", what, (long long)(now_mono_ms() - t0));

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		char buf[512];

		/* A lost connection is the database thread's to report, once. */
		if (PQstatus(c) != CONNECTION_BAD) {
			db_message_clean(PQresultErrorMessage(r), buf, sizeof(buf));
			log_warn("db_error", "query=%s reason=\"%s\"", what, buf);
		}
		rc = -1;
	}
	PQclear(r);
	return rc;
}

static void
add_opt_i64(struct pgarray *a, int64_t v)
{
	if (v == 0)
		pgarray_add_null(a);
	else
		pgarray_add_i64(a, v);
}

static int
write_probes(PGconn *c, const char *node, const struct probe_row *const *rows, size_t n)
{
	enum { ID, TARGET, ADDR, PORT, SWEEP, STARTED, DUR, VERDICT, BACKSCATTER, TRICK, STAGE,
	       ERR, BANNER, EVIDENCE, CONFIRM, ALONE, NCOL };
	struct pgarray a[NCOL];
	const char *params[NCOL + 1];
	int rc;

	if (n == 0)
		return 0;
	for (int i = 0; i < NCOL; i++)
		pgarray_init(&a[i]);
	for (size_t i = 0; i < n; i++) {
		const struct probe_row *p = rows[i];

		pgarray_add_i64(&a[ID], p->id);
		add_opt_i64(&a[TARGET], p->target_id);
		pgarray_add_text(&a[ADDR], p->address);
		pgarray_add_i64(&a[PORT], p->port);
		add_opt_i64(&a[SWEEP], p->sweep_id);
		pgarray_add_f64(&a[STARTED], (double)p->started_ms / 1000.0);
		pgarray_add_i64(&a[DUR], p->duration_ms);
		pgarray_add_text(&a[VERDICT], verdict_name(p->verdict));
		pgarray_add_text(&a[BACKSCATTER], backscatter_name(p->backscatter));
		pgarray_add_text(&a[TRICK], p->trick);
		pgarray_add_text(&a[STAGE], p->stage);
		pgarray_add_text(&a[ERR], p->error);
		pgarray_add_text(&a[BANNER], p->banner);
		pgarray_add_text(&a[EVIDENCE], p->evidence != NULL ? p->evidence : "{}");
		if (p->confirm_deadline_ms == 0)
			pgarray_add_null(&a[CONFIRM]);
		else
			pgarray_add_f64(&a[CONFIRM], (double)p->confirm_deadline_ms / 1000.0);
		pgarray_add_text(&a[ALONE], p->trick_alone ? "t" : "f");
	}
	params[0] = node;
	for (int i = 0; i < NCOL; i++)
		params[i + 1] = pgarray_str(&a[i]);
	rc = probes_exec(c, "insert_probes", insert_probes_sql, NCOL + 1, params);
	for (int i = 0; i < NCOL; i++)
		pgarray_free(&a[i]);
	return rc;
}

static void
add_code(struct pgarray *a, int code)
{
	if (code == 0)
		pgarray_add_null(a);
	else
		pgarray_add_i64(a, code);
}

static int
write_attempts(PGconn *c, const struct probe_row *const *rows, size_t n)
{
	enum { PID, IDX, SENDER, FORM, BS, MAILFROM, RCPTTO, TOKEN, MAILC, RCPTC, DATAC, EODC,
	       STAGE, OUTCOME, RCPTS, TLS, NCOL };
	struct pgarray a[NCOL];
	const char *params[NCOL];
	size_t count = 0;
	int rc;

	for (int i = 0; i < NCOL; i++)
		pgarray_init(&a[i]);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < rows[i]->nattempts; k++) {
			const struct attempt_row *t = &rows[i]->attempts[k];

			pgarray_add_i64(&a[PID], rows[i]->id);
			pgarray_add_i64(&a[IDX], t->idx);
			pgarray_add_text(&a[SENDER], t->sender != NULL ? t->sender : "");
			pgarray_add_text(&a[FORM], t->form != NULL ? t->form : "");
			pgarray_add_text(&a[BS], t->backscatter ? "t" : "f");
			pgarray_add_text(&a[MAILFROM], t->mail_from != NULL ? t->mail_from : "");
			pgarray_add_text(&a[RCPTTO], t->rcpt_to != NULL ? t->rcpt_to : "");
			pgarray_add_text(&a[TOKEN], t->token != NULL ? t->token : "");
			add_code(&a[MAILC], t->mail_code);
			add_code(&a[RCPTC], t->rcpt_code);
			add_code(&a[DATAC], t->data_code);
			add_code(&a[EODC], t->eod_code);
			pgarray_add_text(&a[STAGE], t->stage != NULL ? t->stage : "");
			pgarray_add_text(&a[OUTCOME], t->outcome != NULL ? t->outcome : "");
			pgarray_add_i64(&a[RCPTS], t->rcpts > 0 ? t->rcpts : 1);
			pgarray_add_text(&a[TLS], t->tls ? "t" : "f");
			count++;
		}
	}
	rc = 0;
	if (count > 0) {
		for (int i = 0; i < NCOL; i++)
			params[i] = pgarray_str(&a[i]);
		rc = probes_exec(c, "insert_attempts", insert_attempts_sql, NCOL, params);
	}
	for (int i = 0; i < NCOL; i++)
		pgarray_free(&a[i]);
	return rc;
}

static int
write_targets(PGconn *c, const char *node, const struct target_done *t, size_t n)
{
	enum { ID, PRIO, SWEEP, PROBE, VERDICT, BACKSCATTER, NEXT, NCOL };
	struct pgarray a[NCOL], rid, rprobe, rstarted;
	const char *params[NCOL + 1];
	int rc;

	if (n == 0)
		return 0;
	for (int i = 0; i < NCOL; i++)
		pgarray_init(&a[i]);
	pgarray_init(&rid);
	pgarray_init(&rprobe);
	pgarray_init(&rstarted);
	for (size_t i = 0; i < n; i++) {
		pgarray_add_i64(&a[ID], t[i].target_id);
		pgarray_add_i64(&a[PRIO], t[i].claimed_priority);
		add_opt_i64(&a[SWEEP], t[i].claimed_sweep);
		add_opt_i64(&a[PROBE], t[i].last_probe_id);
		/* Nothing probed (excluded, skipped): NULL keeps the target's last verdict. */
		pgarray_add_text(&a[VERDICT],
		                 t[i].last_probe_id != 0 ? verdict_name(t[i].last_verdict) : NULL);
		pgarray_add_text(&a[BACKSCATTER], t[i].last_probe_id != 0
		                                      ? backscatter_name(t[i].last_backscatter)
		                                      : NULL);
		pgarray_add_i64(&a[NEXT], t[i].next_in_s);
		/* Re-test requests are made at priority 3; only those answer one. */
		if (t[i].claimed_priority == 3 && t[i].last_probe_id != 0) {
			pgarray_add_i64(&rid, t[i].target_id);
			pgarray_add_i64(&rprobe, t[i].last_probe_id);
			pgarray_add_f64(&rstarted, (double)t[i].started_ms / 1000.0);
		}
	}
	params[0] = node;
	for (int i = 0; i < NCOL; i++)
		params[i + 1] = pgarray_str(&a[i]);
	rc = probes_exec(c, "update_targets", update_targets_sql, NCOL + 1, params);
	if (rc == 0 && rid.n > 0) {
		const char *rp[3] = {pgarray_str(&rid), pgarray_str(&rprobe), pgarray_str(&rstarted)};

		rc = probes_exec(c, "update_retests", update_retests_sql, 3, rp);
	}
	for (int i = 0; i < NCOL; i++)
		pgarray_free(&a[i]);
	pgarray_free(&rid);
	pgarray_free(&rprobe);
	pgarray_free(&rstarted);
	return rc;
}

int
probes_write_batch(PGconn *c, const char *node, const struct probe_row *const *rows,
		   size_t nrows, const struct target_done *targets, size_t ntargets)
{
	if (probes_exec(c, "begin", "BEGIN", 0, NULL) != 0)
		return -1;
	/*
	 * Targets first: the probe rows' foreign key check then finds each
	 * target already locked by this transaction. The other way round, the
	 * key-share lock of the check and the update's lock on the same row
	 * make PostgreSQL build a multixact per row, which made a batch
	 * ten times slower.
	 */
	if (write_targets(c, node, targets, ntargets) != 0 ||
	    write_probes(c, node, rows, nrows) != 0 || write_attempts(c, rows, nrows) != 0 ||
	    /* Wakes whoever follows results (the workflow runner) without polling. */
	    probes_exec(c, "notify", "SELECT pg_notify('relayaudit_probes', '')", 0, NULL) != 0 ||
	    probes_exec(c, "commit", "COMMIT", 0, NULL) != 0) {
		if (PQstatus(c) == CONNECTION_OK)
			PQclear(PQexec(c, "ROLLBACK"));
		return -1;
	}
	return 0;
}

static int64_t
probes_count(PGconn *c, const char *what, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	int64_t count = -1;

	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK) {
		parse_i64(PQcmdTuples(r), 0, INT64_MAX, &count);
	} else {
		char buf[512];

		if (PQstatus(c) != CONNECTION_BAD) {
			db_message_clean(PQresultErrorMessage(r), buf, sizeof(buf));
			log_warn("db_error", "query=%s reason=\"%s\"", what, buf);
		}
	}
	PQclear(r);
	return count;
}

int64_t
probes_expire_confirm(PGconn *c, int limit, probes_expired_fn fn, void *arg)
{
	char lim[16];
	const char *params[1] = {lim};
	PGresult *r;
	int64_t n = -1;

	str_fmt(lim, sizeof(lim), "%d", limit);
	r = PQexecParams(
		c,
		"WITH p AS (UPDATE probes SET verdict = 'accepted_not_relayed'"
		"  WHERE id IN (SELECT id FROM probes WHERE verdict = 'accepted'"
		"               AND confirm_deadline <= now() ORDER BY confirm_deadline"
		"               LIMIT $1 FOR UPDATE SKIP LOCKED)"
		"  RETURNING id, target_id, host(address) AS address, port),"
		" t AS (UPDATE targets t SET last_verdict = 'accepted_not_relayed', updated_at = now()"
		"  FROM p WHERE t.id = p.target_id AND t.last_probe_id = p.id"
		"   AND t.last_verdict = 'accepted')"
		" SELECT id, address, port FROM p",
		1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		n = PQntuples(r);
		for (int i = 0; fn != NULL && i < (int)n; i++)
			fn(arg, db_col_i64(r, i, 0), PQgetvalue(r, i, 1), (int)db_col_i64(r, i, 2));
	} else if (PQstatus(c) != CONNECTION_BAD) {
		char buf[512];

		db_message_clean(PQresultErrorMessage(r), buf, sizeof(buf));
		log_warn("db_error", "query=probes_expire_confirm reason=\"%s\"", buf);
	}
	PQclear(r);
	return n;
}

int64_t
probes_prune(PGconn *c, int64_t retention_s, int limit)
{
	char ret[32], lim[16];
	const char *params[2] = {ret, lim};

	str_fmt(ret, sizeof(ret), "%" PRId64, retention_s);
	str_fmt(lim, sizeof(lim), "%d", limit);
	return probes_count(c, "probes_prune",
			    "DELETE FROM probes WHERE id IN (SELECT id FROM probes"
			    " WHERE started_at < now() - make_interval(secs => $1)"
			    " ORDER BY started_at LIMIT $2)",
			    2, params);
}
