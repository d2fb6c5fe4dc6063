/*
 * Customer import files: an RFC 4180 CSV reader and a JSON-lines reader
 * feed one field table, so both formats accept the same names and values.
 * Errors carry the line a record starts on and are bounded in number.
 */
#include "db/import_parse.h"
#include "common/mail_domain.h"
#include "common/util.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const struct import_limits *limits;
	struct import_result *res;
	size_t cap;
};

static void parser_error(struct parser *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
result_verror(struct import_result *res, int line, const char *fmt, va_list ap)
{
	char msg[512];

	res->errors_total++;
	if (res->nerrors == IMPORT_MAX_ERRORS)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	res->errors[res->nerrors].line = line;
	res->errors[res->nerrors].msg = xstrdup(msg);
	res->nerrors++;
}

static void
parser_error(struct parser *ps, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result_verror(ps->res, line, fmt, ap);
	va_end(ap);
}

static int error_by_line(const void *a, const void *b);

void
import_add_error(struct import_result *res, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result_verror(res, line, fmt, ap);
	va_end(ap);
	qsort(res->errors, (size_t)res->nerrors, sizeof(res->errors[0]), error_by_line);
}

/* ---- value checks, shaped like the CHECK constraints of migrations/001 ---- */

/*
 * Offset of the first byte that breaks UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or -1 when s is valid. The database
 * would refuse it anyway, but only with its own message and no line.
 */
static long
utf8_bad_offset(const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *start = p;

	while (*p) {
		unsigned c = *p;
		int n;
		unsigned lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			lo = c == 0xe0 ? 0xa0 : 0x80;
			hi = c == 0xed ? 0x9f : 0xbf;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			lo = c == 0xf0 ? 0x90 : 0x80;
			hi = c == 0xf4 ? 0x8f : 0xbf;
		} else
			return (long)(p - start);
		for (int k = 1; k <= n; k++) {
			unsigned b = p[k];

			if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf))
				return (long)(p - start);
		}
		p += n + 1;
	}
	return -1;
}

static bool
all_chars(const char *s, const char *extra)
{
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return false;
	}
	return true;
}

static const char *
check_domain(const char *d)
{
	size_t len = strlen(d);

	if (len == 0 || len > 253 || !all_chars(d, "-.") || d[0] == '.' || d[0] == '-' ||
	    d[len - 1] == '.' || d[len - 1] == '-' || strstr(d, "..") != NULL)
		return "not a domain name";
	return NULL;
}

static const char *
check_email(const char *v)
{
	const char *at = strrchr(v, '@');

	if (at == NULL || at == v || at - v > 64 || strchr(v, '@') != at)
		return "not an e-mail address (want local@domain)";
	for (const char *p = v; p < at; p++) {
		if ((unsigned char)*p <= ' ' || strchr("<>\",;", *p) != NULL)
			return "not an e-mail address (want local@domain)";
	}
	if (check_domain(at + 1) != NULL || strchr(at + 1, '.') == NULL)
		return "not an e-mail address (the domain is not a domain name)";
	return NULL;
}

/* ---- the field table ---- */

typedef const char *(*field_set_fn)(struct parser *ps, struct import_row *row, const char *v,
                                    char *why, size_t whylen);

static const char *
set_customer(struct parser *ps, struct import_row *row, const char *v, char *why, size_t wl)
{
	if (strlen(v) > 128 || !all_chars(v, "._:@/-"))
		return "customer id: 1..128 of letters, digits and . _ : @ / -";
	row->customer = xstrdup(v);
	return NULL;
}

