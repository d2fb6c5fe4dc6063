/*
 * A small lexer that knows just enough PostgreSQL syntax to find statement
 * ends: '' and E'' strings, "" identifiers, $tag$ dollar quotes, -- and
 * nested slash-star comments.
 */
#include "db/sql_script.h"
#include "common/util.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool
ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* Length of a dollar-quote opener "$tag$" at p, or 0 when p does not start one. */
static size_t
dollar_tag(const char *p, const char *end)
{
	const char *q = p + 1;

	if (q < end && (isdigit((unsigned char)*q)))
		return 0; /* $1 is a parameter */
	while (q < end && ident_char(*q) && *q != '$')
		q++;
	return (q < end && *q == '$') ? (size_t)(q - p + 1) : 0;
}

int
sql_script_split(const char *sql, size_t len, struct sql_stmt **out, const char **why,
                 int *err_line)
{
	const char *p = sql, *end = sql + len, *start = NULL;
	struct sql_stmt *v = NULL;
	size_t n = 0, cap = 0;
	int line = 1, start_line = 0;

	*out = NULL;
	while (p < end) {
		char c = *p;
		int open_line = line;

		if (c == '-' && p + 1 < end && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		if (c == '/' && p + 1 < end && p[1] == '*') {
			int depth = 1;

			for (p += 2; p < end && depth > 0; p++) {
				if (*p == '\n')
					line++;
				else if (*p == '/' && p + 1 < end && p[1] == '*')
					depth++, p++;
				else if (*p == '*' && p + 1 < end && p[1] == '/')
					depth--, p++;
			}
			if (depth > 0) {
				*why = "comment never closed";
				goto unclosed;
			}
			continue;
		}
		if (c == '\n') {
			line++;
			p++;
			continue;
		}
		if (isspace((unsigned char)c)) {
			p++;
			continue;
		}
		if (start == NULL) {
			start = p;
			start_line = line;
		}
		if (c == '\'' || c == '"') {
			/* E'...' strings take backslash escapes; plain ones only doubling. */
			bool esc = c == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
			           (p - 1 == sql || !ident_char(p[-2]));

			for (p++;; p++) {
				if (p >= end) {
					*why = c == '"' ? "quoted identifier never closed"
					                : "string never closed";
					goto unclosed;
				}
				if (*p == '\n')
					line++;
				if (esc && *p == '\\' && p + 1 < end) {
					if (p[1] == '\n')
						line++;
					p++;
					continue;
				}
				if (*p == c) {
					if (p + 1 < end && p[1] == c) {
						p++;
						continue;
					}
					p++;
					break;
				}
			}
			continue;
		}
		if (c == '$' && (p == sql || !ident_char(p[-1]))) {
			size_t tl = dollar_tag(p, end);

			if (tl > 0) {
				const char *q = p + tl;

				while (q + tl <= end && memcmp(q, p, tl) != 0) {
					if (*q == '\n')
						line++;
					q++;
				}
				if (q + tl > end) {
					*why = "dollar-quoted string never closed";
					goto unclosed;
				}
				p = q + tl;
				continue;
			}
		}
		p++;
		if (c == ';') {
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n++] = (struct sql_stmt){(size_t)(start - sql), (size_t)(p - start),
			                           start_line};
			start = NULL;
		}
		continue;
	unclosed:
		*err_line = open_line;
		free(v);
		return -1;
	}
	if (start != NULL) {
		if (n == cap) {
			cap = cap ? cap + 1 : 1;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] =
		    (struct sql_stmt){(size_t)(start - sql), (size_t)(end - start), start_line};
	}
	*out = v;
	return (int)n;
}

int
sql_script_line_at(const char *sql, const struct sql_stmt *stmt, int position)
{
	const char *p = sql + stmt->offset, *end = p + stmt->len;
	int line = stmt->line, chars = 0;

	if (position <= 0)
		return stmt->line;
	for (; p < end; p++) {
		/* Count UTF-8 lead bytes: PostgreSQL's position is in characters. */
		if (((unsigned char)*p & 0xc0) != 0x80 && ++chars == position)
			return line;
		if (*p == '\n')
			line++;
	}
	return stmt->line;
}

bool
sql_script_is_transaction_control(const char *sql, const struct sql_stmt *stmt)
{
	static const char *const words[] = {"begin", "commit", "rollback", "end", "abort", "start"};
	const char *p = sql + stmt->offset;
	size_t n = 0;

	while (n < stmt->len && isalpha((unsigned char)p[n]))
		n++;
	for (size_t i = 0; i < ARRAY_LEN(words); i++) {
		if (strlen(words[i]) == n && strncasecmp(p, words[i], n) == 0)
			return true;
	}
	return false;
}
