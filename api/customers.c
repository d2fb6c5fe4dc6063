/*
 * /v1/customers: list, get, create, update, delete. Values are checked by the
 * schema; mail domains here first (api_body_domains), so a bad one is named.
 */
#include "api/handler.h"
#include "common/util.h"
#include "db/query.h"

#include <stdlib.h>

const struct api_field api_customer_fields[] = {
	{"ext_id", FT_STRING, true, "the ISP's own customer id: letters, digits, ._:@/-"},
	{"name", FT_STRING, false, "display name"},
	{"contact_email", FT_STRING, true, "where notifications go"},
	{"locale", FT_STRING, false, "language of notifications and the re-test page (en, de...)"},
	{"access_type", FT_STRING, false, "how the customer connects, e.g. business"},
	{"enforce_mode", FT_STRING, false, "port25_inbound, smarthost, or empty for the default"},
	{"domains", FT_STRING_ARRAY, false,
	 "the customer's mail domains (at most 32; stored lower-case, each once): probes of every "
	 "target of the customer forge senders from them and test backscatter to them"},
	{NULL, 0, false, NULL},
};

const struct api_field api_customer_update_fields[] = {
	{"name", FT_STRING, false, "display name"},
	{"contact_email", FT_STRING, false, "where notifications go"},
	{"locale", FT_STRING, false, "language of notifications"},
	{"access_type", FT_STRING, false, "how the customer connects"},
	{"enforce_mode", FT_STRING, false, "port25_inbound, smarthost, or empty for the default"},
	{"domains", FT_STRING_ARRAY, false, "the customer's mail domains: the whole new list ([] clears it)"},
	{NULL, 0, false, NULL},
};

void
h_customers_list(struct api_req *r)
{
	char limit[16];
	const char *cursor;
	const char *params[3];

	if (!api_page_params(r, limit, &cursor))
		return;
	params[0] = api_query(r, "q");
	params[1] = cursor;
	params[2] = limit;
	api_reply_query(r, &api_customers_list, params, 200, "customers");
}

void
h_customer_get(struct api_req *r)
{
	const char *params[] = {r->path_param[0]};

	if (api_param_ext_id(r, r->path_param[0]))
		api_reply_query(r, &api_customer_get, params, 200, "customer");
}

/* Create (ext_id from the body) and update (ext_id from the path) share the field order. */
static void
customer_write(struct api_req *r, const struct pstmt_stmt *st, const char *ext_id, int status)
{
	static const char *const names[] = {"name", "contact_email", "locale", "access_type",
					    "enforce_mode", "domains"};
	enum { NVALS = 1 + ARRAY_LEN(names) };
	json_t *doc;
	char *vals[NVALS] = {0};
	const char *params[NVALS];

	if (!api_param_ext_id(r, ext_id) || (doc = api_body(r)) == NULL)
		return;
	if (!api_body_choice(r, doc, "enforce_mode", "port25_inbound|smarthost|") ||
	    !api_body_domains(r, doc, "domains")) {
		json_decref(doc);
		return;
	}
	vals[0] = ext_id ? NULL : api_json_param(json_object_get(doc, "ext_id"));
	params[0] = ext_id ? ext_id : vals[0];
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		vals[i + 1] = api_json_param(json_object_get(doc, names[i]));
		params[i + 1] = vals[i + 1];
	}
	api_reply_query(r, st, params, status, "customer");
	for (int i = 0; i < NVALS; i++)
		free(vals[i]);
	json_decref(doc);
}

void
h_customer_create(struct api_req *r)
{
	customer_write(r, &api_customer_create, NULL, 201);
}

void
h_customer_update(struct api_req *r)
{
	customer_write(r, &api_customer_update, r->path_param[0], 200);
}

void
h_customer_delete(struct api_req *r)
{
	const char *params[] = {r->path_param[0]};

	if (api_param_ext_id(r, r->path_param[0]))
		api_reply_query(r, &api_customer_delete, params, 200, "customer");
}
