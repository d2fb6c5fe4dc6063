/*
 * Renders a notification into a whole RFC 5322 message: the locale's
 * template files with {{variables}} filled and wrapped, then headers (Date, Message-ID,
 * Auto-Submitted, MIME) and a quoted-printable UTF-8 body with CRLF ends.
 * Values that come from the database never reach a header unencoded.
 */
#include "auditd/workflow/notify.h"
#include "common/hmac.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/token.h"

#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Is s[0..] "rt" and at least 16 hex digits? Their length, else 0. */
static size_t
notify_token_len(const char *s)
{
	size_t n = 0;

	if (s[0] != 'r' || s[1] != 't')
		return 0;
	while (isxdigit((unsigned char)s[2 + n]))
		n++;
	return n >= 16 ? n + 2 : 0;
}

char *
notify_abbrev_tokens(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		fatal("reason=\"open_memstream failed\"");
	while (*s) {
		size_t t = notify_token_len(s);

		if (t > 0) {
			/* The 8-character rule every layer uses for tokens shown to people. */
			fwrite(s, 1, 8, f);
			fputs("\xE2\x80\xA6", f);
			s += t;
			continue;
		}
		fputc(*s, f);
		s++;
	}
	fclose(f);
	return buf;
}

/* One transcript line, kept printable and to one reply's length. */
static void
notify_put_line(FILE *f, const char *p, size_t n)
{
	if (n > 200)
		n = 200;
	fputs("  ", f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		fputc(c == '\t' || (c >= 0x20 && c != 0x7f) ? c : '?', f);
	}
	fputc('\n', f);
}

struct notify_line {
	const char *p;
	size_t n;
};

/* Is the line a command (C: ...) that starts a mail transaction or ends one? */
static bool
notify_starts(const char *p, size_t n, const char *what)
{
	size_t w = strlen(what);

	return n >= w && strncasecmp(p, what, w) == 0;
}

/*
 * The greeting (EHLO or HELO) in force at transaction start, with its reply's
 * first line: the last greeting before it (a reconnect or STARTTLS greets
 * again, and the later greeting is the one that counts).
 */
static void
notify_put_greeting(FILE *f, const char *p, const char *start)
{
	const char *cmd = NULL, *q;
	size_t n;

	for (q = p; q < start;) {
		n = strcspn(q, "\n");
		if (notify_starts(q, n, "C: EHLO ") || notify_starts(q, n, "C: HELO "))
			cmd = q;
		q += n;
		q += *q == '\n';
	}
	if (cmd == NULL)
		return;
	n = strcspn(cmd, "\n");
	notify_put_line(f, cmd, n);
	for (q = cmd + n + (cmd[n] == '\n'); q < start; q += n + (q[n] == '\n')) {
		n = strcspn(q, "\n");
		if (notify_starts(q, n, "S: ")) {
			notify_put_line(f, q, n);
			break;
		}
	}
}