static const char *
set_address(struct parser *ps, struct import_row *row, const char *v, char *why, size_t wl)
{
	const char *reason = NULL;
	uint64_t size;

	if (cidr_parse(v, &row->cidr, &reason) < 0) {
		snprintf(why, wl, "address '%.64s': %s", v, reason ? reason : "not an IP or CIDR");
		return why;
	}
	if (cidr_target_check(&row->cidr, ps->limits->loopback_only, &reason) < 0) {
		snprintf(why, wl, "address '%.64s': refused, %s", v, reason);
		return why;
	}
	size = cidr_size(&row->cidr);
	if (size > ps->limits->max_cidr) {
		snprintf(why, wl,
		         "address '%.64s' expands to more than import_max_cidr = %llu addresses", v,
		         (unsigned long long)ps->limits->max_cidr);
		return why;
	}
	if (ps->res->ntargets + size > IMPORT_MAX_TARGETS) {
		snprintf(why, wl, "the file expands to more than %d addresses; split it",
		         IMPORT_MAX_TARGETS);
		return why;
	}
	ps->res->ntargets += size;
	return NULL;
}

static const char *
set_contact(struct parser *ps, struct import_row *row, const char *v, char *why, size_t wl)
{
	const char *reason = check_email(v);

	if (reason != NULL) {
		snprintf(why, wl, "contact_email '%.64s': %s", v, reason);
		return why;
	}
	row->contact_email = xstrdup(v);
	return NULL;
}

static const char *
set_name(struct parser *ps, struct import_row *row, const char *v, char *why, size_t wl)
{
	if (strlen(v) > 256)
		return "name longer than 256 bytes";
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return "name holds a control character";
	}
	row->name = xstrdup(v);
	return NULL;
}

static const char *
set_locale(struct parser *ps, struct import_row *row, const char *v, char *why, size_t wl)
{
	size_t len = strlen(v);

	if (!((len == 2 || (len == 5 && v[2] == '-' && isupper((unsigned char)v[3]) &&
	                    isupper((unsigned char)v[4]))) &&
	      islower((unsigned char)v[0]) && islower((unsigned char)v[1]))) {
		snprintf(why, wl, "locale '%.32s': want a language code like en or de-AT", v);
		return why;
	}
	row->locale = xstrdup(v);
	return NULL;
}

static const char *
set_access_type(struct parser *ps, struct import_row *row, const char *v, char *why, size_t wl)
{
	for (const char *p = v; *p; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_') {
			snprintf(why, wl,
			         "access_type '%.40s': want 1..32 of lower-case letters, digits, _",
			         v);
			return why;
		}
	}
	if (strlen(v) > 32)
		return "access_type longer than 32 characters";
	row->access_type = xstrdup(v);
	return NULL;
}

/*
 * Calls item(word) for each word of v: words are separated by ';' or ','
 * (blanks around them ignored) or by blanks alone, as billing exports write
 * lists ("a.example b.example", "a.example; b.example"). An empty item
 * between two separators is an error.
 */
static const char *
split_list(const char *v, const char *(*item)(struct import_row *, const char *, char *, size_t),
           struct import_row *row, char *why, size_t wl)
{
	const char *p = v;

	while (*p) {
		size_t n = strcspn(p, ";,"), a = 0;
		bool any = false;

		while (a < n) {
			char word[256];
			size_t w;
			const char *reason;

			while (a < n && isspace((unsigned char)p[a]))
				a++;
			if (a == n)
				break;
			for (w = 0; a + w < n && !isspace((unsigned char)p[a + w]); w++)
				;
			if (w >= sizeof(word))
				return "overlong list item";
			memcpy(word, p + a, w);
			word[w] = '\0';
			if ((reason = item(row, word, why, wl)) != NULL)
				return reason;
			any = true;
			a += w;
		}
		if (!any)
			return "empty list item";
		p += n;
		if (*p)
			p++;
	}
	return NULL;
}

static const char *
port_item(struct import_row *row, const char *w, char *why, size_t wl)
{
	int64_t port;

	if (parse_i64(w, 1, 65535, &port) < 0) {
		snprintf(why, wl, "port '%.32s': want 1..65535", w);
		return why;
	}
	for (int i = 0; i < row->nports; i++) {
		if (row->ports[i] == port)
			return NULL;
	}
	if (row->nports == IMPORT_MAX_PORTS)
		return "more than 8 ports";
	row->ports[row->nports++] = (int)port;
	return NULL;
}

static const char *
set_ports(struct parser *ps, struct import_row *row, const char *v, char *why, size_t wl)
{
	return split_list(v, port_item, row, why, wl);
}

