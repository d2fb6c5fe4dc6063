/*
 * SQL for the API's operational endpoints: health, the Prometheus metrics
 * (one small statement per metric family, each answering label/value rows),
 * dashboard stats, the blocklist and the audit log of API writes.
 */
#include "db/query.h"
#include "db/query_json.h"

const struct pstmt_stmt api_health_nodes = {
	"api_health_nodes",
	"SELECT coalesce(json_agg(json_build_object('name', n.name, 'roles', n.roles,"
	" 'started_at', n.started_at, 'last_seen', n.last_seen, 'in_flight', n.in_flight,"
	" 'alive', n.last_seen > now() - interval '2 minutes') ORDER BY n.name), '[]'::json)"
	" FROM nodes n",
	0, false};

const struct pstmt_stmt api_stats = {
	"api_stats",
	"SELECT json_build_object('generated_at', now(),"
	" 'targets', (SELECT count(*) FROM targets),"
	" 'verdicts', coalesce((SELECT json_object_agg(v, n) FROM (SELECT"
	"   coalesce(last_verdict::text, 'untested') AS v, count(*) AS n FROM targets GROUP BY 1) x),"
	"   '{}'::json),"
	" 'cases', coalesce((SELECT json_object_agg(state, n) FROM (SELECT state, count(*) AS n"
	"   FROM cases GROUP BY 1) x), '{}'::json),"
	" 'blocked', (SELECT count(*) FROM cases WHERE blocked AND state NOT IN ('resolved', 'closed')),"
	" 'per_day', (SELECT json_agg(json_build_object('day', to_char(d, 'YYYY-MM-DD'),"
	"   'opened', coalesce(o.n, 0), 'resolved', coalesce(r.n, 0)) ORDER BY d)"
	"   FROM generate_series(date_trunc('day', now()) - interval '29 days',"
	"   date_trunc('day', now()), interval '1 day') d"
	"   LEFT JOIN (SELECT date_trunc('day', opened_at) AS day, count(*) AS n FROM cases"
	"     WHERE opened_at >= date_trunc('day', now()) - interval '29 days' GROUP BY 1) o"
	"     ON o.day = d"
	"   LEFT JOIN (SELECT date_trunc('day', resolved_at) AS day, count(*) AS n FROM cases"
	"     WHERE resolved_at >= date_trunc('day', now()) - interval '29 days' GROUP BY 1) r"
	"     ON r.day = d),"
	" 'time_to_remediate', (SELECT json_build_object('window_days', 30, 'resolved', count(*),"
	"   'mean_seconds', round(avg(s)), 'median_seconds',"
	"   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric),"
	"   'p90_seconds', round(percentile_cont(0.9) WITHIN GROUP (ORDER BY s)::numeric))"
	"   FROM (SELECT extract(epoch FROM resolved_at - opened_at) AS s FROM cases"
	"   WHERE resolved_at >= now() - interval '30 days') x))",
	0, false};

const struct pstmt_stmt api_blocklist = {
	"api_blocklist",
	"SELECT host(address), id::text, coalesce(blocked_at, updated_at), family(address)::text,"
	" coalesce(finding, '')"
	" FROM cases WHERE blocked AND state NOT IN ('resolved', 'closed') ORDER BY address",
	0, false};

const struct pstmt_stmt api_audit_write = {
	"api_audit_write",
	"INSERT INTO api_audit (actor, method, path, status) VALUES ($1, $2, $3, $4::int)",
	4, false};

/* Metric families: rows of (labels, value). */
const struct pstmt_stmt api_metric_probes = {
	"api_metric_probes",
	"SELECT 'verdict=\"' || verdict || '\"', count(*) FROM probes WHERE verdict IS NOT NULL"
	" GROUP BY verdict ORDER BY verdict",
	0, false};

/* Buckets by width_bucket(duration_ms - 1, bounds) = how many bounds are below the duration. */
const struct pstmt_stmt api_metric_duration = {
	"api_metric_duration",
	"SELECT width_bucket(duration_ms - 1, $1::int[])::text, count(*), sum(duration_ms)"
	" FROM probes WHERE duration_ms IS NOT NULL GROUP BY 1",
	1, false};

const struct pstmt_stmt api_metric_in_flight = {
	"api_metric_in_flight",
	"SELECT 'node=\"' || name || '\"', in_flight FROM nodes"
	" WHERE last_seen > now() - interval '2 minutes' ORDER BY name",
	0, false};

const struct pstmt_stmt api_metric_due = {
	"api_metric_due",
	"SELECT '', count(*) FROM targets WHERE NOT excluded AND next_probe_at <= now()",
	0, false};

const struct pstmt_stmt api_metric_cases = {
	"api_metric_cases",
	"SELECT 'state=\"' || s || '\"', (SELECT count(*) FROM cases WHERE state = s)"
	" FROM unnest(enum_range(NULL::case_state)) s",
	0, false};

const struct pstmt_stmt api_metric_outbox = {
	"api_metric_outbox",
	"SELECT 'state=\"' || s || '\"', (SELECT count(*) FROM outbox WHERE state = s)"
	" FROM unnest(ARRAY['pending', 'failed']::job_state[]) s",
	0, false};

const struct pstmt_stmt api_metric_enforcer = {
	"api_metric_enforcer",
	"SELECT '', count(*) FROM enforcement_actions WHERE state = 'failed'",
	0, false};

const struct pstmt_stmt api_metric_receipts = {
	"api_metric_receipts",
	"SELECT 'bounce=\"' || is_bounce || '\"', count(*) FROM sink_receipts GROUP BY is_bounce"
	" ORDER BY is_bounce",
	0, false};
