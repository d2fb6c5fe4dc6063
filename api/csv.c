/*
 * CSV downloads (format=csv) of JSON lists: RFC 4180 with a header row,
 * CRLF line ends and quoting where a field needs it, so spreadsheet tools
 * and Python's csv module read them as they are.
 */
#include "api/handler.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

struct csv_buf {
	char *p;
	size_t len, cap;
};

static void
csv_put(struct csv_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* One field: quoted when it holds a comma, a quote or a line end; quotes doubled. */
static void
csv_field(struct csv_buf *b, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		csv_put(b, s, strlen(s));
		return;
	}
	csv_put(b, "\"", 1);
	for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
		csv_put(b, s, (size_t)(q - s));
		csv_put(b, "\"\"", 2);
	}
	csv_put(b, s, strlen(s));
	csv_put(b, "\"", 1);
}

static void
csv_value(struct csv_buf *b, json_t *v)
{
	char num[32];

	if (json_is_string(v)) {
		csv_field(b, json_string_value(v));
	} else if (json_is_integer(v)) {
		str_fmt(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		csv_put(b, num, strlen(num));
	} else if (json_is_real(v)) {
		str_fmt(num, sizeof(num), "%g", json_real_value(v));
		csv_put(b, num, strlen(num));
	} else if (json_is_boolean(v)) {
		csv_put(b, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5);
	} else if (v != NULL && !json_is_null(v)) {
		char *text = json_dumps(v, JSON_COMPACT);

		csv_field(b, text ? text : "");
		free(text);
	}
}

void
api_reply_csv(struct api_req *r, json_t *items, const char *const *columns)
{
	struct csv_buf b = {xmalloc(4096), 0, 4096};
	size_t i;
	json_t *item;

	b.p[0] = '\0';
	for (int c = 0; columns[c]; c++) {
		if (c > 0)
			csv_put(&b, ",", 1);
		csv_field(&b, columns[c]);
	}
	csv_put(&b, "\r\n", 2);
	json_array_foreach(items, i, item)
	{
		for (int c = 0; columns[c]; c++) {
			if (c > 0)
				csv_put(&b, ",", 1);
			csv_value(&b, json_object_get(item, columns[c]));
		}
		csv_put(&b, "\r\n", 2);
	}
	api_reply_text(r, 200, "text/csv; charset=utf-8", b.p, b.len);
}