static const char *
domain_item(struct import_row *row, const char *w, char *why, size_t wl)
{
	char norm[MAIL_DOMAIN_MAX + 1];
	const char *reason;

	if (mail_domain_normal(w, norm, &reason) < 0) {
		snprintf(why, wl, "domain '%.64s': %s", w, reason);
		return why;
	}
	for (int i = 0; i < row->ndomains; i++) {
		if (strcmp(row->domains[i], norm) == 0)
			return NULL;
	}
	if (row->ndomains == IMPORT_MAX_DOMAINS)
		return "more than 32 domains";
	row->domains[row->ndomains++] = xstrdup(norm);
	return NULL;
}

static const char *
set_domains(struct parser *ps, struct import_row *row, const char *v, char *why, size_t wl)
{
	row->domains_given = true;
	return split_list(v, domain_item, row, why, wl);
}

static const struct import_field {
	const char *name;
	bool required;
	field_set_fn set;
} fields[] = {
    {"customer", true, set_customer},     {"address", true, set_address},
    {"contact_email", true, set_contact}, {"name", false, set_name},
    {"locale", false, set_locale},        {"access_type", false, set_access_type},
    {"ports", false, set_ports},          {"domains", false, set_domains},
};
#define NFIELDS ((int)ARRAY_LEN(fields))

