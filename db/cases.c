/*
 * The case workflow's SQL (see cases.h). Times cross as unix seconds; the
 * probe "round" of an address is every finished, unjudged probe of it, and
 * it is ready when none of its probes is still running or waiting for the
 * sink (a confirmed relay does not wait).
 */
#include "db/cases.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A probe is still deciding: running, or accepted and waiting for the sink. */
#define PROBE_IN_FLIGHT(q)                                                                         \
	"(" q ".started_at > now() - interval '2 hours' AND (" q ".verdict IS NULL OR " q          \
	".verdict = 'accepted' OR (" q ".backscatter = 'accepted' AND " q                          \
	".confirm_deadline > now() AND " q ".verdict <> 'relay_confirmed')))"

#define CASE_COLUMNS                                                                               \
	"id, coalesce(target_id, 0), coalesce(customer_id, 0), host(address), state, finding, "    \
	"blocked, reminders, coalesce(extract(epoch FROM next_timer_at)::bigint, 0), "             \
	"coalesce(next_timer_kind, ''), coalesce(enforce_mode, ''), "                              \
	"extract(epoch FROM opened_at)::bigint, coalesce(probe_id, 0), trick, evidence::text, "   \
	"coalesce(extract(epoch FROM blocked_at)::bigint, 0)"

void
db_case_clear(struct db_case *c)
{
	free(c->trick);
	free(c->evidence);
	memset(c, 0, sizeof(*c));
}

static void
db_case_read(const PGresult *res, struct db_case *c)
{
	db_case_clear(c);
	c->id = db_col_i64(res, 0, 0);
	c->target_id = db_col_i64(res, 0, 1);
	c->customer_id = db_col_i64(res, 0, 2);
	db_col_copy(res, 0, 3, c->address, sizeof(c->address));
	db_col_copy(res, 0, 4, c->state, sizeof(c->state));
	db_col_copy(res, 0, 5, c->finding, sizeof(c->finding));
	c->blocked = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
	c->reminders = (int)db_col_i64(res, 0, 7);
	c->next_timer_at = db_col_i64(res, 0, 8);
	db_col_copy(res, 0, 9, c->timer_kind, sizeof(c->timer_kind));
	db_col_copy(res, 0, 10, c->mode, sizeof(c->mode));
	c->opened_at = db_col_i64(res, 0, 11);
	c->probe_id = db_col_i64(res, 0, 12);
	c->trick = db_col_dup(res, 0, 13);
	c->evidence = db_col_dup(res, 0, 14);
	c->blocked_at = db_col_i64(res, 0, 15);
}

static int
db_case_select(PGconn *conn, const char *what, const char *sql, const char *param,
               struct db_case *c)
{
	const char *params[] = {param};
	PGresult *res = db_exec(conn, what, sql, 1, params);
	int found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found)
		db_case_read(res, c);
	PQclear(res);
	return found;
}

int
db_workflow_lock_address(PGconn *conn, const char *address)
{
	const char *params[] = {address};

	return db_cmd(conn, "workflow_lock_address",
	              "SELECT pg_advisory_xact_lock(hashtextextended('relayaudit-case:' || "
	              "host($1::inet), 0))",
	              1, params);
}

int
db_case_active(PGconn *conn, const char *address, struct db_case *c)
{
	return db_case_select(conn, "case_active",
	                      "SELECT " CASE_COLUMNS " FROM cases WHERE address = $1::inet "
	                      "AND state NOT IN ('resolved', 'closed') FOR UPDATE",
	                      address, c);
}

int
db_case_get(PGconn *conn, int64_t id, struct db_case *c)
{
	char ids[24];

	db_fmt_i64(ids, id);
	return db_case_select(conn, "case_get",
	                      "SELECT " CASE_COLUMNS " FROM cases WHERE id = $1 FOR UPDATE", ids,
	                      c);
}

