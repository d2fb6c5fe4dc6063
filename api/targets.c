/*
 * /v1/targets: list with filters, get with the latest probes, create, update,
 * delete, and operator re-test requests (followed at /v1/retests/{id}).
 */
#include "api/handler.h"
#include "common/config.h"
#include "common/util.h"
#include "db/import.h"
#include "db/query.h"
#include "db/retests.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct api_field api_target_fields[] = {
	{"address", FT_STRING, true, "IPv4 or IPv6 address"},
	{"customer", FT_STRING, true, "ext_id of the customer"},
	{"ports", FT_INT_ARRAY, false, "ports to probe (default: probe_ports)"},
	{"domains", FT_STRING_ARRAY, false, "mail domains the server is known to host"},
	{"excluded", FT_BOOL, false, "never probe"},
	{"probe_interval", FT_INT, false, "seconds between periodic probes; 0 = the default"},
	{NULL, 0, false, NULL},
};

const struct api_field api_target_update_fields[] = {
	{"customer", FT_STRING, false, "ext_id of the customer"},
	{"ports", FT_INT_ARRAY, false, "ports to probe"},
	{"domains", FT_STRING_ARRAY, false, "mail domains"},
	{"excluded", FT_BOOL, false, "never probe"},
	{"probe_interval", FT_INT, false, "seconds between periodic probes; 0 = the default"},
	{NULL, 0, false, NULL},
};

void
h_targets_list(struct api_req *r)
{
	char limit[16], cidr[64];
	const char *params[7];

	if (!api_param_choice(r, "verdict", api_verdicts(), &params[0]) ||
	    !api_param_choice(r, "state", API_CASE_STATES, &params[1]) ||
	    !api_param_cidr(r, "cidr", &params[2], cidr) || !api_param_bool(r, "excluded", &params[4]) ||
	    !api_page_params(r, limit, &params[5]))
		return;
	params[3] = api_query(r, "customer");
	if (!api_param_ext_id(r, params[3]))
		return;
	params[6] = limit;
	api_reply_query(r, params[0] ? &api_targets_list_verdict : &api_targets_list, params, 200,
			"targets");
}

void
h_target_get(struct api_req *r)
{
	char addr[64];
	const char *params[] = {addr};

	if (api_param_addr(r, r->path_param[0], addr))
		api_reply_query(r, &api_target_get, params, 200, "target");
}

/* Fields 2..6 of both statements: customer, ports, domains, excluded, probe_interval. */
static void
target_write(struct api_req *r, const struct pstmt_stmt *st, const char *path_addr, int status)
{
	static const char *const names[] = {"customer", "ports", "domains", "excluded",
					    "probe_interval"};
	json_t *doc = api_body(r);
	char addr[64], *vals[5] = {0};
	const char *params[7];
	json_t *iv;

	if (doc == NULL)
		return;
	iv = json_object_get(doc, "probe_interval");
	if (path_addr == NULL ? !api_body_addr(r, doc, "address", addr)
			      : !api_param_addr(r, path_addr, addr))
		goto out;
	if (!api_body_domains(r, doc, "domains"))
		goto out;
	if (iv != NULL && (json_integer_value(iv) < 0 || json_integer_value(iv) > 31536000 ||
			   (json_integer_value(iv) > 0 && json_integer_value(iv) < 60))) {
		api_error(r, 422, "invalid_value", "probe_interval: want 0 or 60..31536000 seconds");
		goto out;
	}
	params[0] = addr;
	for (int i = 0; i < 5; i++) {
		vals[i] = api_json_param(json_object_get(doc, names[i]));
		params[i + 1] = vals[i];
	}
	params[6] = config_str(r->cfg, CFG_PROBE_PORTS);
	{
		char why[256], *out = NULL;
		int s = pstmt_text(r->db, st, params, &out, why, sizeof(why));

		/* No row from create means the customer is unknown, from update the target. */
		if (s == PSTMT_NOT_FOUND && path_addr == NULL)
			api_error(r, 422, "invalid_value", "customer: no customer with that ext_id");
		else if (api_db_ok(r, s, why, "target"))
			api_reply_json_text(r, status, out);
	}
out:
	for (int i = 0; i < 5; i++)
		free(vals[i]);
	json_decref(doc);
}

void
h_target_create(struct api_req *r)
{
	target_write(r, &api_target_create, NULL, 201);
}

void
h_target_update(struct api_req *r)
{
	target_write(r, &api_target_update, r->path_param[0], 200);
}

void
h_target_delete(struct api_req *r)
{
	char addr[64];
	const char *params[] = {addr};

	if (api_param_addr(r, r->path_param[0], addr))
		api_reply_query(r, &api_target_delete, params, 200, "target");
}

