/*
 * The queries behind `relayctl status`. The queue figures use the same
 * predicates as the claim query in targets.c, so "due" is what a node
 * would claim now.
 */
#include "db/status.h"
#include "common/util.h"
#include "db/db.h"

#include <stdlib.h>
#include <string.h>

int
status_queue(PGconn *c, struct queue_status *out)
{
	PGresult *r = db_exec(
		c, "status_queue",
		"SELECT count(*), count(*) FILTER (WHERE excluded),"
		" count(*) FILTER (WHERE NOT excluded AND next_probe_at <= now()"
		"   AND (lease_owner IS NULL OR lease_expires <= now())),"
		" count(*) FILTER (WHERE lease_owner IS NOT NULL AND lease_expires > now()),"
		" count(*) FILTER (WHERE lease_owner IS NOT NULL AND lease_expires <= now())"
		" FROM targets",
		0, NULL);

	if (r == NULL)
		return -1;
	out->targets = db_col_i64(r, 0, 0);
	out->excluded = db_col_i64(r, 0, 1);
	out->due = db_col_i64(r, 0, 2);
	out->leased = db_col_i64(r, 0, 3);
	out->overdue_leases = db_col_i64(r, 0, 4);
	PQclear(r);
	return 0;
}

int
status_nodes(PGconn *c, status_node_fn fn, void *arg)
{
	PGresult *r = db_exec(c, "status_nodes",
			      "SELECT name, roles, in_flight,"
			      " extract(epoch FROM now() - last_seen)::float8"
			      " FROM nodes ORDER BY name",
			      0, NULL);

	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		fn(arg, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), db_col_i64(r, i, 2),
		   strtod(PQgetvalue(r, i, 3), NULL));
	PQclear(r);
	return 0;
}

int
status_verdicts(PGconn *c, int hours, status_count_fn fn, void *arg)
{
	char h[16];
	const char *params[1] = {h};
	PGresult *r;

	str_fmt(h, sizeof(h), "%d", hours);
	r = db_exec(c, "status_verdicts",
		    "SELECT v::text, count(p.verdict) FROM unnest(enum_range(NULL::verdict)) v"
		    " LEFT JOIN probes p ON p.verdict = v"
		    "  AND p.started_at > now() - make_interval(hours => $1::int)"
		    " GROUP BY v ORDER BY v",
		    1, params);
	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		fn(arg, PQgetvalue(r, i, 0), db_col_i64(r, i, 1));
	PQclear(r);
	return 0;
}

int
status_sweeps(PGconn *c, status_sweep_fn fn, void *arg)
{
	PGresult *r = db_exec(c, "status_sweeps",
			      "SELECT id, scope || coalesce(' ' || cidr::text, '')"
			      "  || coalesce(' customer ' || customer_id::text, ''), done, total,"
			      " extract(epoch FROM now() - created_at)::float8"
			      " FROM sweeps WHERE finished_at IS NULL ORDER BY id DESC LIMIT 10",
			      0, NULL);

	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		fn(arg, db_col_i64(r, i, 0), PQgetvalue(r, i, 1), db_col_i64(r, i, 2), db_col_i64(r, i, 3),
		   strtod(PQgetvalue(r, i, 4), NULL));
	PQclear(r);
	return 0;
}
