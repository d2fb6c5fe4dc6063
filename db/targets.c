/*
 * The SQL for targets, sweeps and nodes. The claim query walks
 * targets_due_idx in (priority DESC, next_probe_at) order and skips rows
 * another node holds (SKIP LOCKED) or has leased (lease_expires > now()).
 */
#include "db/targets.h"
#include "common/log.h"
#include "common/mail_domain.h"
#include "common/util.h"
#include "db/db.h"
#include "db/pgarray.h"
#include "probe-engine/catalogue.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Only lease_owner and lease_expires change, and no index covers them
 * (migration 002), so a claim is a HOT update: no index entry is written.
 * Leased rows keep their place in targets_due_idx and are skipped by the
 * filter; a lease that runs out makes its row claimable again as it stands.
 * The ids go through an array so the update reaches rows by primary key.
 */
static const char claim_sql[] =
	"UPDATE targets t"
	"   SET lease_owner = $1, lease_expires = now() + make_interval(secs => $3)"
	" WHERE t.id = ANY(ARRAY("
	"  SELECT id FROM targets"
	"   WHERE NOT excluded AND next_probe_at <= now()"
	"     AND (lease_owner IS NULL OR lease_expires <= now())"
	"   ORDER BY priority DESC, next_probe_at"
	"   LIMIT $2 FOR UPDATE SKIP LOCKED))"
	" RETURNING t.id, host(t.address), array_to_string(t.ports, ','),"
	"   array_to_json(t.domains)::text, t.priority, coalesce(t.sweep_id, 0),"
	"   coalesce(extract(epoch FROM t.probe_interval)::bigint, 0),"
	"   (SELECT string_agg(nextval('probes_id_seq')::text, ',')"
	"      FROM generate_series(1, cardinality(t.ports))),"
	"   (SELECT array_to_json(c.domains)::text FROM customers c WHERE c.id = t.customer_id)";

static void
db_log_error(const char *what, PGconn *c, PGresult *r)
{
	const char *m = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c);
	char buf[512];

	/* A lost connection is the database thread's to report, once. */
	if (PQstatus(c) == CONNECTION_BAD)
		return;
	db_message_clean(m, buf, sizeof(buf));
	log_warn("db_error", "query=%s reason=\"%s\"", what, buf);
}

void
claimed_target_free(struct claimed_target *t)
{
	free(t->address);
	for (size_t i = 0; i < t->ndomains; i++)
		free(t->domains[i]);
	free(t->domains);
}

/*
 * The domains a probe of t hands the engine: the customer's mail domains on
 * record, then the target's own, each once (normal form, compared without
 * case), at most what the catalogue has attempts for. Customer domains come
 * first because the customer's record is what the abuse desk keeps current.
 */
static void
claim_domains(struct claimed_target *t, const char *const *lists, size_t nlists)
{
	size_t dropped = 0;

	t->domains = xcalloc(CATALOGUE_MAX_DOMAINS + 1, sizeof(char *));
	for (size_t l = 0; l < nlists; l++) {
		json_t *a = json_loads(lists[l], 0, NULL), *v;
		size_t i;

		json_array_foreach(a, i, v) {
			char norm[MAIL_DOMAIN_MAX + 1], *d;
			const char *why;
			int added;

			/* Rows written before the check was shared may hold a name it refuses. */
			if (mail_domain_normal(json_string_value(v), norm, &why) < 0)
				continue;
			d = xstrdup(norm);
			added = mail_domain_add((const char **)t->domains, &t->ndomains,
			                        CATALOGUE_MAX_DOMAINS, d);
			if (added <= 0)
				free(d);
			dropped += added < 0;
		}
		json_decref(a);
	}
	if (dropped > 0)
		log_debug("target_domains_capped", "target=%" PRId64 " kept=%zu dropped=%zu", t->id,
		          t->ndomains, dropped);
}

int
targets_claim(PGconn *c, const char *node, int limit, int64_t lease_s,
	      struct claimed_target **out, size_t *n)
{
	char lim[16], lease[32];
	const char *params[3] = {node, lim, lease};
	PGresult *r;
	int rows;

