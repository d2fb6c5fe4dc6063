/*
 * /v1/cases and /v1/complaints. Actions and complaints are queued for the
 * workflow runner (202); the API refuses at once (409) an action that makes
 * no sense in the case's current state.
 */
#include "api/handler.h"
#include "common/config.h"
#include "common/log.h"
#include "common/quarantine.h"
#include "common/util.h"
#include "db/arf_parse.h"
#include "db/complaints.h"
#include "db/query.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct api_field api_case_action_fields[] = {
	{"action", FT_STRING, true, "block, unblock, escalate, close, reopen or note"},
	{"note", FT_STRING, false, "free text kept with the case (required for note)"},
	{NULL, 0, false, NULL},
};

const struct api_field api_complaint_fields[] = {
	{"address", FT_STRING, true, "the address the complaint is about"},
	{"raw", FT_STRING, false, "the raw report (ARF or the spam message)"},
	{"source", FT_STRING, false, "who sent it, e.g. a feedback loop name"},
	{NULL, 0, false, NULL},
};

/* The columns of format=csv, in the order of a case's JSON object. */
static const char *const case_csv_columns[] = {
	"id", "address", "customer", "state", "finding", "probe_id", "trick", "blocked",
	"opened_at", "updated_at", "notified_at", "blocked_at", "escalated_at", "resolved_at",
	"closed_at", "next_timer_at", NULL,
};

/* A page of cases as JSON, or as CSV with the next page's cursor in X-Next-Cursor. */
static void
cases_reply(struct api_req *r, const struct pstmt_stmt *st, const char *const *params, bool csv)
{
	char why[256], *out = NULL;
	json_t *page, *next;
	int s;

	if (!csv) {
		api_reply_query(r, st, params, 200, "cases");
		return;
	}
	s = pstmt_text(r->db, st, params, &out, why, sizeof(why));
	if (!api_db_ok(r, s, why, "cases"))
		return;
	page = json_loads(out, 0, NULL);
	free(out);
	if (page == NULL) {
		api_error(r, 500, "internal", "the case list did not parse");
		return;
	}
	api_reply_csv(r, json_object_get(page, "items"), case_csv_columns);
	next = json_object_get(page, "next_cursor");
	if (json_is_string(next))
		api_set_header(r, "X-Next-Cursor", "%s", json_string_value(next));
	json_decref(page);
}

void
h_cases_list(struct api_req *r)
{
	char limit[16], cidr[64], age[24];
	const char *params[7], *format;
	bool csv;

	if (!api_param_choice(r, "state", API_CASE_STATES, &params[0]) ||
	    !api_param_duration(r, "older_than", age) || !api_param_cidr(r, "cidr", &params[2], cidr) ||
	    !api_page_params(r, limit, &params[3]) ||
	    !api_param_choice(r, "finding", "relay_confirmed|accepted_not_relayed|backscatter|complaint",
			      &params[5]) ||
	    !api_param_choice(r, "format", "json|csv", &format))
		return;
	csv = format != NULL && strcmp(format, "csv") == 0;
	params[1] = age[0] ? age : NULL;
	params[4] = limit;
	params[6] = api_query(r, "customer");
	if (!api_param_ext_id(r, params[6]))
		return;
	if (params[0] != NULL && params[1] == NULL && params[2] == NULL && params[5] == NULL &&
	    params[6] == NULL) {
		const char *by_state[] = {params[0], params[3], params[4]};

		cases_reply(r, &api_cases_by_state, by_state, csv);
		return;
	}
	cases_reply(r, params[0] ? &api_cases_list_state : &api_cases_list, params, csv);
}

void
h_case_get(struct api_req *r)
{
	const char *params[] = {r->path_param[0]};

	if (api_param_id(r, r->path_param[0], "case"))
		api_reply_query(r, &api_case_get, params, 200, "case");
}

