/*
 * ARF (RFC 5965) and X-ARF complaint reports, parsed with GMime: GMime reads
 * the MIME structure and the header fields (folding, encodings, transfer
 * decoding); this file only decides which part and which field holds the
 * reported message's source address, and refuses what is not a report.
 */
#include "db/arf_parse.h"
#include "common/addr.h"
#include "common/util.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

static pthread_once_t arf_once = PTHREAD_ONCE_INIT;

static void
arf_gmime_init(void)
{
	g_mime_init();
}

const char *
arf_format_name(enum arf_format f)
{
	return f == ARF_XARF ? "x-arf" : "arf";
}

/* What the walk over the report's parts found (borrowed from the message). */
struct arf_parts {
	GMimeObject *feedback;  /* ARF: message/feedback-report */
	GMimeObject *original;  /* message/rfc822 or text/rfc822-headers */
	GMimeObject *texts[4];  /* X-ARF: the text parts in order (the report is the second) */
	int ntexts;
};

static void
arf_collect(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	struct arf_parts *p = data;
	GMimeContentType *ct = g_mime_object_get_content_type(part);

	(void)parent;
	if (ct == NULL)
		return;
	if (g_mime_content_type_is_type(ct, "message", "feedback-report") && GMIME_IS_PART(part)) {
		if (p->feedback == NULL)
			p->feedback = part;
	} else if (GMIME_IS_MESSAGE_PART(part) ||
		   (g_mime_content_type_is_type(ct, "text", "rfc822-headers") && GMIME_IS_PART(part))) {
		if (p->original == NULL)
			p->original = part;
	} else if (g_mime_content_type_is_type(ct, "text", "*") && GMIME_IS_PART(part)) {
		if (p->ntexts < (int)ARRAY_LEN(p->texts))
			p->texts[p->ntexts++] = part;
	}
}

static GMimeMessage *
arf_parse_bytes(const char *data, size_t len)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(s);
	GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);

	g_object_unref(parser);
	g_object_unref(s);
	return m;
}

/*
 * A leaf part's content (transfer-decoded) read as header fields: the
 * feedback report's fields, X-ARF's YAML "Key: value" lines and
 * text/rfc822-headers all have that shape. NULL when it does not parse.
 */
static GMimeMessage *
arf_part_fields(GMimeObject *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part));
	GMimeStream *out;
	GByteArray *ba;
	GMimeMessage *m = NULL;
	size_t skip = 0;

	if (w == NULL)
		return NULL;
	out = g_mime_stream_mem_new();
	if (g_mime_data_wrapper_write_to_stream(w, out) >= 0) {
		ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
		/* Some reporters start the fields after a blank line. */
		while (skip < ba->len && (ba->data[skip] == '\r' || ba->data[skip] == '\n'))
			skip++;
		if (skip < ba->len)
			m = arf_parse_bytes((const char *)ba->data + skip, ba->len - skip);
	}
	g_object_unref(out);
	return m;
}

/* The value of the first field called name, trimmed, copied into buf; 0 or -1 when absent. */
static int
arf_field(GMimeObject *obj, const char *name, char *buf, size_t len)
{
	const char *v = g_mime_object_get_header(obj, name);
	size_t n;

	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	/* X-ARF's YAML may quote a value. */
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v++;
		n -= 2;
	}
	if (n == 0)
		return -1;
	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
	buf[n] = '\0';
	return 0;
}

/* An address as reporters write it: "192.0.2.1", "[192.0.2.1]", "IPv6:2001:db8::1". */
static int
arf_addr(const char *s, size_t n, char *out, size_t outlen)
{
	char buf[80];
	struct addr a;

	if (n > 0 && s[0] == '[') {
		s++;
		n--;
		if (n > 0 && s[n - 1] == ']')
			n--;
	}
	if (n >= 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		n -= 5;
	}
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (addr_parse(buf, &a) != 0)
		return -1;
	addr_format(&a, out, outlen);
	return 0;
}

