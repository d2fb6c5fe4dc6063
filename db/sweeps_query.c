/*
 * SQL for sweeps: every matching target is tagged with the sweep, raised to
 * priority 1 and made due now. Progress is the sweep's done counter, which
 * the probe writer advances as it releases each target (and clears the
 * target's sweep mark, so the mark cannot be counted); the verdicts are the
 * last verdicts of the targets whose last probe ran for this sweep.
 */
#include "db/query.h"
#include "db/query_json.h"

#define SWEEP_MATCH                                                                            \
	"NOT t.excluded AND ($2 = 'all' OR ($2 = 'cidr' AND t.address <<= $3::cidr)"            \
	" OR ($2 = 'customer' AND t.customer_id = sc.cust))"

const struct pstmt_stmt api_sweep_create = {
	"api_sweep_create",
	"WITH sc AS (SELECT (SELECT id FROM customers WHERE ext_id = $4) AS cust),"
	" s AS (INSERT INTO sweeps (created_by, scope, cidr, customer_id, priority, total)"
	"   SELECT $1, $2, $3::cidr, sc.cust, 1, (SELECT count(*) FROM targets t WHERE " SWEEP_MATCH ")"
	"   FROM sc WHERE $2 <> 'customer' OR sc.cust IS NOT NULL RETURNING *),"
	" u AS (UPDATE targets t SET sweep_id = s.id, priority = greatest(t.priority, 1),"
	"   next_probe_at = least(t.next_probe_at, now()), updated_at = now() FROM s, sc"
	"   WHERE " SWEEP_MATCH " RETURNING 1)"
	" SELECT json_build_object('id', s.id, 'scope', s.scope, 'cidr', s.cidr, 'customer', $4,"
	" 'total', s.total, 'done', 0, 'created_at', s.created_at, 'created_by', s.created_by,"
	" 'url', '/v1/sweeps/' || s.id), (SELECT count(*) FROM u), pg_notify('relayaudit_due', '')"
	" FROM s",
	4, false};

const struct pstmt_stmt api_sweep_get = {
	"api_sweep_get",
	"SELECT json_build_object('id', s.id, 'scope', s.scope, 'cidr', s.cidr, 'customer',"
	" (SELECT ext_id FROM customers c WHERE c.id = s.customer_id), 'total', s.total,"
	" 'done', s.done, 'finished', s.done >= s.total, 'finished_at', coalesce(s.finished_at,"
	" CASE WHEN s.total = 0 THEN s.created_at END), 'created_at', s.created_at, 'created_by',"
	" s.created_by, 'verdicts', coalesce((SELECT json_object_agg(x.v, x.n) FROM (SELECT"
	" coalesce(t.last_verdict::text, 'none') AS v, count(*) AS n FROM targets t"
	" JOIN probes p ON p.id = t.last_probe_id WHERE p.sweep_id = s.id GROUP BY 1) x),"
	" '{}'::json))"
	" FROM sweeps s WHERE s.id = $1::bigint",
	1, false};
