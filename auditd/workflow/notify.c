/*
 * Renders a notification into a whole RFC 5322 message: the locale's texts
 * with {{placeholders}} filled, then headers (Date, Message-ID,
 * Auto-Submitted, MIME) and a quoted-printable UTF-8 body with CRLF ends.
 * Values that come from the database never reach a header unencoded.
 */
#include "auditd/workflow/notify.h"
#include "common/hmac.h"
#include "common/log.h"
#include "common/util.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct notify_var {
	const char *name;
	const char *value;
};

static const char *
notify_lookup(const struct notify_var *vars, size_t nvars, const char *name, size_t len)
{
	for (size_t i = 0; i < nvars; i++) {
		if (strlen(vars[i].name) == len && strncmp(vars[i].name, name, len) == 0)
			return vars[i].value ? vars[i].value : "";
	}
	return NULL;
}

/* Copies tmpl to out with each {{name}} replaced; -1 on an unknown name. */
static int
notify_expand(FILE *out, const char *tmpl, const struct notify_var *vars, size_t nvars,
              const char **why)
{
	const char *p = tmpl;

	while (*p) {
		const char *open = strstr(p, "{{"), *close, *value;

		if (open == NULL) {
			fputs(p, out);
			break;
		}
		fwrite(p, 1, (size_t)(open - p), out);
		close = strstr(open + 2, "}}");
		if (close == NULL) {
			*why = "unterminated placeholder in template";
			return -1;
		}
		value = notify_lookup(vars, nvars, open + 2, (size_t)(close - open - 2));
		if (value == NULL) {
			*why = "unknown placeholder in template";
			return -1;
		}
		fputs(value, out);
		p = close + 2;
	}
	return 0;
}

static char *
notify_expand_str(const char *tmpl, const struct notify_var *vars, size_t nvars, const char **why)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL)
		fatal("reason=\"open_memstream failed\"");
	rc = notify_expand(f, tmpl, vars, nvars, why);
	fclose(f);
	if (rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Keeps a database value to one line of printable text for headers. */
static char *
notify_one_line(const char *s)
{
	char *out = xstrdup(s ? s : "");

	for (char *p = out; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	return out;
}

char *
notify_transcript_excerpt(const char *transcript, int max_lines, size_t max_bytes)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *p = transcript ? transcript : "";
	int lines = 0;

	if (f == NULL)
		fatal("reason=\"open_memstream failed\"");
	while (*p && lines < max_lines) {
		size_t n = strcspn(p, "\n");

		if (n > 200)
			n = 200; /* one reply line stays readable */
		fputs("  ", f);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];

			fputc(c == '\t' || (c >= 0x20 && c != 0x7f) ? c : '?', f);
		}
		fputc('\n', f);
		lines++;
		p += strcspn(p, "\n");
		if (*p == '\n')
			p++;
		fflush(f);
		if (len >= max_bytes)
			break;
	}
	if (*p)
		fputs("  [...]\n", f);
	fclose(f);
	return buf;
}

/* Quoted-printable (RFC 2045) of text, LF or CRLF in, CRLF out. */
static void
notify_qp(FILE *out, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	int col = 0;

	while (*p) {
		unsigned char c = *p;
		char enc[4];
		int n;

		if (c == '\r' && p[1] == '\n') {
			p++;
			continue;
		}
		if (c == '\n') {
			fputs("\r\n", out);
			col = 0;
			p++;
			continue;
		}
		/* Trailing white space would be stripped in transit; '.' at the start
		 * of a line is left to the mailer's dot-stuffing. */
		if ((c == ' ' || c == '\t') && (p[1] == '\n' || p[1] == '\r' || p[1] == '\0'))
			n = snprintf(enc, sizeof(enc), "=%02X", c);
		else if ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t')
			n = snprintf(enc, sizeof(enc), "%c", c);
		else
			n = snprintf(enc, sizeof(enc), "=%02X", c);
		if (col + n > 75) {
			fputs("=\r\n", out);
			col = 0;
		}
		fputs(enc, out);
		col += n;
		p++;
	}
	if (col > 0)
		fputs("\r\n", out);
}

static bool
notify_is_ascii(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
	}
	return true;
}

