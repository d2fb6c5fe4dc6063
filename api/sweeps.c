/* /v1/sweeps: probe everything, a range or one customer's targets soon; follow progress. */
#include "api/handler.h"
#include "common/addr.h"
#include "db/query.h"

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
	const char *params[4];
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
	params[0] = r->actor;
	params[1] = scope;
	params[2] = cidr_s ? cidr : NULL;
	params[3] = cust;
	{
		char dbwhy[256], *out = NULL;
		int s = pstmt_text(r->db, &api_sweep_create, params, &out, dbwhy, sizeof(dbwhy));

		if (s == PSTMT_NOT_FOUND)
			api_error(r, 422, "invalid_value", "customer: no customer with that ext_id");
		else if (api_db_ok(r, s, dbwhy, "sweep"))
			api_reply_json_text(r, 201, out);
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