char *
notify_exchange(const char *transcript, const char *token, bool greeting)
{
	struct notify_line cmds[128], replies[128];
	const char *p = transcript ? transcript : "", *best = NULL;
	char *buf = NULL, *out;
	/*
	 * Stored transcripts show tokens shortened (token_redact) to the probe
	 * id and attempt, which still name one attempt: the whole token or its
	 * shortened form finds the proving transaction; failing both, the first
	 * transaction that got through the final dot stands for it.
	 */
	char *shortened = token && *token ? token_redact_dup(token) : NULL;
	size_t len = 0;
	int best_rank = 0;
	FILE *f;

	/* The transaction: from "C: MAIL FROM" to before the next MAIL, RSET or QUIT. */
	for (const char *q = p; *q;) {
		size_t n = strcspn(q, "\n");

		if (notify_starts(q, n, "C: MAIL FROM")) {
			const char *end = q + n, *r = end;
			bool has_token = false, has_short = false, reached_eod = false;

			while (*r) {
				size_t m;

				r += *r == '\n';
				m = strcspn(r, "\n");
				if (notify_starts(r, m, "C: MAIL FROM") || notify_starts(r, m, "C: RSET") ||
				    notify_starts(r, m, "C: QUIT"))
					break;
				if (token && *token && memmem(r, m, token, strlen(token)) != NULL)
					has_token = true;
				if (shortened && memmem(r, m, shortened, strlen(shortened)) != NULL)
					has_short = true;
				if (notify_starts(r, m, "C: <"))
					reached_eod = true;
				r += m;
			}
			/*
			 * The token's transaction that carried the message first: its
			 * RCPT may also stand in an earlier one that got no DATA (a
			 * greylisting retry, or a pipelined group sent before any
			 * recipient was accepted, replayed on the next connection).
			 */
			int rank = (has_token || has_short) ? (reached_eod ? 3 : 2) : reached_eod ? 1 : 0;

			if (rank > best_rank) {
				best = q;
				best_rank = rank;
			}
			if (rank == 3)
				break;
			q = r;
			continue;
		}
		q += n;
		q += *q == '\n';
	}
	free(shortened);
	if (best == NULL) /* no proof in the transcript: its start, bounded */
		return notify_transcript_excerpt(transcript, 12, 1200);

	f = open_memstream(&buf, &len);
	if (f == NULL)
		fatal("reason=\"open_memstream failed\"");
	if (greeting)
		notify_put_greeting(f, p, best);
	{
		size_t nc = 0, nr = 0;
		const char *q = best;

		/* A RSET pipelined just before MAIL has its reply among this
		 * transaction's: count it (it is not shown) so the pairs line up. */
		if (best > p + 1) {
			const char *prev = best - 1;

			while (prev > p && prev[-1] != '\n')
				prev--;
			if (notify_starts(prev, (size_t)(best - 1 - prev), "C: RSET"))
				q = prev;
		}

		/* Commands and final reply lines in order; with pipelining the n-th
		 * reply answers the n-th command. */
		while (*q) {
			size_t n = strcspn(q, "\n");

			if (q > best && (notify_starts(q, n, "C: MAIL FROM") ||
			                 notify_starts(q, n, "C: RSET") || notify_starts(q, n, "C: QUIT")))
				break;
			if (notify_starts(q, n, "C: ") && nc < ARRAY_LEN(cmds))
				cmds[nc++] = (struct notify_line){q, n};
			else if (notify_starts(q, n, "S: ") && n >= 7 && q[6] != '-' &&
			         nr < ARRAY_LEN(replies))
				replies[nr++] = (struct notify_line){q, n};
			q += n;
			q += *q == '\n';
		}
		for (size_t i = 0; i < nc; i++) {
			bool rcpt = notify_starts(cmds[i].p, cmds[i].n, "C: RCPT");
			bool accepted = i < nr && replies[i].n > 3 && replies[i].p[3] == '2';
			bool proving = token && *token &&
			               memmem(cmds[i].p, cmds[i].n, token, strlen(token)) != NULL;

			/* Refused recipients prove nothing and only lengthen the mail. */
			if ((rcpt && !accepted && !proving) || notify_starts(cmds[i].p, cmds[i].n, "C: RSET"))
				continue;
			notify_put_line(f, cmds[i].p, cmds[i].n);
			if (i < nr)
				notify_put_line(f, replies[i].p, replies[i].n);
		}
	}
	fclose(f);
	out = notify_abbrev_tokens(buf);
	free(buf);
	/* The last line end belongs to the template. */
	if (*out && out[strlen(out) - 1] == '\n')
		out[strlen(out) - 1] = '\0';
	return out;
}

/*
 * A trick as the engine names it: "sender/form", then suffixes "+helo-KIND"
 * (the session greeted as the target: host, literal or localhost) and "+tls"
 * (it relayed inside TLS), in any order. The parts are copied into t.
 */
struct notify_trick {
	char sender[32], form[32], helo[16];
	bool tls;
};