/* Subject: plain when ASCII (folded at spaces), else RFC 2047 B-words. */
static void
notify_subject_header(FILE *out, const char *subject)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(subject), i = 0;

	fputs("Subject:", out);
	if (notify_is_ascii(subject)) {
		int col = 8;
		const char *p = subject;

		/* Folded before column 78: the CRLF goes in front of a space. */
		while (*p) {
			size_t w;

			p += strspn(p, " ");
			w = strcspn(p, " ");
			if (w == 0)
				break;
			if (col > 9 && col + 1 + (int)w > 78) {
				fputs("\r\n", out);
				col = 0;
			}
			fputc(' ', out);
			fwrite(p, 1, w, out);
			col += 1 + (int)w;
			p += w;
		}
		fputs("\r\n", out);
		return;
	}
	while (i < len) {
		/* At most 39 bytes per word (a line of 73), never splitting a UTF-8 sequence. */
		size_t n = len - i > 39 ? 39 : len - i;

		while (i + n < len && ((unsigned char)subject[i + n] & 0xC0) == 0x80)
			n--;
		fputs(i == 0 ? " =?UTF-8?B?" : "\r\n =?UTF-8?B?", out);
		for (size_t j = 0; j < n; j += 3) {
			uint32_t v = (unsigned char)subject[i + j] << 16;
			size_t left = n - j;

			if (left > 1)
				v |= (unsigned char)subject[i + j + 1] << 8;
			if (left > 2)
				v |= (unsigned char)subject[i + j + 2];
			fputc(b64[(v >> 18) & 63], out);
			fputc(b64[(v >> 12) & 63], out);
			fputc(left > 1 ? b64[(v >> 6) & 63] : '=', out);
			fputc(left > 2 ? b64[v & 63] : '=', out);
		}
		fputs("?=", out);
		i += n;
	}
	fputs("\r\n", out);
}

static void
notify_date(char *buf, size_t len, int64_t t)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	/* Names spelled out here: RFC 5322 wants English whatever LC_TIME says. */
	gmtime_r(&tt, &tm);
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

char *
notify_message_id(const char *idempotency_key, const char *from)
{
	uint8_t digest[SHA256_LEN];
	char hex[2 * 16 + 1];
	const char *at = from ? strrchr(from, '@') : NULL;

	sha256(idempotency_key, strlen(idempotency_key), digest);
	hex_encode(digest, 16, hex);
	return xasprintf("<relayaudit.%s@%s>", hex, at && at[1] ? at + 1 : "relayaudit.invalid");
}

