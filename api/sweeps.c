/* /v1/sweeps: probe everything, a range or one customer's targets soon; follow progress. */
#include "api/handler.h"
#include "common/addr.h"
#include "db/query.h"
#include "db/targets.h"

#include <string.h>

const struct api_field api_sweep_fields[] = {
	{"scope", FT_STRING, true, "all, cidr or customer"},
	{"cidr", FT_STRING, false, "the range, for scope cidr"},
	{"customer", FT_STRING, false, "the customer's ext_id, for scope customer"},
	{NULL, 0, false, NULL},
};

void
h_sweep_create(struct api_req *r)
{
	json_t *doc = api_body(r);
	const char *scope, *cidr_s, *cust, *why = NULL;
	char cidr[64];
	struct cidr c;

	if (doc == NULL)
		return;
	if (!api_body_choice(r, doc, "scope", "all|cidr|customer"))
		goto out;
	scope = json_string_value(json_object_get(doc, "scope"));
	cidr_s = json_string_value(json_object_get(doc, "cidr"));
	cust = json_string_value(json_object_get(doc, "customer"));
	if ((strcmp(scope, "cidr") == 0) != (cidr_s != NULL) ||
	    (strcmp(scope, "customer") == 0) != (cust != NULL)) {
		api_error(r, 422, "invalid_value",
			  "scope cidr takes exactly a cidr, scope customer exactly a customer");
		goto out;
	}
	if (cidr_s != NULL) {
		if (strlen(cidr_s) > 63 || cidr_parse(cidr_s, &c, &why) < 0) {
			api_error(r, 422, "invalid_value", "cidr: not a CIDR range (%s)",
				  why ? why : "too long");
			goto out;
		}
		cidr_format(&c, cidr, sizeof(cidr));
	}
	{
		struct sweep_scope sc = {scope, cidr_s ? cidr : NULL, cust, 1, r->actor};
		PGconn *conn = pstmt_conn(r->db);
		const char *dbwhy = NULL;
		char *out = NULL;
		int64_t total;

		if (conn == NULL)
			api_error(r, 503, "database_unavailable", "the database cannot be reached");
		else if (targets_sweep(conn, &sc, &total, &out, &dbwhy) >= 0)
			api_reply_json_text(r, 201, out);
		else if (strcmp(dbwhy, "no such customer") == 0)
			api_error(r, 422, "invalid_value", "customer: no customer with that ext_id");
		else
			api_error(r, 500, "internal", "sweep: %s", dbwhy);
	}
out:
	json_decref(doc);
}

void
h_sweep_get(struct api_req *r)
{
	const char *params[] = {r->path_param[0]};

	if (api_param_id(r, r->path_param[0], "sweep"))
		api_reply_query(r, &api_sweep_get, params, 200, "sweep");
}

void
h_sweeps_list(struct api_req *r)
{
	char limit[16];
	const char *params[3];

	if (!api_page_params(r, limit, &params[0]) || !api_param_bool(r, "running", &params[1]))
		return;
	params[2] = limit;
	api_reply_query(r, &api_sweeps_list, params, 200, "sweeps");
}
