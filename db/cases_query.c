/*
 * SQL for the API's case endpoints (complaints are filed by db/complaints.c).
 * The API never changes a case itself: actions become case_commands rows,
 * which the workflow runner applies (NOTIFY relayaudit_workflow wakes it).
 */
#include "db/query.h"
#include "db/query_json.h"

/*
 * Lists are planned on each run (adhoc) so the optional filters fold away. With
 * a state, the page's ids come from cases_state_id_idx alone: dashboards poll
 * "blocked", and a scan of the primary key backwards would step over every
 * newer case of another state first.
 */
#define CASES_FILTERS(c)                                                                       \
	" AND ($2::bigint IS NULL OR " c ".opened_at <= now() - make_interval(secs =>"            \
	" $2::bigint)) AND ($3::cidr IS NULL OR " c ".address <<= $3::cidr)"                      \
	" AND ($4::bigint IS NULL OR " c ".id < $4::bigint)"                                   \
	" AND ($6::text IS NULL OR " c ".finding = $6)"                               \
	" AND ($7::text IS NULL OR " c ".customer_id = (SELECT cu.id FROM customers cu"          \
	" WHERE cu.ext_id = $7))"

const struct pstmt_stmt api_cases_list = {
	"api_cases_list",
	API_PAGE_DESC("SELECT k.id AS k, " API_CASE_JSON " AS obj FROM cases k WHERE"
		      " $1::case_state IS NULL" CASES_FILTERS("k"),
		      "$5"),
	7, true};

const struct pstmt_stmt api_cases_list_state = {
	"api_cases_list_state",
	API_PAGE_DESC("SELECT k.id AS k, " API_CASE_JSON " AS obj FROM cases k WHERE k.id IN"
		      " (SELECT c.id FROM cases c WHERE c.state = $1::case_state" CASES_FILTERS("c")
		      " ORDER BY c.state DESC, c.id DESC LIMIT $5::int + 1)",
		      "$5"),
	7, true};

/*
 * The dashboards' poll, "cases in state X, newest first", with no other
 * filter: prepared once, every condition indexable ($1 state $2 cursor $3 limit).
 * The ids drive the rows, so even the generic plan cannot start from the
 * primary key.
 */
const struct pstmt_stmt api_cases_by_state = {
	"api_cases_by_state",
	API_PAGE_DESC("SELECT ids.id AS k, (SELECT " API_CASE_JSON " FROM cases k WHERE k.id = ids.id)"
		      " AS obj FROM (SELECT c.id FROM cases c WHERE c.state = $1::case_state"
		      " AND c.id < coalesce($2::bigint, 9223372036854775807)"
		      " ORDER BY c.state DESC, c.id DESC LIMIT $3::int + 1) ids",
		      "$3"),
	3, false};

const struct pstmt_stmt api_case_get = {
	"api_case_get",
	"SELECT json_build_object('case', " API_CASE_JSON ", 'evidence', k.evidence,"
	" 'events', coalesce((SELECT json_agg(json_build_object('id', e.id, 'at', e.at, 'event',"
	" e.event, 'from_state', e.from_state, 'to_state', e.to_state, 'actor', e.actor,"
	" 'detail', e.detail) ORDER BY e.id) FROM case_events e WHERE e.case_id = k.id), '[]'::json),"
	" 'commands', coalesce((SELECT json_agg(json_build_object('id', c.id, 'action', c.command,"
	" 'note', c.note, 'actor', c.actor, 'created_at', c.created_at, 'applied_at', c.applied_at,"
	" 'result', c.result) ORDER BY c.id) FROM case_commands c WHERE c.case_id = k.id), '[]'::json),"
	" 'actions', coalesce((SELECT json_agg(json_build_object('executor', a.executor, 'action',"
	" a.action, 'state', a.state, 'attempts', a.attempts, 'last_error', a.last_error,"
	" 'created_at', a.created_at, 'done_at', a.done_at) ORDER BY a.created_at, a.id)"
	" FROM case_actions a WHERE a.case_id = k.id), '[]'::json),"
	" 'mails', coalesce((SELECT json_agg(json_build_object('id', o.id, 'kind', o.kind, 'locale',"
	" o.locale, 'to', o.to_addr, 'subject', o.subject, 'state', o.state, 'attempts', o.attempts,"
	" 'last_error', o.last_error, 'created_at', o.created_at, 'sent_at', o.sent_at, 'message',"
	" left(o.body, 65536)) ORDER BY o.id) FROM outbox o WHERE o.case_id = k.id), '[]'::json))"
	" FROM cases k WHERE k.id = $1::bigint",
	1, false};