void
h_case_action(struct api_req *r)
{
	json_t *doc, *conflict;
	const char *action, *note;
	const char *params[4];
	char why[256], *out = NULL;
	int s;

	if (!api_param_id(r, r->path_param[0], "case") || (doc = api_body(r)) == NULL)
		return;
	action = json_string_value(json_object_get(doc, "action"));
	note = json_string_value(json_object_get(doc, "note"));
	if (!api_body_choice(r, doc, "action", "block|unblock|escalate|close|reopen|note"))
		goto out;
	if (strcmp(action, "note") == 0 && (note == NULL || note[0] == '\0')) {
		api_error(r, 422, "missing_field", "a note action needs a non-empty note");
		goto out;
	}
	if (note != NULL && strlen(note) > 65536) {
		api_error(r, 422, "invalid_value", "note: at most 65536 bytes");
		goto out;
	}
	params[0] = r->path_param[0];
	params[1] = action;
	params[2] = note;
	params[3] = r->actor;
	s = pstmt_text(r->db, &api_case_command, params, &out, why, sizeof(why));
	if (!api_db_ok(r, s, why, "case"))
		goto out;
	{
		json_t *res = json_loads(out, 0, NULL);

		conflict = json_object_get(res, "conflict");
		if (conflict != NULL) {
			api_error(r, 409, "conflict", "cannot %s a case that is %s%s", action,
				  json_string_value(conflict),
				  json_is_true(json_object_get(res, "blocked")) ? " and blocked" : "");
			free(out);
		} else {
			api_reply_json_text(r, 202, out);
		}
		json_decref(res);
	}
out:
	json_decref(doc);
}

/* "message/rfc822" with optional parameters: a report posted as it came by mail. */
static bool
complaint_is_mail(struct api_req *r)
{
	const char *ct = api_header(r, "Content-Type");

	return ct != NULL && strncasecmp(ct, "message/rfc822", 14) == 0 &&
	       (ct[14] == '\0' || ct[14] == ';' || ct[14] == ' ');
}

static void
complaint_reply(struct api_req *r, const struct complaint_in *in)
{
	char why[256], *out = NULL;
	int s = complaints_file(r->db, in, &out, why, sizeof(why));

	if (api_db_ok(r, s, why, "complaint"))
		api_reply_json_text(r, 202, out);
}

/* An ARF or X-ARF report: filed like a JSON complaint, or refused (422) and kept. */
static void
complaint_from_mail(struct api_req *r)
{
	struct arf_report rep;
	const char *why = NULL, *qwhy = NULL;
	char *path = NULL;

	if (arf_parse(r->body, r->body_len, &rep, &why) != 0) {
		if (quarantine_keep(config_str(r->cfg, CFG_COMPLAINT_QUARANTINE_DIR), r->body,
				    r->body_len, NULL, why, &path, &qwhy) != 0) {
			log_error("complaint_not_kept", "reason=\"%s\" why=\"%s\"", why, qwhy);
			api_error(r, 503, "unavailable", "report refused (%s) and not kept: %s", why,
				  qwhy);
			return;
		}
		log_info("complaint_refused", "reason=\"%s\" kept=%s", why, path);
		api_error(r, 422, "bad_report", "%s; kept as %s", why, strrchr(path, '/') + 1);
		free(path);
		return;
	}
	{
		char *source = xasprintf("%s %s from %s (%s)", arf_format_name(rep.format),
					 *rep.feedback_type ? rep.feedback_type : "report",
					 *rep.reporter ? rep.reporter : "unknown sender", rep.ip_from);
		char *raw = arf_evidence_text(r->body, r->body_len);
		struct complaint_in in = {rep.source_ip, source, raw, r->actor};

		complaint_reply(r, &in);
		free(source);
		free(raw);
	}
}

void
h_complaint_create(struct api_req *r)
{
	json_t *doc;
	char addr[64];

	if (complaint_is_mail(r)) {
		complaint_from_mail(r);
		return;
	}
	if ((doc = api_body(r)) == NULL)
		return;
	if (api_body_addr(r, doc, "address", addr)) {
		struct complaint_in in = {addr, json_string_value(json_object_get(doc, "source")),
					  json_string_value(json_object_get(doc, "raw")), r->actor};

		complaint_reply(r, &in);
	}
	json_decref(doc);
}