static void
notify_trick_parse(const char *trick, struct notify_trick *t)
{
	const char *slash = trick ? strchr(trick, '/') : NULL, *p;
	size_t n;

	memset(t, 0, sizeof(*t));
	if (trick == NULL)
		return;
	n = slash ? (size_t)(slash - trick) : strcspn(trick, "+");
	str_fmt(t->sender, sizeof(t->sender), "%.*s", (int)n, trick);
	if (slash == NULL)
		return;
	p = slash + 1;
	n = strcspn(p, "+");
	str_fmt(t->form, sizeof(t->form), "%.*s", (int)n, p);
	for (p += n; *p == '+'; p += n) {
		p++;
		n = strcspn(p, "+");
		if (n > 5 && strncmp(p, "helo-", 5) == 0)
			str_fmt(t->helo, sizeof(t->helo), "%.*s", (int)(n - 5), p + 5);
		else if (n == 3 && strncmp(p, "tls", 3) == 0)
			t->tls = true;
	}
}

/*
 * Which trick-<family>.txt explains a trick. A greeting as the target is
 * the cause when present (the engine tries greetings only with forms that
 * did not relay under our own name); then the recipient form's family;
 * then senders that claim to be the customer's own.
 */
static const char *
notify_trick_family(const struct notify_trick *t)
{
	static const struct {
		const char *form;
		const char *family;
	} forms[] = {
	    {"percent-ip", "percent"},    {"percent-host", "percent"},
	    {"quoted-percent", "percent"}, {"bang", "bang"},
	    {"bang-ip", "bang"},          {"bang-host", "bang"},
	    {"route-ip", "route"},        {"route-host", "route"},
	    {"quoted", "syntax"},         {"quoted-local-ip", "syntax"},
	    {"quoted-local-host", "syntax"}, {"hidden-at-ip", "syntax"},
	    {"hidden-at-host", "syntax"}, {"trailing-at", "syntax"},
	    {"trailing-dot", "syntax"},   {"unbracketed", "syntax"},
	    {"mixed-case", "syntax"},
	};
	static const char *const lying_senders[] = {"spoof-local", "spoof-domain", "spoof-ip",
	                                            "localhost", "unqualified"};

	if (t->form[0] == '\0')
		return "relay";
	if (t->helo[0] != '\0')
		return "helo";
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		if (strcmp(t->form, forms[i].form) == 0)
			return forms[i].family;
	}
	for (size_t i = 0; i < ARRAY_LEN(lying_senders); i++) {
		if (strcmp(t->sender, lying_senders[i]) == 0)
			return "sender";
	}
	return "relay";
}

/* A word from the locale's words.txt, "" when missing (the preview test finds gaps). */
static const char *
W(const struct tmpl_words *w, const char *key)
{
	const char *v = tmpl_word(w, key);

	return v ? v : "";
}

/* The word for prefix.name; a name the words file does not know is shown as it is. */
static const char *
Wk(const struct tmpl_words *w, const char *prefix, const char *name, char *buf, size_t len)
{
	const char *v;

	str_fmt(buf, len, "%s.%s", prefix, name ? name : "");
	v = tmpl_word(w, buf);
	return v ? v : name ? name : "";
}

/* Collapses runs of blank lines left by empty variables into one. */
static void
notify_squeeze(char *s)
{
	char *o = s;
	int nl = 0;

	for (char *p = s; *p; p++) {
		nl = *p == '\n' ? nl + 1 : 0;
		if (nl <= 2)
			*o++ = *p;
	}
	*o = '\0';
}