static int
field_find(const char *name, size_t len)
{
	for (int i = 0; i < NFIELDS; i++) {
		if (strlen(fields[i].name) == len && strncasecmp(fields[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

static void
row_free(struct import_row *row)
{
	free(row->customer);
	free(row->contact_email);
	free(row->name);
	free(row->locale);
	free(row->access_type);
	for (int i = 0; i < row->ndomains; i++)
		free(row->domains[i]);
	memset(row, 0, sizeof(*row));
}

/*
 * Applies values[i] (NULL = column absent, "" = empty) of one record and
 * keeps the row when every field was good.
 */
static void
parser_record(struct parser *ps, int line, char *const *values)
{
	struct import_row row = {.line = line};
	bool bad = false;

	for (int i = 0; i < NFIELDS; i++) {
		const char *v = values[i];
		char why[256];
		const char *reason;

		if (v == NULL || *v == '\0') {
			if (fields[i].required) {
				parser_error(ps, line, "missing %s", fields[i].name);
				bad = true;
			}
			continue;
		}
		if (strlen(v) > IMPORT_MAX_FIELD) {
			parser_error(ps, line, "%s longer than %d bytes", fields[i].name,
			             IMPORT_MAX_FIELD);
			bad = true;
			continue;
		}
		if (utf8_bad_offset(v) >= 0) {
			parser_error(ps, line, "%s is not valid UTF-8 (byte %ld)", fields[i].name,
			             utf8_bad_offset(v) + 1);
			bad = true;
			continue;
		}
		reason = fields[i].set(ps, &row, v, why, sizeof(why));
		if (reason != NULL) {
			parser_error(ps, line, "%s", reason);
			bad = true;
		}
	}
	if (bad) {
		row_free(&row);
		return;
	}
	if (ps->res->nrows == ps->cap) {
		ps->cap = ps->cap ? 2 * ps->cap : 256;
		ps->res->rows = xrealloc(ps->res->rows, ps->cap * sizeof(row));
	}
	ps->res->rows[ps->res->nrows++] = row;
}

/* ---- CSV (RFC 4180: "" escapes a quote; quoted fields may hold , and newlines) ---- */

struct csv {
	const char *p, *end;
	int line;
	char *fields[64];
	int nfields;
};

static void
csv_clear(struct csv *c)
{
	for (int i = 0; i < c->nfields; i++)
		free(c->fields[i]);
	c->nfields = 0;
}

/*
 * Reads one record. Returns 1 with fields set, 0 at the end, -1 with *why
 * on a malformed record (the rest of its line is skipped).
 */
static int
csv_next(struct csv *c, int *start_line, const char **why)
{
	csv_clear(c);
	/* Blank lines between records are skipped. */
	while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) {
		if (*c->p == '\n')
			c->line++;
		c->p++;
	}
	if (c->p >= c->end)
		return 0;
	*start_line = c->line;
	for (;;) {
		size_t cap = 64, n = 0, keep = 0;
		char *buf = xmalloc(cap);
		bool quoted = false, too_long = false;

		while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
			c->p++;
		if (c->p < c->end && *c->p == '"') {
			quoted = true;
			c->p++;
		}
		for (;;) {
			char ch;

			if (c->p >= c->end) {
				if (quoted) {
					free(buf);
					*why = "quoted field never closed";
					return -1;
				}
				break;
			}
			ch = *c->p;
			if (quoted) {
				if (ch == '"') {
					if (c->p + 1 < c->end && c->p[1] == '"') {
						c->p += 2;
					} else {
						c->p++;
						quoted = false;
						keep = n;
						/* Only blanks may follow the closing quote. */
						while (c->p < c->end &&
						       (*c->p == ' ' || *c->p == '\t'))
							c->p++;
						if (c->p < c->end && *c->p != ',' &&
						    *c->p != '\n' && *c->p != '\r') {
							free(buf);
							*why = "text after a closing quote";
							goto skip_line;
						}
						continue;
					}
				} else {
					if (ch == '\n')
						c->line++;
					c->p++;
				}
			} else {
				if (ch == ',' || ch == '\n' || ch == '\r')
					break;
				if (ch == '"') {
					free(buf);
					*why = "quote inside an unquoted field";
					goto skip_line;
				}
				c->p++;
			}
			if (n + 2 > cap) {
				if (cap > IMPORT_MAX_FIELD) {
					too_long = true;
					continue;
				}
				cap *= 2;
				buf = xrealloc(buf, cap);
			}
			buf[n++] = ch;
		}
		/* Unquoted fields lose trailing blanks (leading ones were skipped). */
		while (n > keep && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
			n--;
		buf[n] = '\0';
		if (too_long) {
			free(buf);
			*why = "field longer than 4096 bytes";
			goto skip_line;
		}
		if (c->nfields == (int)ARRAY_LEN(c->fields)) {
			free(buf);
			*why = "more than 64 fields";
			goto skip_line;
		}
		c->fields[c->nfields++] = buf;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == '\r')
			c->p++;
		if (c->p < c->end && *c->p == '\n') {
			c->p++;
			c->line++;
		}
		return 1;
	}
skip_line:
	while (c->p < c->end && *c->p != '\n')
		c->p++;
	return -1;
}

static void
parse_csv(struct parser *ps, const char *data, size_t len)
{
	struct csv c = {.p = data, .end = data + len, .line = 1};
	int map[64], ncols, line = 1, rc;
	const char *why = NULL;
	bool header_bad = false, seen[NFIELDS] = {false};

	/* A UTF-8 byte order mark is not part of the first column's name. */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;
	rc = csv_next(&c, &line, &why);
	if (rc <= 0) {
		parser_error(ps, rc < 0 ? line : 1, "%s",
		             rc < 0 ? why : "empty file: want a header row");
		csv_clear(&c);
		return;
	}
	ncols = c.nfields;
	for (int i = 0; i < ncols; i++) {
		map[i] = field_find(c.fields[i], strlen(c.fields[i]));
		if (map[i] < 0) {
			parser_error(ps, line,
			             "unknown column '%.64s' (known: customer, address, "
			             "contact_email, name, locale, access_type, ports, "
			             "domains)",
			             c.fields[i]);
			header_bad = true;
		} else if (seen[map[i]]) {
			parser_error(ps, line, "column '%s' appears twice", fields[map[i]].name);
			header_bad = true;
		} else {
			seen[map[i]] = true;
		}
	}
	for (int i = 0; i < NFIELDS; i++) {
		if (fields[i].required && !seen[i]) {
			parser_error(ps, line, "the header has no '%s' column", fields[i].name);
			header_bad = true;
		}
	}
	if (header_bad) {
		csv_clear(&c);
		return;
	}
	while ((rc = csv_next(&c, &line, &why)) != 0) {
		char *values[NFIELDS] = {NULL};

		if (rc < 0) {
			parser_error(ps, line, "%s", why);
			continue;
		}
		if (c.nfields != ncols) {
			parser_error(ps, line, "%d fields, the header has %d", c.nfields, ncols);
			continue;
		}
		for (int i = 0; i < ncols; i++)
			values[map[i]] = c.fields[i];
		parser_record(ps, line, values);
	}
	csv_clear(&c);
}

/* ---- JSON lines: one object per line, the same names; lists may be arrays ---- */

/* The text form of a JSON value as the field table reads it; NULL with *why. */
static char *
json_field_text(json_t *v, const char **why)
{
	char *out;
	size_t len = 0;

	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_null(v))
		return xstrdup("");
	if (!json_is_array(v)) {
		*why = "want a string, a number or an array";
		return NULL;
	}
	out = xstrdup("");
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *item = json_array_get(v, i);
		char *s;

		if (json_is_string(item))
			s = xstrdup(json_string_value(item));
		else if (json_is_integer(item))
			s = xasprintf("%lld", (long long)json_integer_value(item));
		else {
			free(out);
			*why = "array items must be strings or numbers";
			return NULL;
		}
		if (*s == '\0' || strpbrk(s, ";,") != NULL || len + strlen(s) > IMPORT_MAX_FIELD) {
			free(s);
			free(out);
			*why = "empty, overlong or ';'/','-holding array item";
			return NULL;
		}
		out = xrealloc(out, len + strlen(s) + 2);
		len += (size_t)snprintf(out + len, strlen(s) + 2, "%s%s", len ? ";" : "", s);
		free(s);
	}
	return out;
}

static void
parse_jsonl_line(struct parser *ps, int line, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	char *values[NFIELDS] = {NULL};
	const char *key;
	json_t *v;
	bool bad = false;

	if (obj == NULL) {
		parser_error(ps, line, "bad JSON at column %d: %s", jerr.column, jerr.text);
		return;
	}
	if (!json_is_object(obj)) {
		parser_error(ps, line, "want one JSON object per line");
		json_decref(obj);
		return;
	}
	json_object_foreach(obj, key, v)
	{
		int f = field_find(key, strlen(key));
		const char *why = NULL;

		if (f < 0) {
			parser_error(ps, line, "unknown field '%.64s'", key);
			bad = true;
			continue;
		}
		free(values[f]);
		values[f] = json_field_text(v, &why);
		if (values[f] == NULL) {
			parser_error(ps, line, "%s: %s", fields[f].name, why);
			bad = true;
		}
	}
	if (!bad)
		parser_record(ps, line, values);
	for (int i = 0; i < NFIELDS; i++)
		free(values[i]);
	json_decref(obj);
}

static void
parse_jsonl(struct parser *ps, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	int line = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *q = p;

		line++;
		while (q < eol && isspace((unsigned char)*q))
			q++;
		if (q < eol)
			parse_jsonl_line(ps, line, q, (size_t)(eol - q));
		p = nl ? nl + 1 : end;
	}
}

/* ---- checks across rows ---- */

static int
row_by_customer(const void *a, const void *b)
{
	const struct import_row *const *x = a, *const *y = b;
	int c = strcmp((*x)->customer, (*y)->customer);

	return c ? c : ((*x)->line > (*y)->line) - ((*x)->line < (*y)->line);
}

static bool
differ(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) != 0;
}