int
db_case_other_active(PGconn *conn, const char *address, int64_t id)
{
	char ids[24];
	const char *params[] = {address, ids};
	PGresult *res;
	int n;

	db_fmt_i64(ids, id);
	res = db_exec(conn, "case_other_active",
	              "SELECT 1 FROM cases WHERE address = $1::inet AND id <> $2 "
	              "AND state NOT IN ('resolved', 'closed')",
	              2, params);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n > 0;
}

int
db_case_insert(PGconn *conn, struct db_case *c)
{
	char target[24], customer[24], probe[24];
	const char *params[] = {target,
	                        customer,
	                        c->address,
	                        c->state,
	                        c->finding,
	                        probe,
	                        c->trick,
	                        c->evidence ? c->evidence : "{}",
	                        c->mode[0] ? c->mode : NULL};
	PGresult *res;

	db_fmt_i64(target, c->target_id);
	db_fmt_i64(customer, c->customer_id);
	db_fmt_i64(probe, c->probe_id);
	res = db_exec(
	    conn, "case_insert",
	    "INSERT INTO cases (target_id, customer_id, address, state, finding, probe_id, "
	    "trick, evidence, enforce_mode) VALUES (nullif($1, '0')::bigint, "
	    "nullif($2, '0')::bigint, $3::inet, $4::case_state, $5, nullif($6, '0')::bigint, "
	    "$7, $8::jsonb, $9) RETURNING id, extract(epoch FROM opened_at)::bigint",
	    9, params);
	if (res == NULL)
		return -1;
	c->id = db_col_i64(res, 0, 0);
	c->opened_at = db_col_i64(res, 0, 1);
	PQclear(res);
	return 0;
}

int
db_case_save(PGconn *conn, const struct db_case *c, unsigned stamps)
{
	char id[24], reminders[24], timer[24], st[24];
	const char *params[] = {
	    id, c->state, c->blocked ? "true" : "false", reminders, timer, c->timer_kind, st};

	db_fmt_i64(id, c->id);
	db_fmt_i64(reminders, c->reminders);
	db_fmt_i64(timer, c->next_timer_at);
	db_fmt_i64(st, stamps);
	return db_cmd(
	    conn, "case_save",
	    "UPDATE cases SET state = $2::case_state, blocked = $3::boolean, "
	    "reminders = $4::int, updated_at = now(), "
	    "next_timer_at = CASE WHEN $5::bigint = 0 THEN NULL "
	    "ELSE to_timestamp($5::bigint) END, "
	    "next_timer_kind = CASE WHEN $5::bigint = 0 THEN NULL ELSE nullif($6, '') END, "
	    "notified_at = CASE WHEN $7::int & 1 <> 0 THEN coalesce(notified_at, now()) "
	    "ELSE notified_at END, "
	    "blocked_at = CASE WHEN $7::int & 2 <> 0 THEN now() ELSE blocked_at END, "
	    "escalated_at = CASE WHEN $7::int & 4 <> 0 THEN now() ELSE escalated_at END, "
	    "resolved_at = CASE WHEN $7::int & 8 <> 0 THEN now() "
	    "WHEN $7::int & 32 <> 0 THEN NULL ELSE resolved_at END, "
	    "closed_at = CASE WHEN $7::int & 16 <> 0 THEN now() "
	    "WHEN $7::int & 32 <> 0 THEN NULL ELSE closed_at END "
	    "WHERE id = $1",
	    7, params);
}

int64_t
db_case_event(PGconn *conn, int64_t case_id, const char *event, const char *from_state,
              const char *to_state, const char *actor, const char *detail_json)
{
	char id[24];
	const char *params[] = {id,       event, from_state,
	                        to_state, actor, detail_json ? detail_json : "{}"};
	PGresult *res;
	int64_t ev;

	db_fmt_i64(id, case_id);
	res =
	    db_exec(conn, "case_event",
	            "INSERT INTO case_events (case_id, event, from_state, to_state, actor, detail) "
	            "VALUES ($1, $2, $3::case_state, $4::case_state, $5, $6::jsonb) RETURNING id",
	            6, params);
	if (res == NULL)
		return -1;
	ev = db_col_i64(res, 0, 0);
	PQclear(res);
	return ev;
}

