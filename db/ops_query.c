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
	" 'outbox', (SELECT json_build_object('pending', count(*) FILTER (WHERE state IN ('pending',"
	"   'running')), 'failed', count(*) FILTER (WHERE state = 'failed')) FROM outbox),"
	" 'enforcer', (SELECT json_build_object('pending', count(*) FILTER (WHERE state IN ('pending',"
	"   'running')), 'failed', count(*) FILTER (WHERE state = 'failed')) FROM enforcement_actions),"
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
/* Counters read from metric_counters, which only grow (migration 009). */
#define API_COUNTER(name)                                                                     \
	"SELECT labels, value FROM metric_counters WHERE name = '" name "' ORDER BY labels"

const struct pstmt_stmt api_metric_probes = {"api_metric_probes", API_COUNTER("probes"), 0,
					      false};
const struct pstmt_stmt api_metric_complaints = {"api_metric_complaints",
						 API_COUNTER("complaints"), 0, false};
const struct pstmt_stmt api_metric_dnsbl = {"api_metric_dnsbl", API_COUNTER("dnsbl_listings"), 0,
					    false};

/* The histogram's buckets by upper bound in ms ("inf" last), then the sum in ms. */
const struct pstmt_stmt api_metric_duration = {
	"api_metric_duration",
	"SELECT labels, value FROM metric_counters WHERE name = 'probe_duration_le'"
	" ORDER BY labels = 'inf', CASE WHEN labels = 'inf' THEN 0 ELSE labels::bigint END",
	0, false};
const struct pstmt_stmt api_metric_duration_sum = {
	"api_metric_duration_sum",
	"SELECT '', coalesce((SELECT value FROM metric_counters WHERE name = 'probe_duration_ms_sum'),"
	" 0)",
	0, false};

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

const struct pstmt_stmt api_metric_webhook = {
	"api_metric_webhook",
	"SELECT 'state=\"' || s || '\"', (SELECT count(*) FROM webhook_deliveries WHERE state = s)"
	" FROM unnest(ARRAY['pending', 'failed']::job_state[]) s",
	0, false};

const struct pstmt_stmt api_metric_enforcer = {
	"api_metric_enforcer",
	"SELECT '', count(*) FROM enforcement_actions WHERE state = 'failed'",
	0, false};

const struct pstmt_stmt api_metric_receipts = {"api_metric_receipts",
						API_COUNTER("sink_receipts"), 0, false};

/* Receipts set aside: each reason its own series, so a replay attempt shows up on a graph. */
const struct pstmt_stmt api_metric_anomalies = {
	"api_metric_anomalies",
	"SELECT 'reason=\"' || replace(replace(anomaly, '\\', '\\\\'), '\"', '\\\"') || '\"',"
	" count(*) FROM sink_receipts WHERE anomaly IS NOT NULL GROUP BY anomaly ORDER BY anomaly",
	0, false};

const struct pstmt_stmt api_metric_orphans = {
	"api_metric_orphans",
	"SELECT '', count(*) FROM sink_receipts WHERE NOT applied AND orphan_at IS NOT NULL",
	0, false};