	*out = NULL;
	*n = 0;
	str_fmt(lim, sizeof(lim), "%d", limit);
	str_fmt(lease, sizeof(lease), "%" PRId64, lease_s);
	r = PQexecParams(c, claim_sql, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		db_log_error("targets_claim", c, r);
		PQclear(r);
		return -1;
	}
	rows = PQntuples(r);
	*out = xcalloc(rows > 0 ? (size_t)rows : 1, sizeof(**out));
	for (int i = 0; i < rows; i++) {
		struct claimed_target *t = &(*out)[*n];
		int64_t ports[TARGET_MAX_PORTS];
		int np, ni;

		t->id = db_col_i64(r, i, 0);
		t->address = xstrdup(PQgetvalue(r, i, 1));
		np = pgarray_parse_ints(PQgetvalue(r, i, 2), ports, TARGET_MAX_PORTS);
		ni = pgarray_parse_ints(PQgetvalue(r, i, 7), t->probe_ids, TARGET_MAX_PORTS);
		if (np <= 0 || np != ni) {
			log_warn("claim_bad_row", "target=%" PRId64, t->id);
			free(t->address);
			continue;
		}
		t->nports = (size_t)np;
		for (int p = 0; p < np; p++)
			t->ports[p] = (int)ports[p];
		{
			const char *lists[2] = {PQgetvalue(r, i, 8), PQgetvalue(r, i, 3)};

			claim_domains(t, lists, 2);
		}
		t->priority = (int)db_col_i64(r, i, 4);
		t->sweep_id = db_col_i64(r, i, 5);
		t->interval_s = db_col_i64(r, i, 6);
		(*n)++;
	}
	PQclear(r);
	return 0;
}

static int64_t
exec_count(PGconn *c, const char *what, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	int64_t n = -1;

	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		parse_i64(PQcmdTuples(r), 0, INT64_MAX, &n);
	else
		db_log_error(what, c, r);
	PQclear(r);
	return n;
}

int64_t
targets_release(PGconn *c, const char *node, const int64_t *ids, size_t n)
{
	struct pgarray a;
	const char *params[2];
	int64_t count;

	pgarray_init(&a);
	for (size_t i = 0; i < n; i++)
		pgarray_add_i64(&a, ids[i]);
	params[0] = node;
	params[1] = pgarray_str(&a);
	count = exec_count(c, "targets_release",
			   "UPDATE targets SET lease_owner = NULL, lease_expires = NULL,"
			   " next_probe_at = now() WHERE id = ANY($2::bigint[]) AND lease_owner = $1",
			   2, params);
	pgarray_free(&a);
	return count;
}

int64_t
targets_release_node(PGconn *c, const char *node)
{
	const char *params[1] = {node};

	return exec_count(c, "targets_release_node",
			  "UPDATE targets SET lease_owner = NULL, lease_expires = NULL,"
			  " next_probe_at = now() WHERE lease_owner = $1",
			  1, params);
}

/*
 * One transaction: the sweep row, its targets marked (due now unless leased,
 * priority raised, sweep id set), the total recorded. A target a later sweep
 * marks again is counted by the later one.
 */
static const char sweep_insert_sql[] =
	"INSERT INTO sweeps (scope, cidr, customer_id, priority, created_by)"
	" VALUES ($1, $2::cidr, $3::bigint, $4, $5) RETURNING id";
static const char sweep_mark_sql[] =
	"UPDATE targets t SET sweep_id = $1, priority = greatest(t.priority, $2::smallint),"
	"       next_probe_at = CASE WHEN t.lease_owner IS NOT NULL AND t.lease_expires > now()"
	"                            THEN t.next_probe_at ELSE least(t.next_probe_at, now()) END,"
	"       updated_at = now()"
	" WHERE NOT t.excluded"
	"   AND ($3::cidr IS NULL OR t.address <<= $3::cidr)"
	"   AND ($4::bigint IS NULL OR t.customer_id = $4::bigint)";
static const char sweep_total_sql[] =
	"UPDATE sweeps SET total = $2, finished_at = CASE WHEN $2 = 0 THEN now() END WHERE id = $1";

static const char sweep_json_sql[] =
	"SELECT json_build_object('id', s.id, 'scope', s.scope, 'cidr', s.cidr, 'customer',"
	" (SELECT ext_id FROM customers cu WHERE cu.id = s.customer_id), 'total', s.total,"
	" 'done', 0, 'created_at', s.created_at, 'created_by', s.created_by,"
	" 'url', '/v1/sweeps/' || s.id)::text FROM sweeps s WHERE s.id = $1";

static int
sweep_exec(PGconn *c, const char *what, const char *sql, int n, const char *const *params,
	   PGresult **res)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		db_log_error(what, c, r);
		PQclear(r);
		return -1;
	}
	if (res != NULL)
		*res = r;
	else
		PQclear(r);
	return 0;
}

