/*
 * Header and MIME reading for messages that arrive at the sink. Everything
 * here is bounded by the caller's buffer and tolerates bare LF line ends,
 * since bounces are written by every kind of MTA.
 */
#include "probe-engine/mailmsg.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* End of the line starting at p: the index of its '\n' or len. */
static size_t
mailmsg_eol(const char *text, size_t len, size_t p)
{
	const char *nl = memchr(text + p, '\n', len - p);

	return nl ? (size_t)(nl - text) : len;
}

/* Length of the line without its CR, if any. */
static size_t
mailmsg_trim_cr(const char *text, size_t start, size_t end)
{
	if (end > start && text[end - 1] == '\r')
		end--;
	return end - start;
}

int
mailmsg_next_header(const char *text, size_t len, size_t *pos, struct mailmsg_header *h)
{
	size_t p = *pos, eol, colon, end;

	if (p >= len)
		return 0;
	eol = mailmsg_eol(text, len, p);
	if (mailmsg_trim_cr(text, p, eol) == 0) {
		*pos = eol < len ? eol + 1 : len;
		return 0;
	}
	/* A field name is printable ASCII up to the colon, no spaces. */
	for (colon = p; colon < eol && text[colon] != ':'; colon++) {
		unsigned char c = (unsigned char)text[colon];
		if (c <= ' ' || c > '~')
			return 0;
	}
	if (colon == eol || colon == p)
		return 0;
	/* Continuation lines start with white space. */
	end = eol;
	while (end < len && end + 1 < len && (text[end + 1] == ' ' || text[end + 1] == '\t'))
		end = mailmsg_eol(text, len, end + 1);
	h->name = text + p;
	h->name_len = colon - p;
	h->value = text + colon + 1;
	h->value_len = mailmsg_trim_cr(text, colon + 1, end);
	*pos = end < len ? end + 1 : len;
	return 1;
}

size_t
mailmsg_body_offset(const char *text, size_t len)
{
	size_t pos = 0;
	struct mailmsg_header h;

	while (mailmsg_next_header(text, len, &pos, &h) == 1)
		;
	return pos;
}

size_t
mailmsg_unfold(const char *v, size_t vlen, char *dst, size_t dstlen)
{
	size_t n = 0;
	bool space = false;

	if (dstlen == 0)
		return 0;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
			space = n > 0;
			continue;
		}
		if (space && n + 1 < dstlen)
			dst[n++] = ' ';
		space = false;
		if (n + 1 < dstlen)
			dst[n++] = (char)c;
	}
	dst[n] = '\0';
	return n;
}

bool
mailmsg_name_is(const struct mailmsg_header *h, const char *name)
{
	return strlen(name) == h->name_len && strncasecmp(h->name, name, h->name_len) == 0;
}

int
mailmsg_get(const char *text, size_t len, const char *name, char *dst, size_t dstlen)
{
	size_t pos = 0;
	struct mailmsg_header h;

	while (mailmsg_next_header(text, len, &pos, &h) == 1) {
		if (mailmsg_name_is(&h, name)) {
			mailmsg_unfold(h.value, h.value_len, dst, dstlen);
			return 0;
		}
	}
	if (dstlen > 0)
		dst[0] = '\0';
	return -1;
}

bool
mailmsg_type_is(const char *value, const char *type)
{
	size_t n = strlen(type);

	while (*value == ' ' || *value == '\t')
		value++;
	if (strncasecmp(value, type, n) != 0)
		return false;
	value += n;
	while (*value == ' ' || *value == '\t')
		value++;
	return *value == '\0' || *value == ';';
}

int
mailmsg_param(const char *value, const char *param, char *dst, size_t dstlen)
{
	size_t plen = strlen(param);
	const char *p = strchr(value, ';');

	while (p != NULL) {
		size_t n = 0;

		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, param, plen) == 0) {
			const char *q = p + plen;

			while (*q == ' ')
				q++;
			if (*q == '=') {
				q++;
				while (*q == ' ')
					q++;
				bool quoted = *q == '"';
				if (quoted)
					q++;
				while (*q != '\0' && n + 1 < dstlen &&
				       (quoted ? *q != '"' : (*q != ';' && *q != ' '))) {
					if (quoted && *q == '\\' && q[1] != '\0')
						q++;
					dst[n++] = *q++;
				}
				if (dstlen > 0)
					dst[n] = '\0';
				return n > 0 ? 0 : -1;
			}
		}
		/* Skip to the next parameter, past any quoted string. */
		bool in_quote = false;
		for (; *p != '\0' && (in_quote || *p != ';'); p++) {
			if (*p == '"')
				in_quote = !in_quote;
		}
		p = *p == ';' ? p : NULL;
	}
	return -1;
}

/* 1 when the line at text[p..eol) is "--boundary" (2) or "--boundary--" (1 + closing). */
static int
mailmsg_delimiter(const char *text, size_t p, size_t eol, const char *boundary, size_t blen,
                  bool *closing)
{
	size_t n = mailmsg_trim_cr(text, p, eol);

	while (n > 0 && (text[p + n - 1] == ' ' || text[p + n - 1] == '\t'))
		n--; /* transport padding */
	if (n < blen + 2 || text[p] != '-' || text[p + 1] != '-' ||
	    memcmp(text + p + 2, boundary, blen) != 0)
		return 0;
	if (n == blen + 2) {
		*closing = false;
		return 1;
	}
	if (n == blen + 4 && text[p + blen + 2] == '-' && text[p + blen + 3] == '-') {
		*closing = true;
		return 1;
	}
	return 0;
}

int
mailmsg_next_part(const char *body, size_t len, const char *boundary, size_t *pos,
                  const char **part, size_t *part_len)
{
	size_t blen = strlen(boundary), p = *pos, start = 0;
	bool closing, open = false;

	if (blen == 0)
		return 0;
	while (p < len) {
		size_t eol = mailmsg_eol(body, len, p);

		if (mailmsg_delimiter(body, p, eol, boundary, blen, &closing)) {
			if (open) {
				/* The line end before the delimiter belongs to it. */
				size_t end = p;
				if (end > start && body[end - 1] == '\n')
					end--;
				if (end > start && body[end - 1] == '\r')
					end--;
				*part = body + start;
				*part_len = end - start;
				*pos = p; /* this delimiter opens the next part */
				return 1;
			}
			if (closing) {
				*pos = len;
				return 0;
			}
			open = true;
			start = eol < len ? eol + 1 : len;
		}
		p = eol < len ? eol + 1 : len;
	}
	*pos = len;
	if (open) {
		/* A missing closing delimiter: the rest is the last part. */
		*part = body + start;
		*part_len = len - start;
		return 1;
	}
	return 0;
}
