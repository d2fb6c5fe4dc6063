/*
 * SQL for the API's target endpoints and the state of re-test requests
 * (making one is db/retests.c); NOTIFY relayaudit_due wakes the schedulers.
 */
#include "db/query.h"
#include "db/query_json.h"

#define TARGET_FROM " FROM targets t JOIN customers cu ON cu.id = t.customer_id"

/* As the case lists (db/cases_query.c): adhoc, and by verdict through targets_verdict_id_idx. */
#define TARGETS_FILTERS(t)                                                                     \
	" AND ($2::case_state IS NULL OR EXISTS (SELECT 1 FROM cases k"                           \
	" WHERE k.address = " t ".address AND k.state = $2::case_state))"                        \
	" AND ($3::cidr IS NULL OR " t ".address <<= $3::cidr)"                                  \
	" AND ($4::text IS NULL OR " t ".customer_id = (SELECT id FROM customers WHERE ext_id = $4))" \
	" AND ($5::boolean IS NULL OR " t ".excluded = $5::boolean)"                             \
	" AND ($6::bigint IS NULL OR " t ".id > $6::bigint)"

const struct pstmt_stmt api_targets_list = {
	"api_targets_list",
	API_PAGE_ASC("SELECT t.id AS k, " API_TARGET_JSON " AS obj" TARGET_FROM
		     " WHERE $1::verdict IS NULL" TARGETS_FILTERS("t"),
		     "$7"),
	7, true};

const struct pstmt_stmt api_targets_list_verdict = {
	"api_targets_list_verdict",
	API_PAGE_ASC("SELECT t.id AS k, " API_TARGET_JSON " AS obj" TARGET_FROM " WHERE t.id IN"
		     " (SELECT v.id FROM targets v WHERE v.last_verdict = $1::verdict"
		     TARGETS_FILTERS("v") " ORDER BY v.last_verdict, v.id LIMIT $7::int + 1)",
		     "$7"),
	7, true};

const struct pstmt_stmt api_target_get = {
	"api_target_get",
	"SELECT json_build_object('target', " API_TARGET_JSON ", 'latest_probes',"
	" coalesce((SELECT json_agg(" API_PROBE_JSON " ORDER BY p.id DESC) FROM (SELECT * FROM"
	" probes p WHERE p.target_id = t.id ORDER BY p.started_at DESC LIMIT 10) p), '[]'::json))"
	TARGET_FROM " WHERE t.address = $1::inet",
	1, false};

/* ports and domains arrive as JSON arrays; a NULL keeps the default or the old value. */
#define PORTS_OF(p) "ARRAY(SELECT jsonb_array_elements_text(" p "::jsonb)::int)"

const struct pstmt_stmt api_target_create = {
	"api_target_create",
	"WITH ins AS (INSERT INTO targets (customer_id, address, ports, domains, excluded,"
	" probe_interval) SELECT cu.id, $1::inet,"
	" CASE WHEN $3::text IS NULL THEN string_to_array($7, ',')::int[] ELSE " PORTS_OF("$3") " END,"
	" CASE WHEN $4::text IS NULL THEN '{}'::text[] ELSE " DOMAINS_OF("$4") " END,"
	" coalesce($5::boolean, false),"
	" CASE WHEN coalesce($6::int, 0) = 0 THEN NULL ELSE make_interval(secs => $6::int) END"
	" FROM customers cu WHERE cu.ext_id = $2 RETURNING *)"
	" SELECT " API_TARGET_JSON ", pg_notify('relayaudit_due', host(t.address))"
	" FROM ins t JOIN customers cu ON cu.id = t.customer_id",
	7, false};

const struct pstmt_stmt api_target_update = {
	"api_target_update",
	"WITH up AS (UPDATE targets SET"
	" customer_id = CASE WHEN $2::text IS NULL THEN customer_id"
	"   ELSE (SELECT id FROM customers WHERE ext_id = $2) END,"
	" ports = CASE WHEN $3::text IS NULL THEN ports ELSE " PORTS_OF("$3") " END,"
	" domains = CASE WHEN $4::text IS NULL THEN domains ELSE " DOMAINS_OF("$4") " END,"
	" excluded = coalesce($5::boolean, excluded),"
	" probe_interval = CASE WHEN $6::int IS NULL THEN probe_interval WHEN $6::int = 0 THEN NULL"
	"   ELSE make_interval(secs => $6::int) END,"
	" updated_at = now() WHERE address = $1::inet RETURNING *)"
	" SELECT " API_TARGET_JSON " FROM up t JOIN customers cu ON cu.id = t.customer_id",
	6, false};

const struct pstmt_stmt api_target_delete = {
	"api_target_delete",
	"DELETE FROM targets WHERE address = $1::inet"
	" RETURNING json_build_object('deleted', host(address))",
	1, false};

const struct pstmt_stmt api_target_state = {
	"api_target_state",
	"SELECT excluded::text FROM targets WHERE address = $1::inet",
	1, false};

/*
 * A re-test is done when the runner marked it (done_at), or when every port of
 * the target has a finished probe started after the request.
 */
const struct pstmt_stmt api_retest_get = {
	"api_retest_get",
	"SELECT json_build_object('id', rq.id, 'address', host(t.address), 'case_id', rq.case_id,"
	" 'requested_at', rq.requested_at, 'requested_by', rq.requested_by,"
	" 'status', CASE WHEN rq.done_at IS NOT NULL OR ps.finished >= cardinality(t.ports)"
	"   THEN 'done' WHEN ps.started > 0 OR t.lease_owner IS NOT NULL THEN 'running'"
	"   ELSE 'pending' END,"
	" 'done_at', coalesce(rq.done_at, CASE WHEN ps.finished >= cardinality(t.ports)"
	"   THEN ps.last_finished END),"
	" 'relay_confirmed', ps.relays > 0, 'probes', ps.list)"
	" FROM retest_requests rq JOIN targets t ON t.id = rq.target_id,"
	" LATERAL (SELECT count(*) AS started, count(p.verdict) AS finished,"
	"   count(*) FILTER (WHERE p.verdict = 'relay_confirmed') AS relays,"
	"   max(p.finished_at) AS last_finished,"
	"   coalesce(json_agg(" API_PROBE_JSON " ORDER BY p.id), '[]'::json) AS list"
	"   FROM probes p WHERE (rq.probe_id IS NOT NULL AND p.id = rq.probe_id)"
	"   OR (p.target_id = rq.target_id AND p.started_at >= rq.requested_at"
	"   AND (rq.done_at IS NULL OR p.started_at <= rq.done_at))) ps"
	" WHERE rq.id = $1::bigint",
	1, false};