int
notify_render(const struct notify_mail *m, char **subject, char **message, const char **why)
{
	const struct notify_locale *loc = notify_locale_find(m->locale);
	unsigned blocks = notify_kind_blocks(m->kind);
	char case_id[24], port[24], expires[40], interval[24], date[64], *name_part;
	char *unblock_note = NULL, *block_note = NULL, *body = NULL, *subj;
	char *transcript, *to, *from;
	size_t body_len = 0, msg_len = 0;
	FILE *f;
	int rc = -1;
	time_t exp = (time_t)m->link_expires;
	struct tm tm;

	*subject = *message = NULL;
	if ((unsigned)m->kind >= WF_MAIL__COUNT) {
		*why = "unknown mail kind";
		return -1;
	}
	snprintf(case_id, sizeof(case_id), "%" PRIu64, m->case_id);
	if (m->port > 0)
		snprintf(port, sizeof(port), " port %d", m->port);
	else
		port[0] = '\0';
	gmtime_r(&exp, &tm);
	strftime(expires, sizeof(expires), "%Y-%m-%d %H:%M UTC", &tm);
	snprintf(interval, sizeof(interval), "%" PRId64,
	         m->retest_min_interval > 60 ? m->retest_min_interval / 60 : 1);
	name_part = m->customer_name && *m->customer_name ? xasprintf(" %s", m->customer_name)
	                                                  : xstrdup("");
	{
		char *clean = notify_one_line(name_part);

		free(name_part);
		name_part = clean;
	}
	transcript = m->transcript && *m->transcript
	                 ? notify_transcript_excerpt(m->transcript, 24, 2000)
	                 : xstrdup(loc->no_transcript);

	struct notify_var vars[] = {
	    {"name", name_part},
	    {"address", m->address},
	    {"port", port},
	    {"case", case_id},
	    {"time", m->found_at ? m->found_at : "-"},
	    {"opened", m->opened_at ? m->opened_at : "-"},
	    {"trick", m->trick && *m->trick ? m->trick : "-"},
	    {"transcript", transcript},
	    {"mode", loc->mode_text[m->mode && strcmp(m->mode, "smarthost") == 0]},
	    {"link", m->retest_link},
	    {"expires", expires},
	    {"interval", interval},
	    {"from", m->from},
	    {"unblock_note", ""},
	    {"block_note", ""},
	};
	size_t nvars = sizeof(vars) / sizeof(vars[0]);

	/* The notes name the mode, so they are expanded first. */
	unblock_note =
	    notify_expand_str(m->was_blocked ? loc->unblocked_note : "", vars, nvars, why);
	block_note = notify_expand_str(m->was_blocked ? loc->still_blocked : "", vars, nvars, why);
	if (unblock_note == NULL || block_note == NULL)
		goto out;
	vars[nvars - 2].value = unblock_note;
	vars[nvars - 1].value = block_note;

	subj = notify_expand_str(loc->kinds[m->kind].subject, vars, nvars, why);
	if (subj == NULL)
		goto out;
	*subject = notify_one_line(subj);
	free(subj);

	f = open_memstream(&body, &body_len);
	if (f == NULL)
		fatal("reason=\"open_memstream failed\"");
	static const struct {
		unsigned flag;
		size_t offset;
	} parts[] = {
	    {NOTIFY_EVIDENCE, offsetof(struct notify_locale, evidence)},
	    {NOTIFY_FIX, offsetof(struct notify_locale, fix)},
	    {NOTIFY_FLUSH, offsetof(struct notify_locale, flush)},
	    {NOTIFY_LINK, offsetof(struct notify_locale, link)},
	};
	rc = notify_expand(f, loc->greeting, vars, nvars, why);
	fputc('\n', f);
	if (rc == 0)
		rc = notify_expand(f, loc->kinds[m->kind].intro, vars, nvars, why);
	for (size_t i = 0; rc == 0 && i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (!(blocks & parts[i].flag))
			continue;
		fputc('\n', f);
		rc = notify_expand(f, *(const char *const *)((const char *)loc + parts[i].offset),
		                   vars, nvars, why);
	}
	fputc('\n', f);
	if (rc == 0)
		rc = notify_expand(f, loc->signature, vars, nvars, why);
	fclose(f);
	if (rc < 0)
		goto out;

	notify_date(date, sizeof(date), m->date);
	to = notify_one_line(m->to);
	from = notify_one_line(m->from);
	f = open_memstream(message, &msg_len);
	if (f == NULL)
		fatal("reason=\"open_memstream failed\"");
	fprintf(f, "Date: %s\r\n", date);
	fprintf(f, "From: %s\r\n", from);
	fprintf(f, "To: %s\r\n", to);
	notify_subject_header(f, *subject);
	fprintf(f, "Message-ID: %s\r\n", m->message_id);
	fputs("Auto-Submitted: auto-generated\r\n", f);
	fputs("X-Auto-Response-Suppress: All\r\n", f);
	fputs("MIME-Version: 1.0\r\n", f);
	fputs("Content-Type: text/plain; charset=UTF-8\r\n", f);
	fputs("Content-Transfer-Encoding: quoted-printable\r\n", f);
	fprintf(f, "Content-Language: %s\r\n", loc->locale);
	fprintf(f, "X-Relayaudit-Case: %s\r\n", case_id);
	fprintf(f, "X-Relayaudit-Kind: %s\r\n", wf_mail_name(m->kind));
	fputs("\r\n", f);
	notify_qp(f, body);
	fclose(f);
	free(to);
	free(from);
	rc = 0;
out:
	if (rc < 0) {
		free(*subject);
		*subject = NULL;
	}
	free(body);
	free(unblock_note);
	free(block_note);
	free(transcript);
	free(name_part);
	return rc;
}
