/*
 * SQL for the API's view of a sweep (starting one is targets_sweep in
 * db/targets.c). Progress: see SWEEP_JSON.
 */
#include "db/query.h"
#include "db/query_json.h"

/*
 * Sweep "s" with its progress "d": the probe writer counts sweeps.done and
 * clears a finished target's sweep_id, so done is the larger of that count
 * and the targets still tagged and probed since the sweep began. Verdicts:
 * each target's latest probe of the sweep, or its last verdict while tagged.
 */
#define SWEEP_JSON                                                                             \
	"json_build_object('id', s.id, 'scope', s.scope, 'cidr', s.cidr, 'customer',"            \
	" (SELECT ext_id FROM customers c WHERE c.id = s.customer_id), 'total', s.total,"          \
	" 'done', d.done, 'finished', d.done >= s.total, 'finished_at', coalesce(s.finished_at,"   \
	" CASE WHEN d.done >= s.total THEN d.last END), 'created_at', s.created_at, 'created_by',"  \
	" s.created_by, 'verdicts', coalesce((SELECT json_object_agg(x.v, x.n) FROM (SELECT v,"     \
	" count(*) AS n FROM (SELECT DISTINCT ON (p.target_id) p.verdict::text AS v FROM probes p"  \
	" WHERE p.sweep_id = s.id AND p.verdict IS NOT NULL ORDER BY p.target_id, p.id DESC) y"    \
	" GROUP BY v) x), (SELECT json_object_agg(x.v, x.n) FROM (SELECT"                           \
	" coalesce(t.last_verdict::text, 'none') AS v, count(*) AS n FROM targets t"               \
	" WHERE t.sweep_id = s.id AND t.last_probed_at >= s.created_at GROUP BY 1) x), '{}'::json))"
#define SWEEP_PROGRESS                                                                         \
	" LATERAL (SELECT greatest(s.done, count(*)) AS done, max(t.last_probed_at) AS last"       \
	"   FROM targets t WHERE t.sweep_id = s.id AND t.last_probed_at >= s.created_at) d"

const struct pstmt_stmt api_sweep_get = {
	"api_sweep_get",
	"SELECT " SWEEP_JSON " FROM sweeps s," SWEEP_PROGRESS " WHERE s.id = $1::bigint",
	1, false};

/* The dashboard's list, newest first; running: only those not finished yet. */
const struct pstmt_stmt api_sweeps_list = {
	"api_sweeps_list",
	API_PAGE_DESC("SELECT s.id AS k, " SWEEP_JSON " AS obj FROM sweeps s," SWEEP_PROGRESS
		      " WHERE ($1::bigint IS NULL OR s.id < $1::bigint)"
		      " AND (NOT coalesce($2::bool, false) OR d.done < s.total)",
		      "$3"),
	3, true};
