/*
 * Incremental SMTP reply parser: bytes in, one event per complete line out,
 * however TCP split them. Pure (no I/O, no allocation) so it can be fuzzed,
 * and bounded: line length, lines per reply and bytes per reply are capped.
 * The line's text lives in a buffer the caller lends, so that ten thousand
 * idle dialogues need not hold one each.
 */
#ifndef RELAYAUDIT_REPLY_H
#define RELAYAUDIT_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLY_LINE_MAX 2048   /* longest line accepted (RFC 5321 asks for 512) */
#define REPLY_KEEP 512        /* bytes of each line's text kept for the caller */
#define REPLY_LINES_MAX 128   /* lines in one multi-line reply */
#define REPLY_TOTAL_MAX 16384 /* bytes in one multi-line reply */
#define REPLY_ENH_LEN 16

enum reply_event {
	REPLY_NEED_MORE, /* every byte given was consumed; no complete line yet */
	REPLY_LINE,      /* a continuation line ("250-...") is in p->text */
	REPLY_FINAL,     /* the final line: p->code, p->enhanced, p->text */
	REPLY_ERROR,     /* malformed or over a bound: p->why; the parser is stuck */
};

/*
 * text: REPLY_KEEP + 1 bytes lent by the caller; between feeds only
 * text[0..textlen) matters (the current line so far), so the caller may
 * move those bytes elsewhere and point text at them, as long as text is
 * REPLY_KEEP + 1 bytes again when the next byte is fed.
 */
struct reply_parser {
	char *text;       /* the current line after "ddd-"/"ddd ", raw */
	const char *why;  /* after REPLY_ERROR */
	uint16_t textlen; /* <= REPLY_KEEP */
	uint16_t linelen; /* bytes of the current line seen so far, <= REPLY_LINE_MAX */
	uint16_t total;   /* bytes of the reply so far, <= REPLY_TOTAL_MAX + 1 */
	uint16_t nlines;  /* lines of the reply so far, <= REPLY_LINES_MAX + 1 */
	int code;         /* code of the reply in progress / just finished */
	char head[4];     /* the first four bytes of the current line */
	char enhanced[REPLY_ENH_LEN]; /* "4.7.1" from the final line (or first), or "" */
	bool last_cr;     /* the last byte stored was CR */
	bool done;        /* the last event was REPLY_FINAL: next byte starts a new reply */
};

/* text: the caller's REPLY_KEEP + 1 bytes (see above). */
void reply_init(struct reply_parser *p, char *text);
/*
 * Consumes bytes from buf up to and including at most one line end and
 * says what that completed. *used is how many bytes were consumed; call
 * again with the rest. Lines end in LF; a CR before it is dropped.
 */
enum reply_event reply_feed(struct reply_parser *p, const char *buf, size_t len, size_t *used);

/*
 * Parses an RFC 3463 enhanced status code ("class.subject.detail") at the
 * start of text whose class matches the reply's first digit; "" if none.
 */
void reply_enhanced_parse(const char *text, int code, char out[REPLY_ENH_LEN]);

/* Reply classes judged by the number, never by the text. */
static inline bool reply_ok(int code) { return code >= 200 && code < 300; }
static inline bool reply_temp(int code) { return code >= 400 && code < 500; }
static inline bool reply_perm(int code) { return code >= 500 && code < 600; }

#endif