int
db_case_note_event(PGconn *conn, int64_t case_id, const char *event, const char *actor,
                   const char *detail_json)
{
	char id[24];
	const char *params[] = {id, event, actor, detail_json ? detail_json : "{}"};

	db_fmt_i64(id, case_id);
	return db_cmd(
	    conn, "case_note_event",
	    "INSERT INTO case_events (case_id, event, from_state, to_state, actor, detail) "
	    "SELECT id, $2, state, state, $3, $4::jsonb FROM cases WHERE id = $1",
	    4, params);
}

int
db_case_enforcement_error(PGconn *conn, int64_t case_id, const char *error)
{
	char id[24];
	const char *params[] = {id, error};

	db_fmt_i64(id, case_id);
	return db_cmd(conn, "case_enforcement_error",
	              "UPDATE cases SET enforcement_error = $2, updated_at = now() WHERE id = $1",
	              2, params);
}

void
db_probes_free(struct db_probe *p, int n)
{
	for (int i = 0; p && i < n; i++) {
		free(p[i].trick);
		free(p[i].transcript);
		free(p[i].finished);
	}
	free(p);
}

int
db_probe_round_next(PGconn *conn, char *address, size_t len)
{
	PGresult *res = db_exec(
	    conn, "probe_round_next",
	    "SELECT host(p.address) FROM probes p WHERE p.workflow_done_at IS NULL "
	    "AND p.verdict IS NOT NULL AND (p.verdict = 'relay_confirmed' OR NOT EXISTS ("
	    "SELECT 1 FROM probes q WHERE q.address = p.address AND q.workflow_done_at IS NULL "
	    "AND " PROBE_IN_FLIGHT("q") ")) ORDER BY p.id LIMIT 1",
	    0, NULL);
	int found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found)
		db_col_copy(res, 0, 0, address, len);
	PQclear(res);
	return found;
}

int
db_probes_skip_quiet(PGconn *conn, int limit)
{
	char lim[24];
	const char *params[] = {lim};
	PGresult *res;
	int64_t n = 0;

	db_fmt_i64(lim, limit);
	res = db_exec(
	    conn, "probes_skip_quiet",
	    "UPDATE probes SET workflow_done_at = now() WHERE id IN (SELECT p.id FROM probes p "
	    "WHERE p.workflow_done_at IS NULL "
	    /* accepted is inconclusive too, but still waits for the sink (in flight). */
	    "AND verdict_class(p.verdict) <> 'finding' AND p.verdict <> 'accepted' "
	    "AND p.backscatter IN ('untested', 'refused') "
	    "AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.address = p.address "
	    "AND c.state NOT IN ('resolved', 'closed')) "
	    "AND NOT EXISTS (SELECT 1 FROM retest_requests r WHERE r.target_id = p.target_id "
	    "AND r.done_at IS NULL) "
	    "LIMIT $1::int FOR UPDATE OF p SKIP LOCKED)",
	    1, params);
	if (res == NULL)
		return -1;
	parse_i64(PQcmdTuples(res), 0, INT32_MAX, &n);
	PQclear(res);
	return (int)n;
}