/* The first Received field of the original naming a bracketed address: the hop the reporter saw. */
static int
arf_received_ip(GMimeObject *orig, char *out, size_t outlen)
{
	GMimeHeaderList *list = g_mime_object_get_header_list(orig);
	int n = list ? g_mime_header_list_get_count(list) : 0;

	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		const char *v = g_mime_header_get_value(h);

		if (strcasecmp(g_mime_header_get_name(h), "Received") != 0 || v == NULL)
			continue;
		/* Only the "from" clause names the sender; stop at " by ". */
		for (const char *p = strchr(v, '['); p; p = strchr(p + 1, '[')) {
			const char *by = strcasestr(v, " by ");
			const char *end = strchr(p, ']');

			if (by != NULL && p > by)
				break;
			if (end != NULL && arf_addr(p, (size_t)(end - p + 1), out, outlen) == 0)
				return 0;
		}
		return -1;
	}
	return -1;
}

static void
arf_reporter(GMimeMessage *m, char *buf, size_t len)
{
	InternetAddressList *from = g_mime_message_get_from(m);
	InternetAddress *a;
	const char *addr;

	buf[0] = '\0';
	if (from == NULL || internet_address_list_length(from) < 1)
		return;
	a = internet_address_list_get_address(from, 0);
	if (!INTERNET_ADDRESS_IS_MAILBOX(a))
		return;
	addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
	if (addr == NULL)
		return;
	for (size_t i = 0; addr[i] && i + 1 < len; i++) {
		buf[i] = (addr[i] > 0x20 && addr[i] < 0x7f) ? addr[i] : '?';
		buf[i + 1] = '\0';
	}
}

static int
arf_parse_rfc5965(struct arf_parts *p, struct arf_report *out, const char **why)
{
	GMimeMessage *fields;
	char ip[80];
	int rc = -1;

	if (p->feedback == NULL) {
		*why = "multipart/report without a message/feedback-report part";
		return -1;
	}
	fields = arf_part_fields(p->feedback);
	if (fields == NULL) {
		*why = "the feedback report's fields do not parse";
		return -1;
	}
	arf_field(GMIME_OBJECT(fields), "Feedback-Type", out->feedback_type,
		  sizeof(out->feedback_type));
	if (arf_field(GMIME_OBJECT(fields), "Source-IP", ip, sizeof(ip)) == 0) {
		if (arf_addr(ip, strlen(ip), out->source_ip, sizeof(out->source_ip)) != 0)
			*why = "Source-IP is not an IP address";
		else
			rc = 0;
		str_fmt(out->ip_from, sizeof(out->ip_from), "Source-IP");
		goto done;
	}
	if (p->original != NULL) {
		GMimeObject *orig = NULL;
		GMimeMessage *hdrs = NULL;

		if (GMIME_IS_MESSAGE_PART(p->original)) {
			GMimeMessage *om = g_mime_message_part_get_message(GMIME_MESSAGE_PART(p->original));

			orig = om ? GMIME_OBJECT(om) : NULL;
		} else if ((hdrs = arf_part_fields(p->original)) != NULL) {
			orig = GMIME_OBJECT(hdrs);
		}
		if (orig != NULL && arf_received_ip(orig, out->source_ip, sizeof(out->source_ip)) == 0) {
			str_fmt(out->ip_from, sizeof(out->ip_from), "Received");
			rc = 0;
		}
		if (hdrs != NULL)
			g_object_unref(hdrs);
		if (rc == 0)
			goto done;
	}
	*why = "no Source-IP field and no Received field of the reported message names an address";
done:
	g_object_unref(fields);
	return rc;
}

