/*
 * GET /v1/openapi.json: the OpenAPI 3 document, generated from the route
 * table and the body field tables, so it cannot list a route that is not
 * served or miss one that is.
 */
#include "api/handler.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	enum api_ftype type;
	const char *schema;
} openapi_types[] = {
	{FT_STRING, "{\"type\":\"string\"}"},
	{FT_INT, "{\"type\":\"integer\"}"},
	{FT_BOOL, "{\"type\":\"boolean\"}"},
	{FT_INT_ARRAY, "{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}"},
	{FT_STRING_ARRAY, "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"},
};

static json_t *
openapi_schema(enum api_ftype t)
{
	for (size_t i = 0; i < ARRAY_LEN(openapi_types); i++) {
		if (openapi_types[i].type == t)
			return json_loads(openapi_types[i].schema, 0, NULL);
	}
	return json_object();
}

static json_t *
openapi_body(const struct api_field *fields)
{
	json_t *props = json_object(), *req = json_array(), *schema;

	for (const struct api_field *f = fields; f->name; f++) {
		json_t *s = openapi_schema(f->type);

		json_object_set_new(s, "description", json_string(f->help));
		json_object_set_new(props, f->name, s);
		if (f->required)
			json_array_append_new(req, json_string(f->name));
	}
	schema = json_pack("{s:s,s:o,s:b}", "type", "object", "properties", props,
			   "additionalProperties", 0);
	if (json_array_size(req) > 0)
		json_object_set_new(schema, "required", req);
	else
		json_decref(req);
	return json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content", "application/json",
			 "schema", schema);
}

/*
 * A URL-safe operationId from the method and the pattern, unique as the
 * routes are: "GET /v1/targets/{ip}/retests" is get_v1_targets_by_ip_retests.
 */
static void
openapi_operation_id(const struct api_route *rt, char *buf, size_t len)
{
	size_t o = 0;

	for (const char *m = rt->method; *m && o + 1 < len; m++)
		buf[o++] = (char)tolower((unsigned char)*m);
	if (strcmp(rt->pattern, "/") == 0)
		o += (size_t)snprintf(buf + o, len - o, "_root");
	for (const char *p = rt->pattern; *p && o + 4 < len; p++) {
		if (*p == '/') {
			buf[o++] = '_';
		} else if (*p == '{') {
			o += (size_t)snprintf(buf + o, len - o, "by_");
		} else if (*p == '}') {
			continue;
		} else {
			buf[o++] = isalnum((unsigned char)*p) ? *p : '_';
		}
	}
	buf[o < len ? o : len - 1] = '\0';
}

static json_t *
openapi_params(const struct api_route *rt)
{
	json_t *params = json_array();

	for (const char *p = strchr(rt->pattern, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');

		json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p + 1,
							(size_t)(end - p - 1), "in", "path",
							"required", 1, "schema", "type", "string"));
	}
	for (const char *p = rt->query; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p, n, "in",
							"query", "required", 0, "schema", "type",
							"string"));
		p = comma ? comma + 1 : NULL;
	}
	return params;
}

static const struct {
	int status;
	const char *text;
} openapi_errors[] = {
	{400, "bad input in the path or query"},   {401, "no valid token"},
	{403, "the token's role is too low"},       {404, "no such resource"},
	{409, "conflict with the current state"},   {413, "body larger than api_max_body"},
	{415, "body is not application/json (or message/rfc822 where accepted)"},
	{422, "invalid body"},
	{429, "rate limited"},                      {503, "database unavailable"},
};

void
h_openapi(struct api_req *r)
{
	size_t n;
	const struct api_route *routes = api_routes(&n);
	json_t *paths = json_object();
	json_t *doc;

	for (size_t i = 0; i < n; i++) {
		const struct api_route *rt = &routes[i];
		json_t *item = json_object_get(paths, rt->pattern), *op, *responses;
		char method[8], status[8];
		size_t m;

		if (item == NULL) {
			item = json_object();
			json_object_set_new(paths, rt->pattern, item);
		}
		for (m = 0; rt->method[m] && m + 1 < sizeof(method); m++)
			method[m] = (char)(rt->method[m] | 0x20); /* lower case */
		method[m] = '\0';
		str_fmt(status, sizeof(status), "%d", rt->ok_status);
		responses = json_pack("{s:{s:s,s:{s:{}}}}", status, "description", "success",
				      "content", rt->produces);
		for (size_t e = 0; e < ARRAY_LEN(openapi_errors); e++) {
			char code[8];

			str_fmt(code, sizeof(code), "%d", openapi_errors[e].status);
			json_object_set_new(responses, code,
					    json_pack("{s:s,s:{s:{s:{s:s}}}}", "description",
						      openapi_errors[e].text, "content",
						      "application/json", "schema", "$ref",
						      "#/components/schemas/Error"));
		}
		op = json_pack("{s:s,s:s,s:o,s:o}", "summary", rt->summary, "operationId",
			       rt->pattern, "parameters", openapi_params(rt), "responses", responses);
		{
			char id[160];

			openapi_operation_id(rt, id, sizeof(id));
			json_object_set_new(op, "operationId", json_string(id));
		}
		if (rt->body != NULL)
			json_object_set_new(op, "requestBody", openapi_body(rt->body));
		/* A complaint may also come as the report mail itself (ARF, X-ARF). */
		if (rt->body == api_complaint_fields)
			json_object_set_new(json_object_get(json_object_get(op, "requestBody"), "content"),
					    "message/rfc822",
					    json_pack("{s:{s:s,s:s}}", "schema", "type", "string",
						      "format", "binary"));
		if (rt->access == ACCESS_PUBLIC || rt->access == ACCESS_HEALTH)
			json_object_set_new(op, "security", json_array());
		if (rt->access >= ACCESS_VIEWER)
			json_object_set_new(op, "x-required-role",
					    json_string(api_role_name((enum api_role)rt->access)));
		json_object_set_new(item, method, op);
	}
	doc = json_pack(
		"{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:{s:{s:{s:s,s:s}},s:{s:{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s}}}}}}},s:[{s:[]}]}",
		"openapi", "3.0.3", "info", "title", "relayaudit API", "version", "1",
		"description",
		"Open-relay audit: targets, probes, cases. Bearer tokens with roles viewer, "
		"operator, admin (relayctl token create).",
		"servers", "url", "/", "paths", paths, "components", "securitySchemes", "bearer",
		"type", "http", "scheme", "bearer", "schemas", "Error", "type", "object",
		"properties", "error", "type", "object", "properties", "code", "type", "string",
		"message", "type", "string", "security", "bearer");
	if (doc == NULL) {
		api_error(r, 500, "internal", "could not build the document");
		return;
	}
	/* The project publishes no licence text yet; the entry says so (lint: info-license). */
	json_object_set_new(json_object_get(doc, "info"), "license",
			    json_pack("{s:s}", "name", "Proprietary"));
	api_reply_json(r, 200, doc);
}