int
db_probe_round_load(PGconn *conn, const char *address, struct db_probe **out, int *n)
{
	const char *params[] = {address};
	PGresult *res = db_exec(
	    conn, "probe_round_load",
	    "SELECT p.id, p.port, p.verdict, p.backscatter, "
	    "extract(epoch FROM p.started_at)::bigint, p.trick, p.evidence->>'transcript', "
	    "to_char(coalesce(p.finished_at, p.started_at) AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD HH24:MI:SS \"UTC\"') FROM probes p "
	    "WHERE p.address = $1::inet AND p.workflow_done_at IS NULL AND p.verdict IS NOT NULL "
	    "AND NOT " PROBE_IN_FLIGHT("p") " ORDER BY p.id FOR UPDATE",
	    1, params);

	*out = NULL;
	*n = 0;
	if (res == NULL)
		return -1;
	*n = PQntuples(res);
	*out = xcalloc((size_t)*n + 1, sizeof(**out));
	for (int i = 0; i < *n; i++) {
		struct db_probe *p = &(*out)[i];

		p->id = db_col_i64(res, i, 0);
		p->port = (int)db_col_i64(res, i, 1);
		/* The columns are enums of the same names; a mismatch is a schema the
		 * build does not know: the probe counts as inconclusive, not as clean. */
		if (verdict_parse(PQgetvalue(res, i, 2), &p->verdict) < 0 ||
		    backscatter_parse(PQgetvalue(res, i, 3), &p->backscatter) < 0) {
			log_error("probe_round_unknown_verdict", "probe=%" PRId64 " verdict=%s",
			          p->id, PQgetvalue(res, i, 2));
			p->verdict = VERDICT_ERROR;
			p->backscatter = BACKSCATTER_UNTESTED;
		}
		p->started_at = db_col_i64(res, i, 4);
		p->trick = db_col_dup(res, i, 5);
		p->transcript = db_col_dup(res, i, 6);
		p->finished = db_col_dup(res, i, 7);
	}
	PQclear(res);
	return 0;
}

int
db_probe_round_done(PGconn *conn, const struct db_probe *p, int n)
{
	char *ids = xstrdup("{");
	const char *params[1];
	int rc;

	for (int i = 0; i < n; i++) {
		char *more = xasprintf("%s%s%" PRId64, ids, i ? "," : "", p[i].id);

		free(ids);
		ids = more;
	}
	{
		char *closed = xasprintf("%s}", ids);

		free(ids);
		ids = closed;
	}
	params[0] = ids;
	rc = db_cmd(conn, "probe_round_done",
	            "UPDATE probes SET workflow_done_at = now() WHERE id = ANY($1::bigint[])", 1,
	            params);
	free(ids);
	return rc;
}

int
db_target_of(PGconn *conn, const char *address, int64_t *target_id, int64_t *customer_id)
{
	const char *params[] = {address};
	PGresult *res =
	    db_exec(conn, "target_of",
	            "SELECT id, customer_id FROM targets WHERE address = $1::inet", 1, params);
	int found;

	*target_id = *customer_id = 0;
	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		*target_id = db_col_i64(res, 0, 0);
		*customer_id = db_col_i64(res, 0, 1);
	}
	PQclear(res);
	return found;
}

int
db_target_reprobe(PGconn *conn, int64_t target_id, int64_t seconds)
{
	char id[24], secs[24];
	const char *params[] = {id, secs};

	db_fmt_i64(id, target_id);
	db_fmt_i64(secs, seconds);
	return db_cmd(conn, "target_reprobe",
	              "UPDATE targets SET next_probe_at = least(next_probe_at, now() + "
	              "make_interval(secs => $2::bigint)), updated_at = now() WHERE id = $1",
	              2, params);
}

int
db_retest_answer(PGconn *conn, int64_t target_id, int64_t probe_id)
{
	char id[24], pid[24];
	const char *params[] = {id, pid};
	PGresult *res;
	int n;

	db_fmt_i64(id, target_id);
	db_fmt_i64(pid, probe_id);
	/* A probe answers the requests made before it started. */
	res = db_exec(
	    conn, "retest_answer",
	    "UPDATE retest_requests SET done_at = now(), probe_id = $2 "
	    "WHERE target_id = $1 AND done_at IS NULL "
	    "AND requested_at <= (SELECT started_at FROM probes WHERE id = $2) RETURNING id",
	    2, params);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n;
}

