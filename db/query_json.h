/*
 * JSON object builders shared by the API's statements, so a target (or a
 * probe, a case) renders the same in every reply. PostgreSQL renders the
 * JSON; the API connection runs in UTC so timestamps are RFC 3339.
 * Internal to db/<name>_query.c.
 */
#ifndef RELAYAUDIT_QUERY_JSON_H
#define RELAYAUDIT_QUERY_JSON_H

/* Customer "cu". */
#define API_CUSTOMER_JSON                                                                      \
	"json_build_object('ext_id', cu.ext_id, 'name', cu.name, 'contact_email', "             \
	"cu.contact_email, 'locale', cu.locale, 'access_type', cu.access_type, 'enforce_mode', " \
	"cu.enforce_mode, 'domains', cu.domains, 'created_at', cu.created_at, 'updated_at', "    \
	"cu.updated_at)"

/* Target "t" joined to its customer "cu"; the active case looked up by address. */
#define API_TARGET_JSON                                                                        \
	"json_build_object('address', host(t.address), 'customer', cu.ext_id, 'ports', t.ports, " \
	"'domains', t.domains, 'excluded', t.excluded, 'probe_interval', "                       \
	"extract(epoch FROM t.probe_interval)::bigint, 'priority', t.priority, "                  \
	"'next_probe_at', t.next_probe_at, 'last_probed_at', t.last_probed_at, "                  \
	"'last_probe_id', t.last_probe_id, 'last_verdict', t.last_verdict, "                      \
	"'last_backscatter', t.last_backscatter, 'sweep_id', t.sweep_id, 'case', "                \
	"(SELECT json_build_object('id', k.id, 'state', k.state, 'blocked', k.blocked) FROM "      \
	"cases k WHERE k.address = t.address AND k.state NOT IN ('resolved', 'closed')), "        \
	"'created_at', t.created_at, 'updated_at', t.updated_at)"

/* Probe "p", without the bulky evidence. */
#define API_PROBE_JSON                                                                         \
	"json_build_object('id', p.id, 'address', host(p.address), 'port', p.port, 'node', "      \
	"p.node, 'sweep_id', p.sweep_id, 'started_at', p.started_at, 'finished_at', "             \
	"p.finished_at, 'duration_ms', p.duration_ms, 'verdict', p.verdict, 'backscatter', "      \
	"p.backscatter, 'trick', p.trick, 'stage', p.stage, 'error', p.error)"

/* Case "k" with its customer's ext_id. */
#define API_CASE_JSON                                                                          \
	"json_build_object('id', k.id, 'address', host(k.address), 'customer', (SELECT "          \
	"c2.ext_id FROM customers c2 WHERE c2.id = k.customer_id), 'state', k.state, "            \
	"'finding', k.finding, 'probe_id', k.probe_id, 'trick', k.trick, 'blocked', k.blocked, "  \
	"'opened_at', k.opened_at, 'updated_at', k.updated_at, 'notified_at', k.notified_at, "    \
	"'blocked_at', k.blocked_at, 'escalated_at', k.escalated_at, 'resolved_at', "             \
	"k.resolved_at, 'closed_at', k.closed_at, 'next_timer_at', k.next_timer_at)"

/* A JSON array parameter of domain names (checked by the API) as text[]. */
#define DOMAINS_OF(p) "ARRAY(SELECT jsonb_array_elements_text(" p "::jsonb))"

/*
 * One page of a keyset-paginated list. inner selects "k" (the bigint key) and
 * "obj" (the item) with its WHERE clause, ordered by ord (the key's order, or
 * an equivalent one an index provides); lim is the limit parameter ("$7").
 * The page fetches one row more than asked to know whether there is a next.
 */
#define API_PAGE(inner, ord, order, lim, edge)                                                 \
	"WITH page AS (" inner " ORDER BY " ord " LIMIT " lim "::int + 1), "                      \
	"numbered AS (SELECT k, obj, row_number() OVER (ORDER BY k " order ") AS n FROM page) "  \
	"SELECT json_build_object('items', coalesce(json_agg(obj ORDER BY n) FILTER (WHERE n <= " \
	lim "::int), '[]'::json), 'next_cursor', CASE WHEN count(*) > " lim "::int THEN (" edge   \
	"(k) FILTER (WHERE n <= " lim "::int))::text END) FROM numbered"
#define API_PAGE_ASC(inner, lim) API_PAGE(inner, "k ASC", "ASC", lim, "max")
#define API_PAGE_DESC(inner, lim) API_PAGE(inner, "k DESC", "DESC", lim, "min")
/* Pages of one value of an indexed column: ordered as (col, id) so that index serves it. */
#define API_PAGE_ASC_BY(inner, col, lim) API_PAGE(inner, col " ASC, k ASC", "ASC", lim, "max")
#define API_PAGE_DESC_BY(inner, col, lim) API_PAGE(inner, col " DESC, k DESC", "DESC", lim, "min")

#endif
