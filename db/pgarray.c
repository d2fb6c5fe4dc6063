/*
 * Array literals for batch parameters (see pgarray.h). Text elements are
 * always quoted, with backslash and double quote escaped, so any string
 * (commas, braces, "NULL") round-trips.
 */
#include "db/pgarray.h"
#include "common/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
pgarray_init(struct pgarray *a)
{
	memset(a, 0, sizeof(*a));
}

static void
pgarray_reserve(struct pgarray *a, size_t more)
{
	/* +3: the closing brace, a separator and the NUL. */
	if (a->len + more + 3 <= a->cap)
		return;
	while (a->len + more + 3 > a->cap)
		a->cap = a->cap == 0 ? 256 : a->cap * 2;
	a->buf = xrealloc(a->buf, a->cap);
}

static void
pgarray_sep(struct pgarray *a)
{
	pgarray_reserve(a, 1);
	a->buf[a->len++] = a->n == 0 ? '{' : ',';
	a->n++;
}

static void
pgarray_raw(struct pgarray *a, const char *s, size_t n)
{
	pgarray_reserve(a, n);
	memcpy(a->buf + a->len, s, n);
	a->len += n;
}

void
pgarray_add_text(struct pgarray *a, const char *s)
{
	size_t n;

	if (s == NULL) {
		pgarray_add_null(a);
		return;
	}
	pgarray_sep(a);
	n = strlen(s);
	pgarray_reserve(a, 2 * n + 2);
	a->buf[a->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			a->buf[a->len++] = '\\';
		a->buf[a->len++] = s[i];
	}
	a->buf[a->len++] = '"';
}

void
pgarray_add_i64(struct pgarray *a, int64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	pgarray_sep(a);
	pgarray_raw(a, tmp, (size_t)n);
}

void
pgarray_add_f64(struct pgarray *a, double v)
{
	char tmp[64];
	int n = snprintf(tmp, sizeof(tmp), "%.3f", v);

	pgarray_sep(a);
	pgarray_raw(a, tmp, (size_t)n);
}

void
pgarray_add_null(struct pgarray *a)
{
	pgarray_sep(a);
	pgarray_raw(a, "NULL", 4);
}

const char *
pgarray_str(struct pgarray *a)
{
	pgarray_reserve(a, 2);
	if (a->n == 0) {
		a->buf[0] = '{';
		a->buf[1] = '}';
		a->buf[2] = '\0';
		return a->buf;
	}
	a->buf[a->len] = '}';
	a->buf[a->len + 1] = '\0';
	return a->buf;
}

void
pgarray_free(struct pgarray *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

int
pgarray_parse_ints(const char *s, int64_t *out, size_t max)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (;;) {
		char *end;
		long long v;

		if (n == max)
			return -1;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (end == s || errno != 0)
			return -1;
		out[n++] = v;
		if (*end == '\0')
			return (int)n;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}