static int
arf_parse_xarf(struct arf_parts *p, struct arf_report *out, const char **why)
{
	char src[80], type[32];

	/* X-ARF 0.2: a human part, then the YAML report, then the evidence. */
	for (int i = 1; i < p->ntexts; i++) {
		GMimeMessage *fields = arf_part_fields(p->texts[i]);
		int rc = -1;

		if (fields == NULL)
			continue;
		if (arf_field(GMIME_OBJECT(fields), "Source", src, sizeof(src)) == 0) {
			arf_field(GMIME_OBJECT(fields), "Category", out->feedback_type,
				  sizeof(out->feedback_type));
			if (arf_field(GMIME_OBJECT(fields), "Source-Type", type, sizeof(type)) == 0 &&
			    strcasecmp(type, "ipv4") != 0 && strcasecmp(type, "ipv6") != 0 &&
			    strcasecmp(type, "ip-address") != 0)
				*why = "the X-ARF report's Source-Type is not an IP address";
			else if (arf_addr(src, strlen(src), out->source_ip, sizeof(out->source_ip)) != 0)
				*why = "the X-ARF report's Source is not an IP address";
			else
				rc = 0;
			str_fmt(out->ip_from, sizeof(out->ip_from), "Source");
			g_object_unref(fields);
			return rc;
		}
		g_object_unref(fields);
	}
	*why = "X-ARF mail without a report part naming a Source";
	return -1;
}

int
arf_parse(const char *data, size_t len, struct arf_report *out, const char **why)
{
	struct arf_parts parts = {0};
	GMimeMessage *m;
	GMimeObject *top;
	GMimeContentType *ct;
	const char *xarf, *rtype;
	size_t nested = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		*why = "the report is empty";
		return -1;
	}
	if (len > ARF_MAX_REPORT) {
		*why = "the report is larger than 1 MiB";
		return -1;
	}
	if (memchr(data, '\0', len) != NULL) {
		*why = "the report contains NUL bytes: not a mail";
		return -1;
	}
	/* Counted on the bytes, before GMime recurses into them. */
	for (size_t i = 0; i + 10 <= len; i++)
		nested += (data[i] | 0x20) == 'm' && strncasecmp(data + i, "multipart/", 10) == 0;
	if (nested > ARF_MAX_MULTIPARTS) {
		*why = "the report holds too many multipart containers";
		return -1;
	}
	pthread_once(&arf_once, arf_gmime_init);
	m = arf_parse_bytes(data, len);
	if (m == NULL) {
		*why = "not a MIME message";
		return -1;
	}
	top = g_mime_message_get_mime_part(m);
	if (top == NULL || !GMIME_IS_MULTIPART(top)) {
		*why = "not a feedback report: the mail is not multipart";
		goto out;
	}
	g_mime_message_foreach(m, arf_collect, &parts);
	ct = g_mime_object_get_content_type(top);
	rtype = ct ? g_mime_content_type_get_parameter(ct, "report-type") : NULL;
	xarf = g_mime_object_get_header(GMIME_OBJECT(m), "X-ARF");
	if (ct != NULL && g_mime_content_type_is_type(ct, "multipart", "report") && rtype != NULL &&
	    strcasecmp(rtype, "feedback-report") == 0) {
		out->format = ARF_RFC5965;
		rc = arf_parse_rfc5965(&parts, out, why);
	} else if (xarf != NULL && strncasecmp(xarf + strspn(xarf, " \t"), "yes", 3) == 0) {
		out->format = ARF_XARF;
		rc = arf_parse_xarf(&parts, out, why);
	} else {
		*why = "neither an ARF feedback report (multipart/report; report-type=feedback-report) "
		       "nor an X-ARF report (X-ARF: YES)";
	}
	if (rc == 0)
		arf_reporter(m, out->reporter, sizeof(out->reporter));
out:
	g_object_unref(m);
	return rc;
}

char *
arf_evidence_text(const char *data, size_t len)
{
	gchar *valid = g_utf8_make_valid(data, (gssize)len);
	char *out = xstrdup(valid);

	g_free(valid);
	return out;
}