/*
 * Queues the command when it makes sense in the case's current state;
 * otherwise answers {"conflict": state} so the API can say 409 without racing
 * a second query. No row: no such case.
 */
const struct pstmt_stmt api_case_command = {
	"api_case_command",
	"WITH k AS (SELECT id, state, blocked FROM cases WHERE id = $1::bigint),"
	" ok AS (SELECT k.id FROM k WHERE CASE $2"
	"   WHEN 'block' THEN NOT k.blocked AND k.state NOT IN ('resolved', 'closed')"
	"   WHEN 'unblock' THEN k.blocked"
	"   WHEN 'close' THEN k.state <> 'closed'"
	"   WHEN 'reopen' THEN k.state IN ('resolved', 'closed')"
	"   WHEN 'escalate' THEN k.state NOT IN ('escalated', 'resolved', 'closed')"
	"   ELSE true END),"
	" ins AS (INSERT INTO case_commands (case_id, command, note, actor)"
	"   SELECT ok.id, $2, coalesce($3, ''), $4 FROM ok RETURNING id, case_id, command, created_at)"
	" SELECT CASE WHEN EXISTS (SELECT 1 FROM ins) THEN (SELECT json_build_object('command_id',"
	" ins.id, 'case_id', ins.case_id, 'action', ins.command, 'status', 'queued', 'created_at',"
	" ins.created_at, 'url', '/v1/cases/' || ins.case_id) FROM ins)"
	" ELSE json_build_object('conflict', k.state, 'blocked', k.blocked) END,"
	" pg_notify('relayaudit_workflow', 'case ' || k.id) FROM k",
	4, false};

/*
 * The customer's re-test page: the case behind a verified link, the
 * customer's language and the latest re-test request of the case: whether
 * the workflow has answered it (done_at) and whether a probe since the
 * request still found the server accepting relay tests.
 */
const struct pstmt_stmt api_retest_page_case = {
	"api_retest_page_case",
	"SELECT json_build_object('id', k.id, 'state', k.state, 'address', host(k.address),"
	" 'finding', k.finding, 'trick', k.trick, 'blocked', k.blocked, 'opened_at',"
	" to_char(k.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'),"
	" 'locale', coalesce((SELECT locale FROM customers c WHERE c.id = k.customer_id), 'en'),"
	" 'has_target', k.target_id IS NOT NULL,"
	" 'excluded', coalesce((SELECT t.excluded FROM targets t WHERE t.id = k.target_id), false),"
	" 'retest_wait', CASE WHEN k.last_retest_at IS NULL THEN 0 ELSE greatest(0, ceil($2::int -"
	"   extract(epoch FROM now() - k.last_retest_at)))::bigint END,"
	" 'request', (SELECT json_build_object('id', rq.id, 'done', rq.done_at IS NOT NULL,"
	"   'relay', EXISTS (SELECT 1 FROM probes p WHERE p.target_id = rq.target_id"
	"     AND p.started_at >= rq.requested_at AND p.started_at <= coalesce(rq.done_at, now())"
	"     AND p.verdict IN ('relay_confirmed', 'accepted', 'accepted_not_relayed')))"
	"   FROM retest_requests rq WHERE rq.case_id = k.id ORDER BY rq.id DESC LIMIT 1))"
	" FROM cases k WHERE k.id = $1::bigint",
	2, false};