int
notify_render_text(const struct notify_mail *m, char **subject, char **text, char locale[8],
                   const char **why)
{
	static const struct tmpl_dirs none = {NULL, NULL};
	const struct tmpl_dirs *d = m->dirs ? m->dirs : &none;
	struct tmpl_words w;
	char case_id[24], ports[24], expires[40], interval[24], key[96], *name_part = NULL;
	char *exchange = NULL, *trick_words = NULL, *trick_help_raw = NULL, *trick_help = NULL;
	char *mode = NULL, *port_words = NULL, *receipt = NULL, *block_note = NULL;
	char *unblock_note = NULL, *contact = NULL, *tmpl = NULL, *expanded = NULL;
	char *sender_form = NULL, *complaint_note = NULL, *greeting = NULL;
	struct notify_trick trick;
	const char *body, *sender = NULL, *form = NULL;
	time_t exp = (time_t)m->link_expires;
	struct tm tm;
	int rc = -1;

	*subject = *text = NULL;
	if ((unsigned)m->kind >= WF_MAIL__COUNT) {
		*why = "unknown mail kind";
		return -1;
	}
	tmpl_locale(d, m->locale, locale);
	if (tmpl_words_load(d, locale, &w, why) < 0)
		return -1;
	snprintf(case_id, sizeof(case_id), "%" PRIu64, m->case_id);
	/* The port the finding was on; a complaint (no probe) names SMTP's. */
	snprintf(ports, sizeof(ports), "%d", m->port > 0 ? m->port : 25);
	gmtime_r(&exp, &tm);
	strftime(expires, sizeof(expires), "%Y-%m-%d %H:%M UTC", &tm);
	snprintf(interval, sizeof(interval), "%" PRId64,
	         m->retest_min_interval > 60 ? m->retest_min_interval / 60 : 1);
	{
		char *n = m->customer_name && *m->customer_name ? xasprintf(" %s", m->customer_name)
		                                                : xstrdup("");

		name_part = notify_one_line(n);
		free(n);
	}
	notify_trick_parse(m->trick, &trick);
	if (m->trick && *m->trick) {
		sender = xstrdup(Wk(&w, "sender", trick.sender, key, sizeof(key)));
		form = xstrdup(Wk(&w, "form", trick.form, key, sizeof(key)));
	}
	if (trick.helo[0] != '\0') {
		/* "the greeting ... your server's own host name": words for the greeting kind. */
		struct tmpl_var hv[] = {{"helo", Wk(&w, "helo", trick.helo, key, sizeof(key))}};

		greeting = tmpl_expand(d, locale, W(&w, "trick.greeting"), hv, ARRAY_LEN(hv), why);
		if (greeting == NULL)
			goto out;
	}
	exchange = m->transcript && *m->transcript
	               ? notify_exchange(m->transcript, m->proof_token, trick.helo[0] != '\0')
	               : xasprintf("  %s", W(&w, "no_transcript"));

	struct tmpl_var vars[] = {
	    {"name", name_part},
	    {"customer", m->customer_name},
	    {"address", m->address},
	    {"ports", ports},
	    {"case", case_id},
	    {"time", m->found_at ? m->found_at : "-"},
	    {"opened", m->opened_at ? m->opened_at : "-"},
	    {"trick_name", m->trick && *m->trick ? m->trick : "-"},
	    {"sender", sender},
	    {"form", form},
	    {"greeting", greeting ? greeting : ""},
	    {"verdict", Wk(&w, "verdict", m->verdict ? m->verdict : "", key, sizeof(key))},
	    {"exchange", exchange},
	    {"received_at", m->received_at},
	    {"received_from", m->received_from},
	    {"link", m->retest_link},
	    {"expires", expires},
	    {"interval", interval},
	    {"from", m->from},
	    {"isp_name", m->isp_name},
	    {"isp_email", m->isp_email},
	    {"isp_phone", m->isp_phone},
	    /* Filled below, in this order: later ones use earlier ones. */
	    {"trick", NULL},
	    {"port", NULL},
	    {"mode", NULL},
	    {"receipt", NULL},
	    {"block_note", NULL},
	    {"unblock_note", NULL},
	    {"contact", NULL},
	    {"trick_help", NULL},
	    {"complaint_note", NULL},
	};
	size_t nvars = ARRAY_LEN(vars), first = nvars - 9;

#define FILL(i, var, template)                                                                      \
	do {                                                                                       \
		(var) = tmpl_expand(d, locale, (template), vars, first + (i), why);                 \
		if ((var) == NULL)                                                                 \
			goto out;                                                                  \
		vars[first + (i)].value = (var);                                                   \
	} while (0)
	FILL(0, trick_words, m->trick && *m->trick ? W(&w, "trick") : W(&w, "trick.none"));
	FILL(1, port_words, W(&w, "port"));
	FILL(2, mode,
	     Wk(&w, "mode", m->mode && strcmp(m->mode, "smarthost") == 0 ? "smarthost"
	                                                                 : "port25_inbound",
	        key, sizeof(key)));
	FILL(3, receipt, m->received_at && *m->received_at ? W(&w, "receipt") : W(&w, "no_receipt"));
	FILL(4, block_note, m->was_blocked ? W(&w, "still_blocked") : "");
	FILL(5, unblock_note, m->was_blocked ? W(&w, "unblocked_note") : "");
	FILL(6, contact, m->isp_phone && *m->isp_phone ? W(&w, "contact_phone") : W(&w, "contact"));
	str_fmt(key, sizeof(key), "trick-%s.txt", notify_trick_family(&trick));
	trick_help_raw = tmpl_load(d, locale, key, why);
	if (trick_help_raw == NULL)
		goto out;
	if (*trick_help_raw && trick_help_raw[strlen(trick_help_raw) - 1] == '\n')
		trick_help_raw[strlen(trick_help_raw) - 1] = '\0';
	FILL(7, trick_help, trick_help_raw);
	FILL(8, complaint_note, m->complaint_kept ? W(&w, "complaint_kept") : "");
#undef FILL

	str_fmt(key, sizeof(key), "%s.txt", wf_mail_name(m->kind));
	tmpl = tmpl_load(d, locale, key, why);
	if (tmpl == NULL)
		goto out;
	expanded = tmpl_expand(d, locale, tmpl, vars, nvars, why);
	if (expanded == NULL)
		goto out;
	/* The first line is the subject: "Subject: ...", then an empty line. */
	if (strncmp(expanded, "Subject:", 8) != 0) {
		*why = "a mail template starts with a Subject: line";
		goto out;
	}
	body = expanded + strcspn(expanded, "\n");
	{
		char *subj = xstrndup(expanded + 8, (size_t)(body - expanded - 8));
		char *trimmed = subj;

		while (*trimmed == ' ')
			trimmed++;
		*subject = notify_one_line(trimmed);
		free(subj);
	}
	while (*body == '\n')
		body++;
	*text = tmpl_wrap(body);
	notify_squeeze(*text);
	rc = 0;
out:
	tmpl_words_free(&w);
	free(name_part);
	free((char *)sender);
	free((char *)form);
	free(exchange);
	free(trick_words);
	free(port_words);
	free(mode);
	free(receipt);
	free(block_note);
	free(unblock_note);
	free(contact);
	free(trick_help_raw);
	free(trick_help);
	free(complaint_note);
	free(sender_form);
	free(greeting);
	free(tmpl);
	free(expanded);
	if (rc < 0) {
		free(*subject);
		*subject = NULL;
	}
	return rc;
}

int
notify_render(const struct notify_mail *m, char **subject, char **message, const char **why)
{
	char date[64], locale[8], case_id[24], *body = NULL, *to, *from;
	size_t msg_len = 0;
	FILE *f;

	*message = NULL;
	if (notify_render_text(m, subject, &body, locale, why) < 0)
		return -1;
	snprintf(case_id, sizeof(case_id), "%" PRIu64, m->case_id);
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
	fprintf(f, "Content-Language: %s\r\n", locale);
	fprintf(f, "X-Relayaudit-Case: %s\r\n", case_id);
	fprintf(f, "X-Relayaudit-Kind: %s\r\n", wf_mail_name(m->kind));
	fputs("\r\n", f);
	notify_qp(f, body);
	fclose(f);
	free(to);
	free(from);
	free(body);
	return 0;
}