int
db_customer_get(PGconn *conn, int64_t id, struct db_customer *out)
{
	char ids[24];
	const char *params[] = {ids};
	PGresult *res;
	int found;

	memset(out, 0, sizeof(*out));
	db_fmt_i64(ids, id);
	res =
	    db_exec(conn, "customer_get",
	            "SELECT contact_email, locale, name, enforce_mode FROM customers WHERE id = $1",
	            1, params);
	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		out->email = db_col_dup(res, 0, 0);
		out->locale = db_col_dup(res, 0, 1);
		out->name = db_col_dup(res, 0, 2);
		out->mode = db_col_dup(res, 0, 3);
	}
	PQclear(res);
	return found;
}

void
db_customer_clear(struct db_customer *c)
{
	free(c->email);
	free(c->locale);
	free(c->name);
	free(c->mode);
	memset(c, 0, sizeof(*c));
}

int
db_complaint_next(PGconn *conn, int64_t *id, char *address, size_t alen, char **actor)
{
	PGresult *res =
	    db_exec(conn, "complaint_next",
	            "SELECT id, host(address), actor FROM complaints "
	            "WHERE processed_at IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
	            0, NULL);
	int found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		*id = db_col_i64(res, 0, 0);
		db_col_copy(res, 0, 1, address, alen);
		*actor = db_col_dup(res, 0, 2);
	}
	PQclear(res);
	return found;
}

int
db_complaint_done(PGconn *conn, int64_t id, int64_t case_id)
{
	char ids[24], cid[24];
	const char *params[] = {ids, cid};

	db_fmt_i64(ids, id);
	db_fmt_i64(cid, case_id);
	return db_cmd(conn, "complaint_done",
	              "UPDATE complaints SET processed_at = now(), "
	              "case_id = coalesce(nullif($2, '0')::bigint, case_id) WHERE id = $1",
	              2, params);
}

int
db_command_next(PGconn *conn, int64_t *id, int64_t *case_id, char *command, size_t clen,
                char **note, char **actor)
{
	PGresult *res =
	    db_exec(conn, "command_next",
	            "SELECT id, case_id, command, note, actor FROM case_commands "
	            "WHERE applied_at IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
	            0, NULL);
	int found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found) {
		*id = db_col_i64(res, 0, 0);
		*case_id = db_col_i64(res, 0, 1);
		db_col_copy(res, 0, 2, command, clen);
		*note = db_col_dup(res, 0, 3);
		*actor = db_col_dup(res, 0, 4);
	}
	PQclear(res);
	return found;
}

int
db_command_done(PGconn *conn, int64_t id, const char *result)
{
	char ids[24];
	const char *params[] = {ids, result};

	db_fmt_i64(ids, id);
	return db_cmd(conn, "command_done",
	              "UPDATE case_commands SET applied_at = now(), result = $2 WHERE id = $1", 2,
	              params);
}

int
db_case_timer_next(PGconn *conn, int64_t *case_id)
{
	PGresult *res = db_exec(conn, "case_timer_next",
	                        "SELECT id FROM cases WHERE next_timer_at <= now() "
	                        "AND state NOT IN ('resolved', 'closed') ORDER BY next_timer_at "
	                        "LIMIT 1 FOR UPDATE SKIP LOCKED",
	                        0, NULL);
	int found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	if (found)
		*case_id = db_col_i64(res, 0, 0);
	PQclear(res);
	return found;
}

int
db_workflow_listen(PGconn *conn)
{
	/* relayaudit_probes: the daemon's result batches, so new findings act at once. */
	if (db_cmd(conn, "workflow_listen", "LISTEN relayaudit_workflow", 0, NULL) < 0)
		return -1;
	return db_cmd(conn, "workflow_listen_probes", "LISTEN relayaudit_probes", 0, NULL);
}
