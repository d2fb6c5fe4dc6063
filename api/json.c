/*
 * Replies and request bodies: the one error shape
 * {"error": {"code": ..., "message": ...}}, strict JSON body checking against
 * a route's field table, and the shared pagination parameters.
 */
#include "api/handler.h"
#include "common/util.h"
#include "db/pstmt.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
api_set_body(struct api_req *r, int status, const char *content_type, char *body, size_t len)
{
	free(r->resp);
	r->status = status;
	r->content_type = content_type;
	r->resp = body;
	r->resp_len = len;
}

void
api_reply_text(struct api_req *r, int status, const char *content_type, char *body, size_t len)
{
	api_set_body(r, status, content_type, body, len);
}

void
api_reply_json_text(struct api_req *r, int status, char *text)
{
	api_set_body(r, status, "application/json", text, strlen(text));
}

void
api_reply_json(struct api_req *r, int status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	if (text == NULL) {
		api_error(r, 500, "internal", "could not render the reply");
		return;
	}
	api_reply_json_text(r, status, text);
}

void
api_error(struct api_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *doc;
	char *text;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	doc = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (text == NULL)
		text = xstrdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}");
	api_reply_json_text(r, status, text);
}

void
api_set_header(struct api_req *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->hdr_buf, sizeof(r->hdr_buf), fmt, ap);
	va_end(ap);
	r->hdr_name = name;
	r->hdr_value = r->hdr_buf;
}

const char *
api_header(struct api_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
api_query(struct api_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const struct {
	enum api_ftype type;
	const char *name;
} api_ftype_names[] = {
	{FT_STRING, "a string"},       {FT_INT, "an integer"},
	{FT_BOOL, "true or false"},    {FT_INT_ARRAY, "an array of integers"},
	{FT_STRING_ARRAY, "an array of strings"},
};

static const char *
api_ftype_name(enum api_ftype t)
{
	for (size_t i = 0; i < ARRAY_LEN(api_ftype_names); i++) {
		if (api_ftype_names[i].type == t)
			return api_ftype_names[i].name;
	}
	return "?";
}

static bool
api_field_type_ok(enum api_ftype t, json_t *v)
{
	size_t i;
	json_t *e;

	switch (t) {
	case FT_STRING:
		return json_is_string(v);
	case FT_INT:
		return json_is_integer(v);
	case FT_BOOL:
		return json_is_boolean(v);
	case FT_INT_ARRAY:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e) if (!json_is_integer(e)) return false;
		return true;
	case FT_STRING_ARRAY:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
		return true;
	}
	return false;
}

static bool
api_content_type_json(struct api_req *r)
{
	const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");

	if (ct == NULL)
		return false;
	/* "application/json" with optional parameters such as charset. */
	return strncasecmp(ct, "application/json", 16) == 0 && (ct[16] == '\0' || ct[16] == ';');
}

json_t *
api_body(struct api_req *r)
{
	const struct api_field *fields = r->route->body;
	json_error_t jerr;
	json_t *doc, *v;
	const char *key;

	if (!api_content_type_json(r)) {
		api_error(r, 415, "unsupported_media_type", "send the body as application/json");
		return NULL;
	}
	if (r->body_len == 0) {
		api_error(r, 400, "bad_json", "the request needs a JSON object body");
		return NULL;
	}
	doc = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES,
			 &jerr);
	if (doc == NULL) {
		api_error(r, 400, "bad_json", "malformed JSON at line %d column %d: %s", jerr.line,
			  jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		api_error(r, 422, "invalid_body", "the body must be a JSON object");
		return NULL;
	}
	json_object_foreach(doc, key, v) {
		const struct api_field *f = NULL;

		for (const struct api_field *p = fields; p && p->name; p++) {
			if (strcmp(p->name, key) == 0)
				f = p;
		}
		if (f == NULL) {
			char shown[65];

			str_fmt(shown, sizeof(shown), "%.64s", key);
			api_error(r, 422, "unknown_field", "unknown field '%s'", shown);
			json_decref(doc);
			return NULL;
		}
		if (!api_field_type_ok(f->type, v)) {
			api_error(r, 422, "invalid_type", "field '%s' must be %s", f->name,
				  api_ftype_name(f->type));
			json_decref(doc);
			return NULL;
		}
	}
	for (const struct api_field *p = fields; p && p->name; p++) {
		if (p->required && json_object_get(doc, p->name) == NULL) {
			api_error(r, 422, "missing_field", "field '%s' is required", p->name);
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

char *
api_json_param(json_t *v)
{
	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_true(v))
		return xstrdup("true");
	if (json_is_false(v))
		return xstrdup("false");
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static const struct {
	int pstmt;
	int http;
	const char *code;
} api_db_statuses[] = {
	{PSTMT_NOT_FOUND, 404, "not_found"},
	{PSTMT_CONFLICT, 409, "conflict"},
	{PSTMT_INVALID, 422, "invalid_value"},
	{PSTMT_DOWN, 503, "database_unavailable"},
	{PSTMT_ERROR, 500, "internal"},
};

bool
api_db_ok(struct api_req *r, int status, const char *why, const char *what)
{
	if (status == PSTMT_OK)
		return true;
	for (size_t i = 0; i < ARRAY_LEN(api_db_statuses); i++) {
		if (api_db_statuses[i].pstmt != status)
			continue;
		if (status == PSTMT_NOT_FOUND)
			api_error(r, 404, "not_found", "no such %s", what);
		else
			api_error(r, api_db_statuses[i].http, api_db_statuses[i].code, "%s: %s",
				  what, why);
		return false;
	}
	api_error(r, 500, "internal", "%s", why);
	return false;
}

bool
api_page_params(struct api_req *r, char limit[16], const char **cursor)
{
	const char *l = api_query(r, "limit"), *c = api_query(r, "cursor");
	int64_t n = 50, id;

	if (l != NULL && parse_i64(l, 1, 1000, &n) < 0) {
		api_error(r, 400, "bad_parameter", "limit must be a whole number in 1..1000");
		return false;
	}
	if (c != NULL && parse_i64(c, 1, INT64_MAX, &id) < 0) {
		api_error(r, 400, "bad_parameter", "cursor must be a next_cursor from an earlier page");
		return false;
	}
	str_fmt(limit, 16, "%lld", (long long)n);
	*cursor = c;
	return true;
}

void
api_reply_query(struct api_req *r, const struct pstmt_stmt *stmt, const char *const *params, int ok_status,
		const char *what)
{
	char why[256], *out = NULL;
	int s = pstmt_text(r->db, stmt, params, &out, why, sizeof(why));

	if (api_db_ok(r, s, why, what))
		api_reply_json_text(r, ok_status, out);
}