/*
 * The customer's mail domains on record are the union of its rows' domains
 * (db/import.c); the row that takes the union past the schema's limit is
 * the one named. idx holds the rows sorted by customer, then line.
 */
static void
parser_check_customer_domains(struct parser *ps, struct import_row **idx, size_t n)
{
	const char *seen[MAIL_DOMAINS_MAX];
	size_t nseen = 0;

	for (size_t i = 0; i < n; i++) {
		const struct import_row *r = idx[i];

		if (i == 0 || strcmp(idx[i - 1]->customer, r->customer) != 0)
			nseen = 0;
		for (int d = 0; d < r->ndomains; d++) {
			if (mail_domain_add(seen, &nseen, MAIL_DOMAINS_MAX, r->domains[d]) < 0) {
				parser_error(ps, r->line,
				             "customer %s: more than %d mail domains over its rows",
				             r->customer, MAIL_DOMAINS_MAX);
				/* Once per customer: skip to its last row. */
				while (i + 1 < n && strcmp(idx[i + 1]->customer, r->customer) == 0)
					i++;
				break;
			}
		}
	}
}

/*
 * Rows of one customer must agree on its fields: the contact on every row,
 * and name, locale and access_type wherever they are given.
 */
static void
parser_check_customers(struct parser *ps)
{
	struct import_result *res = ps->res;
	struct import_row **idx = xmalloc((res->nrows + 1) * sizeof(*idx));
	size_t start = 0;

	for (size_t i = 0; i < res->nrows; i++)
		idx[i] = &res->rows[i];
	qsort(idx, res->nrows, sizeof(*idx), row_by_customer);
	for (size_t i = 1; i < res->nrows; i++) {
		const struct import_row *first, *r = idx[i];
		const char *what = NULL;

		if (strcmp(idx[start]->customer, r->customer) != 0) {
			start = i;
			continue;
		}
		first = idx[start];
		for (size_t k = start; k < i && what == NULL; k++) {
			const struct import_row *o = idx[k];

			if (differ(o->contact_email, r->contact_email))
				what = "contact_email", first = o;
			else if (differ(o->name, r->name))
				what = "name", first = o;
			else if (differ(o->locale, r->locale))
				what = "locale", first = o;
			else if (differ(o->access_type, r->access_type))
				what = "access_type", first = o;
			/* Comparing with every earlier row is quadratic; one differing row is
			 * enough. */
			if (k - start > 64)
				break;
		}
		if (what != NULL)
			parser_error(ps, r->line, "customer %s: %s differs from line %d",
			             r->customer, what, first->line);
	}
	parser_check_customer_domains(ps, idx, res->nrows);
	free(idx);
}