void
h_target_retest(struct api_req *r)
{
	char addr[64], why[256], *out = NULL;
	const char *params[] = {addr};
	int s;

	if (!api_param_addr(r, r->path_param[0], addr))
		return;
	s = pstmt_text(r->db, &api_target_state, params, &out, why, sizeof(why));
	if (!api_db_ok(r, s, why, "target"))
		return;
	if (strcmp(out, "true") == 0) {
		free(out);
		api_error(r, 409, "excluded", "the target is excluded from probing");
		return;
	}
	free(out);
	{
		struct retest_ask ask = {.address = addr, .actor = r->actor};
		PGconn *conn = pstmt_conn(r->db);
		const char *whyr = NULL;
		int64_t id = 0;

		if (conn == NULL) {
			api_error(r, 503, "database_unavailable", "the database cannot be reached");
			return;
		}
		s = retest_request(conn, &ask, &id, &out, &whyr);
		if (s < 0) {
			api_error(r, 500, "internal", "%s", whyr);
			return;
		}
		if (s == 0) { /* deleted or excluded since the check above */
			api_error(r, 404, "not_found", "no such target");
			return;
		}
		api_set_header(r, "Location", "/v1/retests/%lld", (long long)id);
	}
	api_reply_json_text(r, 202, out);
}

void
h_retest_get(struct api_req *r)
{
	const char *params[] = {r->path_param[0]};

	if (api_param_id(r, r->path_param[0], "re-test"))
		api_reply_query(r, &api_retest_get, params, 200, "re-test request");
}

/* Content types of a bulk import body and the parser format each means. */
static const struct {
	const char *type;
	enum import_format format;
} import_types[] = {
	{"text/csv", IMPORT_CSV},
	{"application/x-ndjson", IMPORT_JSONL},
	{"application/jsonl", IMPORT_JSONL},
};

/*
 * POST /v1/targets/import: the relayctl import file (CSV or JSON lines) as
 * the body, checked by the same parser and written by the same all-or-nothing
 * import; row errors come back as 422 with their lines.
 */
void
h_targets_import(struct api_req *r)
{
	const char *ct = api_header(r, "Content-Type"), *dry;
	struct import_limits limits = {(uint64_t)config_int(r->cfg, CFG_IMPORT_MAX_CIDR),
				       config_loopback_only(r->cfg)};
	struct import_result res;
	struct import_counts counts = {0};
	char ports[96];
	PGconn *conn;
	int format = -1, rc;

	for (size_t i = 0; ct && i < sizeof(import_types) / sizeof(import_types[0]); i++) {
		size_t n = strlen(import_types[i].type);

		if (strncasecmp(ct, import_types[i].type, n) == 0 && (ct[n] == '\0' || ct[n] == ';'))
			format = (int)import_types[i].format;
	}
	if (format < 0) {
		api_error(r, 415, "unsupported_media_type",
			  "send the import as text/csv or application/x-ndjson");
		return;
	}
	if (!api_param_bool(r, "dry_run", &dry))
		return;
	if (r->body_len == 0) {
		api_error(r, 400, "empty_body", "the import file is empty");
		return;
	}
	str_fmt(ports, sizeof(ports), "{%s}", config_str(r->cfg, CFG_PROBE_PORTS));
	rc = import_parse(r->body, r->body_len, (enum import_format)format, &limits, &res);
	if (rc == 0) {
		if ((conn = pstmt_conn(r->db)) == NULL) {
			import_result_free(&res);
			api_error(r, 503, "database_unavailable", "the database cannot be reached");
			return;
		}
		rc = import_write(conn, &res, ports, dry && strcmp(dry, "true") == 0, &counts);
		if (rc != 0 && res.errors_total == 0) {
			import_result_free(&res);
			api_error(r, 500, "internal", "the import failed; nothing was written");
			return;
		}
	}
	if (rc != 0) {
		json_t *errs = json_array();

		for (int i = 0; i < res.nerrors; i++)
			json_array_append_new(errs, json_pack("{s:i,s:s}", "line", res.errors[i].line,
							      "message", res.errors[i].msg));
		api_reply_json(r, 422,
			       json_pack("{s:{s:s,s:s,s:i,s:o}}", "error", "code", "invalid_rows",
					 "message", "the import has errors; nothing was written",
					 "errors_total", res.errors_total, "errors", errs));
		import_result_free(&res);
		return;
	}
	api_reply_json(r, 200,
		       json_pack("{s:b,s:I,s:I,s:I,s:I,s:I}", "dry_run",
				 dry && strcmp(dry, "true") == 0, "customers_new",
				 (json_int_t)counts.customers_new, "customers_changed",
				 (json_int_t)counts.customers_changed, "targets_new",
				 (json_int_t)counts.targets_new, "targets_changed",
				 (json_int_t)counts.targets_changed, "targets_total",
				 (json_int_t)counts.targets_total));
	import_result_free(&res);
}
