/*
 * RFC 3464 delivery status notifications as Postfix, Exim, Sendmail and
 * Exchange write them. Only the fields the sink correlates on are kept; every
 * copy is bounded and the input is never modified.
 */
#include "probe-engine/dsn.h"
#include "common/util.h"
#include "probe-engine/mailmsg.h"

#include <string.h>
#include <strings.h>

/* "rfc822; user@example" -> "user@example"; other address types are kept whole. */
static void
dsn_address(const char *value, char *dst, size_t dstlen)
{
	const char *semi = strchr(value, ';');

	if (semi != NULL && (size_t)(semi - value) == 6 && strncasecmp(value, "rfc822", 6) == 0) {
		value = semi + 1;
		while (*value == ' ')
			value++;
	}
	mailmsg_unfold(value, strlen(value), dst, dstlen);
}

struct dsn_field {
	const char *name;
	size_t offset; /* of the destination in struct dsn_recipient */
	size_t size;
	bool address;
};

static const struct dsn_field dsn_recipient_fields[] = {
    {"Original-Recipient", offsetof(struct dsn_recipient, original), DSN_FIELD_MAX, true},
    {"Final-Recipient", offsetof(struct dsn_recipient, final), DSN_FIELD_MAX, true},
    {"Action", offsetof(struct dsn_recipient, action), 32, false},
    {"Status", offsetof(struct dsn_recipient, status), 32, false},
    {"Diagnostic-Code", offsetof(struct dsn_recipient, diagnostic), DSN_FIELD_MAX, false},
};

/*
 * The delivery-status body is a per-message block and then one block per
 * recipient, each a run of header-like fields ended by a blank line.
 */
static void
dsn_parse_status(const char *body, size_t len, struct dsn *out)
{
	size_t pos = 0;
	bool first = true;

	while (pos < len) {
		struct mailmsg_header h;
		struct dsn_recipient r;
		bool any = false, is_rcpt = false;
		size_t before = pos;

		memset(&r, 0, sizeof(r));
		while (mailmsg_next_header(body, len, &pos, &h) == 1) {
			char value[DSN_FIELD_MAX];

			any = true;
			mailmsg_unfold(h.value, h.value_len, value, sizeof(value));
			if (first && mailmsg_name_is(&h, "Reporting-MTA")) {
				dsn_address(value, out->reporting_mta, sizeof(out->reporting_mta));
				continue;
			}
			for (size_t i = 0; i < ARRAY_LEN(dsn_recipient_fields); i++) {
				const struct dsn_field *f = &dsn_recipient_fields[i];
				char *dst = (char *)&r + f->offset;

				if (!mailmsg_name_is(&h, f->name))
					continue;
				if (f->address)
					dsn_address(value, dst, f->size);
				else
					mailmsg_unfold(value, strlen(value), dst, f->size);
				is_rcpt |= f->address;
			}
		}
		if (is_rcpt) {
			if (out->nrcpt < DSN_MAX_RECIPIENTS)
				out->rcpt[out->nrcpt++] = r;
			else
				out->rcpt_truncated = true;
		}
		if (any)
			first = false;
		/* A line that is not a field: skip it so the loop always advances. */
		if (pos == before) {
			const char *nl = memchr(body + pos, '\n', len - pos);
			pos = nl ? (size_t)(nl - body) + 1 : len;
		}
	}
}

int
dsn_parse(const char *msg, size_t len, struct dsn *out)
{
	char ctype[512], boundary[128];
	size_t body_off, pos = 0;
	const char *part;
	size_t part_len;
	bool have_status = false;

	memset(out, 0, sizeof(*out));
	if (mailmsg_get(msg, len, "Content-Type", ctype, sizeof(ctype)) < 0 ||
	    !mailmsg_type_is(ctype, "multipart/report") ||
	    mailmsg_param(ctype, "boundary", boundary, sizeof(boundary)) < 0)
		return -1;
	body_off = mailmsg_body_offset(msg, len);
	/* Bounded: each part advances pos by at least one delimiter line. */
	while (mailmsg_next_part(msg + body_off, len - body_off, boundary, &pos, &part,
	                         &part_len) == 1) {
		char ptype[256];
		size_t pbody = mailmsg_body_offset(part, part_len);

		if (mailmsg_get(part, part_len, "Content-Type", ptype, sizeof(ptype)) < 0)
			continue; /* text/plain by default: the human-readable notice */
		if (mailmsg_type_is(ptype, "message/delivery-status") ||
		    mailmsg_type_is(ptype, "message/global-delivery-status")) {
			dsn_parse_status(part + pbody, part_len - pbody, out);
			have_status = true;
		} else if (out->original == NULL &&
		           (mailmsg_type_is(ptype, "message/rfc822") ||
		            mailmsg_type_is(ptype, "message/global") ||
		            mailmsg_type_is(ptype, "text/rfc822-headers") ||
		            mailmsg_type_is(ptype, "message/global-headers"))) {
			out->original = part + pbody;
			out->original_len = part_len - pbody;
			out->headers_only = mailmsg_type_is(ptype, "text/rfc822-headers") ||
			                    mailmsg_type_is(ptype, "message/global-headers");
		}
	}
	if (!have_status) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}