int64_t
targets_sweep(PGconn *c, const struct sweep_scope *s, int64_t *total, char **json,
              const char **why)
{
	char prio[8], idbuf[32], custbuf[32], totbuf[32];
	const char *cust = NULL;
	PGresult *r;
	int64_t id = -1;

	str_fmt(prio, sizeof(prio), "%d", s->priority);
	*why = "the sweep could not be created (see the log line)";
	if (strcmp(s->scope, "customer") == 0) {
		const char *p[1] = {s->customer};

		if (s->customer == NULL) {
			*why = "customer scope needs a customer";
			return -1;
		}
		if (sweep_exec(c, "sweep_customer",
			       "SELECT id FROM customers WHERE ext_id = $1"
			       " OR ($1 ~ '^[0-9]{1,18}$' AND id = $1::bigint) ORDER BY ext_id = $1 DESC"
			       " LIMIT 1",
			       1, p, &r) != 0)
			return -1;
		if (PQntuples(r) != 1) {
			PQclear(r);
			*why = "no such customer";
			return -1;
		}
		str_fmt(custbuf, sizeof(custbuf), "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		cust = custbuf;
	}
	if (json != NULL)
		*json = NULL;
	if (sweep_exec(c, "sweep_begin", "BEGIN", 0, NULL, NULL) != 0)
		return -1;
	{
		const char *p[5] = {s->scope, s->cidr, cust, prio,
				    s->created_by != NULL ? s->created_by : "relayctl"};
		if (sweep_exec(c, "sweep_insert", sweep_insert_sql, 5, p, &r) != 0)
			goto fail;
		id = db_col_i64(r, 0, 0);
		PQclear(r);
	}
	str_fmt(idbuf, sizeof(idbuf), "%" PRId64, id);
	{
		const char *p[4] = {idbuf, prio, s->cidr, cust};
		if (sweep_exec(c, "sweep_mark", sweep_mark_sql, 4, p, &r) != 0)
			goto fail;
		parse_i64(PQcmdTuples(r), 0, INT64_MAX, total);
		PQclear(r);
	}
	str_fmt(totbuf, sizeof(totbuf), "%" PRId64, *total);
	{
		const char *p[2] = {idbuf, totbuf};
		if (sweep_exec(c, "sweep_total", sweep_total_sql, 2, p, NULL) != 0)
			goto fail;
	}
	if (json != NULL) {
		const char *p[1] = {idbuf};

		if (sweep_exec(c, "sweep_json", sweep_json_sql, 1, p, &r) != 0)
			goto fail;
		*json = db_col_dup(r, 0, 0);
		PQclear(r);
	}
	/* Wake the schedulers now rather than at their next poll. */
	if (sweep_exec(c, "sweep_notify", "SELECT pg_notify('relayaudit_due', '')", 0, NULL,
		       NULL) != 0 ||
	    sweep_exec(c, "sweep_commit", "COMMIT", 0, NULL, NULL) != 0)
		goto fail;
	return id;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return -1;
}

int
sweeps_progress(PGconn *c, int64_t id, struct sweep_progress *out)
{
	char ids[32];
	const char *params[1] = {ids};
	PGresult *r;
	int rc = -1;

	str_fmt(ids, sizeof(ids), "%" PRId64, id);
	r = PQexecParams(c,
			 "SELECT total, done, finished_at IS NOT NULL,"
			 " extract(epoch FROM now() - created_at)::float8 FROM sweeps WHERE id = $1",
			 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		out->total = db_col_i64(r, 0, 0);
		out->done = db_col_i64(r, 0, 1);
		out->finished = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
		out->age_s = strtod(PQgetvalue(r, 0, 3), NULL);
		rc = 0;
	} else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		db_log_error("sweeps_progress", c, r);
	}
	PQclear(r);
	return rc;
}

int
sweeps_verdicts(PGconn *c, int64_t id, sweep_verdict_fn fn, void *arg)
{
	char ids[32];
	const char *params[1] = {ids};
	PGresult *r;
	int rc = -1;

	str_fmt(ids, sizeof(ids), "%" PRId64, id);
	/* The same count as GET /v1/sweeps/{id} (db/sweeps_query.c). */
	r = PQexecParams(c,
			 "SELECT coalesce(t.last_verdict::text, 'none'), count(*) FROM targets t"
			 " JOIN probes p ON p.id = t.last_probe_id WHERE p.sweep_id = $1::bigint"
			 " GROUP BY 1 ORDER BY 2 DESC, 1",
			 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		for (int i = 0; i < PQntuples(r); i++)
			fn(arg, PQgetvalue(r, i, 0), db_col_i64(r, i, 1));
		rc = 0;
	} else {
		db_log_error("sweeps_verdicts", c, r);
	}
	PQclear(r);
	return rc;
}

int
nodes_heartbeat(PGconn *c, const char *node, const char *roles, int64_t in_flight)
{
	char n[32];
	const char *params[3] = {node, roles, n};

	str_fmt(n, sizeof(n), "%" PRId64, in_flight);
	return exec_count(c, "nodes_heartbeat",
			  "INSERT INTO nodes (name, roles, in_flight) VALUES ($1, $2, $3)"
			  " ON CONFLICT (name) DO UPDATE SET roles = $2, in_flight = $3,"
			  " last_seen = now()",
			  3, params) < 0
		       ? -1
		       : 0;
}