static int
error_by_line(const void *a, const void *b)
{
	const struct import_error *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

enum import_format
import_detect(const char *filename, const char *data, size_t len)
{
	size_t fl = filename ? strlen(filename) : 0;

	if ((fl >= 6 && strcasecmp(filename + fl - 6, ".jsonl") == 0) ||
	    (fl >= 7 && strcasecmp(filename + fl - 7, ".ndjson") == 0))
		return IMPORT_JSONL;
	if (fl >= 4 && strcasecmp(filename + fl - 4, ".csv") == 0)
		return IMPORT_CSV;
	for (size_t i = 0; i < len; i++) {
		if (!isspace((unsigned char)data[i]))
			return data[i] == '{' ? IMPORT_JSONL : IMPORT_CSV;
	}
	return IMPORT_CSV;
}

int
import_parse(const char *data, size_t len, enum import_format format,
             const struct import_limits *limits, struct import_result *res)
{
	struct parser ps = {.limits = limits, .res = res};

	memset(res, 0, sizeof(*res));
	if (memchr(data, '\0', len) != NULL) {
		parser_error(&ps, 1, "the file holds NUL bytes: not a text file");
		return -1;
	}
	if (format == IMPORT_JSONL)
		parse_jsonl(&ps, data, len);
	else
		parse_csv(&ps, data, len);
	parser_check_customers(&ps);
	if (res->errors_total == 0 && res->nrows == 0)
		parser_error(&ps, 1, "no rows to import");
	qsort(res->errors, (size_t)res->nerrors, sizeof(res->errors[0]), error_by_line);
	return res->errors_total == 0 ? 0 : -1;
}

void
import_result_free(struct import_result *res)
{
	for (size_t i = 0; i < res->nrows; i++)
		row_free(&res->rows[i]);
	free(res->rows);
	for (int i = 0; i < res->nerrors; i++)
		free(res->errors[i].msg);
	memset(res, 0, sizeof(*res));
}

void
import_ports_text(const int *ports, int n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%d", i ? "," : "{", ports[i]);
	if (off < len)
		snprintf(buf + off, len - off, "}");
}
