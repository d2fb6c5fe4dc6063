/*
 * SQL for the API's view of a sweep (starting one is targets_sweep in
 * db/targets.c). Progress is counted live from the targets probed since the
 * sweep began, so it needs nothing from the probe writers.
 */
#include "db/query.h"
#include "db/query_json.h"

const struct pstmt_stmt api_sweep_get = {
	"api_sweep_get",
	"SELECT json_build_object('id', s.id, 'scope', s.scope, 'cidr', s.cidr, 'customer',"
	" (SELECT ext_id FROM customers c WHERE c.id = s.customer_id), 'total', s.total,"
	" 'done', d.done, 'finished', d.done >= s.total, 'finished_at', coalesce(s.finished_at,"
	" CASE WHEN d.done >= s.total THEN d.last END), 'created_at', s.created_at, 'created_by',"
	" s.created_by, 'verdicts', coalesce((SELECT json_object_agg(x.v, x.n) FROM (SELECT"
	" coalesce(t.last_verdict::text, 'none') AS v, count(*) AS n FROM targets t"
	" WHERE t.sweep_id = s.id AND t.last_probed_at >= s.created_at GROUP BY 1) x), '{}'::json))"
	" FROM sweeps s, LATERAL (SELECT count(*) AS done, max(t.last_probed_at) AS last"
	"   FROM targets t WHERE t.sweep_id = s.id AND t.last_probed_at >= s.created_at) d"
	" WHERE s.id = $1::bigint",
	1, false};
