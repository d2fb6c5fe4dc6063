/*
 * Just enough RFC 5322 / MIME reading for the sink and the DSN parser:
 * header iteration with unfolding, Content-Type parameters, multipart
 * splitting. Pure functions over a bounded buffer; nothing is allocated.
 */
#ifndef RELAYAUDIT_MAILMSG_H
#define RELAYAUDIT_MAILMSG_H

#include <stdbool.h>
#include <stddef.h>

struct mailmsg_header {
	const char *name;
	size_t name_len;
	const char *value; /* raw, still folded, without the trailing line end */
	size_t value_len;
};

/*
 * Reads the header at *pos in text[0..len) and advances *pos. Returns 1 with
 * *h filled, 0 at the end of the header section (blank line, a line that is
 * not a header, or end of text); *pos then points at the body.
 */
int mailmsg_next_header(const char *text, size_t len, size_t *pos, struct mailmsg_header *h);
/* Offset of the body: just after the blank line ending the headers (len if none). */
size_t mailmsg_body_offset(const char *text, size_t len);
/* Unfolds and trims a header value into dst (always terminated); returns its length. */
size_t mailmsg_unfold(const char *v, size_t vlen, char *dst, size_t dstlen);
bool mailmsg_name_is(const struct mailmsg_header *h, const char *name);
/* First header called name, unfolded into dst; 0 when found. */
int mailmsg_get(const char *text, size_t len, const char *name, char *dst, size_t dstlen);
/* True when a Content-Type value's media type is type ("multipart/report"). */
bool mailmsg_type_is(const char *value, const char *type);
/* A Content-Type parameter (quotes removed) into dst; 0 when present. */
int mailmsg_param(const char *value, const char *param, char *dst, size_t dstlen);

/*
 * Iterates the parts of a multipart body. *pos starts at 0; each call returns
 * 1 with the part (its headers and body) in *part and *part_len, 0 after the
 * closing delimiter or when no further delimiter exists.
 */
int mailmsg_next_part(const char *body, size_t len, const char *boundary, size_t *pos,
                      const char **part, size_t *part_len);

#endif
