/*
 * SQL for the API's view of a sweep (starting one is targets_sweep in
 * db/targets.c). Progress is the sweep's done counter, which the probe
 * writer advances as it releases each target (and clears the target's sweep
 * mark, so the mark cannot be counted); the verdicts are the last verdicts
 * of the targets whose last probe ran for this sweep.
 */
#include "db/query.h"
#include "db/query_json.h"

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
