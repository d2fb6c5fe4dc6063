/*
 * The SMTP reply parser. Each line is checked as it completes: three digits,
 * then '-', ' ' or the line end; every line of one reply carries the same code.
 */
#include "probe-engine/reply.h"

#include <string.h>

/* The counters are 16-bit: every bound must fit with one to spare. */
_Static_assert(REPLY_TOTAL_MAX < UINT16_MAX && REPLY_LINE_MAX < UINT16_MAX &&
		       REPLY_LINES_MAX < UINT16_MAX && REPLY_KEEP < UINT16_MAX,
	       "reply bounds exceed the parser's counters");

void
reply_init(struct reply_parser *p, char *text)
{
	memset(p, 0, sizeof(*p));
	p->text = text;
}

static enum reply_event
reply_fail(struct reply_parser *p, const char *why)
{
	p->why = why;
	return REPLY_ERROR;
}

static bool
reply_digit(char c)
{
	return c >= '0' && c <= '9';
}

void
reply_enhanced_parse(const char *text, int code, char out[REPLY_ENH_LEN])
{
	const char *s = text;
	int parts[3] = {0, 0, 0};

	out[0] = '\0';
	/* class: one digit equal to the reply's first digit; then two 1-3 digit fields */
	if (*s < '2' || *s > '5' || *s - '0' != code / 100 || s[1] != '.')
		return;
	s += 2;
	for (int i = 1; i < 3; i++) {
		int n = 0;

		while (reply_digit(*s) && n < 4) {
			parts[i] = parts[i] * 10 + (*s - '0');
			s++;
			n++;
		}
		if (n == 0 || n > 3)
			return;
		if (i == 1) {
			if (*s != '.')
				return;
			s++;
		}
	}
	if (*s != '\0' && *s != ' ' && *s != '\t')
		return;
	size_t len = (size_t)(s - text);
	memcpy(out, text, len);
	out[len] = '\0';
}

/* A whole line has arrived: check it and report it. */
static enum reply_event
reply_line_done(struct reply_parser *p)
{
	int code;
	char sep;

	if (p->linelen < 3 || !reply_digit(p->head[0]) || !reply_digit(p->head[1]) ||
	    !reply_digit(p->head[2]))
		return reply_fail(p, "malformed reply line");
	code = (p->head[0] - '0') * 100 + (p->head[1] - '0') * 10 + (p->head[2] - '0');
	if (code < 200 || code > 599)
		return reply_fail(p, "reply code out of range");
	sep = p->linelen > 3 ? p->head[3] : ' ';
	if (sep != ' ' && sep != '-')
		return reply_fail(p, "malformed reply line");
	if (p->nlines > 1 && code != p->code)
		return reply_fail(p, "reply code changed within a multi-line reply");
	p->code = code;
	if (sep == '-') {
		if (p->nlines == 1)
			reply_enhanced_parse(p->text, code, p->enhanced);
		return REPLY_LINE;
	}
	char enh[REPLY_ENH_LEN];

	reply_enhanced_parse(p->text, code, enh);
	if (enh[0] != '\0' || p->nlines == 1)
		memcpy(p->enhanced, enh, sizeof(enh));
	p->done = true;
	return REPLY_FINAL;
}

enum reply_event
reply_feed(struct reply_parser *p, const char *buf, size_t len, size_t *used)
{
	size_t i;

	*used = 0;
	if (p->why != NULL)
		return REPLY_ERROR;
	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (p->linelen >= 4 && c != '\n') {
			/* a line's text: up to its end at once, when no limit falls inside */
			const char *nl = memchr(buf + i, '\n', len - i);
			size_t n = (nl != NULL ? (size_t)(nl - buf) : len) - i;

			if (p->total + n <= REPLY_TOTAL_MAX && p->linelen + n <= REPLY_LINE_MAX) {
				size_t keep = REPLY_KEEP - p->textlen;

				if (keep > n)
					keep = n;
				memcpy(p->text + p->textlen, buf + i, keep);
				p->textlen = (uint16_t)(p->textlen + keep);
				p->total = (uint16_t)(p->total + n);
				p->linelen = (uint16_t)(p->linelen + n);
				p->last_cr = buf[i + n - 1] == '\r';
				i += n - 1;
				continue;
			}
		}
		if (p->linelen == 0 && p->done) {
			/* the first byte after a final line starts a new reply */
			p->done = false;
			p->nlines = 0;
			p->total = 0;
			p->code = 0;
			p->enhanced[0] = '\0';
		}
		if (++p->total > REPLY_TOTAL_MAX) {
			*used = i + 1;
			return reply_fail(p, "multi-line reply too long");
		}
		if (c == '\n') {
			enum reply_event ev;

			*used = i + 1;
			if (p->last_cr) {
				/* drop the CR wherever it was stored */
				if (p->linelen <= 4)
					p->head[p->linelen - 1] = '\0';
				else if (p->textlen == p->linelen - 4)
					p->textlen--;
				p->linelen--;
			}
			p->text[p->textlen] = '\0';
			if (++p->nlines > REPLY_LINES_MAX)
				return reply_fail(p, "too many lines in one reply");
			ev = reply_line_done(p);
			if (ev == REPLY_ERROR)
				return ev;
			/* the text stays readable until the next byte is fed */
			p->linelen = 0;
			p->textlen = 0;
			p->last_cr = false;
			memset(p->head, 0, sizeof(p->head));
			return ev;
		}
		if (p->linelen >= REPLY_LINE_MAX) {
			*used = i + 1;
			return reply_fail(p, "reply line too long");
		}
		if (p->linelen < 4)
			p->head[p->linelen] = c;
		else if (p->textlen < REPLY_KEEP)
			p->text[p->textlen++] = c;
		p->linelen++;
		p->last_cr = c == '\r';
	}
	*used = len;
	return REPLY_NEED_MORE;
}
