/*
 * Notification mails from the shipped template files: every kind renders in
 * every locale into a proper RFC 5322 message wrapped to 72 columns; relay
 * mails carry the proving exchange (tokens abbreviated), the trick in words
 * with its fix for five MTAs, the queue reminder and the re-test link;
 * locales fall back to English.
 */
#include "auditd/workflow/notify.h"
#include "common/util.h"
#include "tests/test.h"

#include <ctype.h>

/* The unit tests run from the top of the tree (tests/run.sh). */
static const struct tmpl_dirs test_dirs = {NULL, "templates"};

#define TOKEN "rt585e8b87cbb100877a1fed2ad91797"
#define OTHER "rt585e8b87cbb104c5785e8bd27e16cd"

static struct notify_mail
sample(enum wf_mail kind, const char *locale)
{
	struct notify_mail m = {
	    .dirs = &test_dirs,
	    .verdict = "relay_confirmed",
	    .proof_token = TOKEN,
	    .received_at = "2026-11-22 19:41:26 UTC",
	    .received_from = "192.0.2.25",
	    .isp_name = "Example Net",
	    .isp_email = "abuse@example.net",
	    .isp_phone = "+31 20 555 0100",
	    .kind = kind,
	    .locale = locale,
	    .from = "abuse@isp.example",
	    .to = "postmaster@customer.example",
	    .customer_name = "Example BV",
	    .case_id = 42,
	    .address = "192.0.2.25",
	    .port = 25,
	    .found_at = "2026-11-22 19:41:25 UTC",
	    .opened_at = "2026-11-20 08:00:00 UTC",
	    .trick = "outside/percent-ip",
	    .transcript = "S: 220 mail.customer.example ESMTP\nC: EHLO probe.isp.example\n"
	                  "S: 250-mail.customer.example\nS: 250 PIPELINING\n"
	                  "C: MAIL FROM:<>\nC: RCPT TO:<" OTHER "@sink.example>\nS: 250 2.1.0 Ok\n"
	                  "S: 554 5.7.1 Relay access denied\nC: RSET\nS: 250 Ok\n"
	                  "C: MAIL FROM:<x@outside.invalid>\n"
	                  "C: RCPT TO:<" OTHER "@sink.example>\n"
	                  "C: RCPT TO:<" TOKEN "%sink.example@[192.0.2.25]>\nC: DATA\n"
	                  "S: 250 2.1.0 Ok\nS: 554 5.7.1 Relay access denied\nS: 250 2.1.5 Ok\n"
	                  "S: 354 End data with <CR><LF>.<CR><LF>\n"
	                  "C: <test message, 933 bytes>\nS: 250 2.0.0 Ok: queued as 4XyZ\n"
	                  "C: QUIT\nS: 221 Bye\n",
	    .mode = "port25_inbound",
	    .retest_link = "https://isp.example/r/42.1800000000.0123456789abcdef0123456789abcdef",
	    .link_expires = 1800000000,
	    .retest_min_interval = 900,
	    .was_blocked = true,
	    .message_id = "<relayaudit.abc@isp.example>",
	    .date = 1795376485,
	};
	return m;
}

/* Undoes quoted-printable and CRLF so the body can be searched as text. */
static char *
decode_body(const char *msg)
{
	const char *p = strstr(msg, "\r\n\r\n");
	char *out, *o;

	if (p == NULL)
		return strdup("");
	p += 4;
	out = o = malloc(strlen(p) + 1);
	while (*p) {
		if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
			p += 3;
		} else if (p[0] == '=' && isxdigit((unsigned char)p[1]) &&
		           isxdigit((unsigned char)p[2])) {
			char hex[3] = {p[1], p[2], 0};

			*o++ = (char)strtol(hex, NULL, 16);
			p += 3;
		} else if (p[0] == '\r' && p[1] == '\n') {
			*o++ = '\n';
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* The body with line breaks and their indents as single spaces, so phrases
 * can be searched wherever the wrapping broke them. */
static char *
flat(const char *body)
{
	char *out = malloc(strlen(body) + 1), *o = out;

	for (const char *p = body; *p; p++) {
		if (*p == '\n') {
			while (p[1] == ' ')
				p++;
			*o++ = ' ';
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static int
longest_line(const char *msg)
{
	int longest = 0, cur = 0;

	for (const char *p = msg; *p; p++) {
		if (*p == '\n') {
			if (cur > longest)
				longest = cur;
			cur = 0;
		} else {
			cur++;
		}
	}
	return longest;
}

/* Characters (not bytes) of the longest line. */
static int
text_longest_line(const char *s)
{
	int longest = 0, cur = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '\n') {
			cur = 0;
		} else if (((unsigned char)*p & 0xC0) != 0x80 && ++cur > longest) {
			longest = cur;
		}
	}
	return longest;
}

TEST(every_kind_renders_in_every_locale)
{
	static const char *const locales[] = {"en", "nl", "de", "fr"};

	for (size_t l = 0; l < ARRAY_LEN(locales); l++) {
		for (int k = 0; k < WF_MAIL__COUNT; k++) {
			struct notify_mail m = sample((enum wf_mail)k, locales[l]);
			char *subject, *msg, *body;
			const char *why = NULL;

			CHECK_MSG(notify_render(&m, &subject, &msg, &why) == 0, "%s/%s: %s",
			          locales[l], wf_mail_name((enum wf_mail)k), why);
			if (msg == NULL)
				continue;
			body = decode_body(msg);
			CHECK_MSG(strstr(msg, "{{") == NULL && strstr(body, "{{") == NULL,
			          "%s/%s: unexpanded placeholder", locales[l], wf_mail_name(k));
			CHECK_CONTAINS(subject, "192.0.2.25");
			CHECK_CONTAINS(subject, "42");
			CHECK_CONTAINS(body, "42");
			CHECK_MSG(longest_line(msg) <= 78,
			          "%s/%s: an encoded line of %d characters, want <= 78", locales[l],
			          wf_mail_name(k), longest_line(msg));
			CHECK_MSG(text_longest_line(body) <= 78,
			          "%s/%s: a text line of %d characters, want <= 78", locales[l],
			          wf_mail_name(k), text_longest_line(body));
			CHECK_MSG(strstr(msg, "\n") == NULL || strstr(msg, "\r\n") != NULL, "CRLF");
			free(subject);
			free(msg);
			free(body);
		}
	}
}

TEST(message_has_rfc5322_and_mime_headers)
{
	struct notify_mail m = sample(WF_MAIL_RELAY_BLOCKED, "en");
	char *subject, *msg;
	const char *why;

	CHECK_INT(notify_render(&m, &subject, &msg, &why), 0);
	CHECK(strncmp(msg, "Date: ", 6) == 0);
	CHECK_CONTAINS(msg, "Date: Sun, 22 Nov 2026 19:41:25 +0000\r\n");
	CHECK_CONTAINS(msg, "\r\nFrom: abuse@isp.example\r\n");
	CHECK_CONTAINS(msg, "\r\nTo: postmaster@customer.example\r\n");
	CHECK_CONTAINS(msg, "\r\nMessage-ID: <relayaudit.abc@isp.example>\r\n");
	CHECK_CONTAINS(msg, "\r\nAuto-Submitted: auto-generated\r\n");
	CHECK_CONTAINS(msg, "\r\nMIME-Version: 1.0\r\n");
	CHECK_CONTAINS(msg, "\r\nContent-Type: text/plain; charset=UTF-8\r\n");
	CHECK_CONTAINS(msg, "\r\nContent-Transfer-Encoding: quoted-printable\r\n");
	CHECK_CONTAINS(msg, "\r\nSubject: Open mail relay at 192.0.2.25: blocked (case #42)\r\n");
	free(subject);
	free(msg);
}

TEST(relay_mail_carries_evidence_fix_flush_and_link)
{
	struct notify_mail m = sample(WF_MAIL_RELAY_BLOCKED, "en");
	char *subject, *msg, *body, *f;
	const char *why;

	CHECK_INT(notify_render(&m, &subject, &msg, &why), 0);
	body = decode_body(msg);
	CHECK_CONTAINS(body, "Dear customer Example BV,");
	CHECK_CONTAINS(body, "Address: 192.0.2.25\n");
	CHECK_CONTAINS(body, "Port:    25\n");
	CHECK_CONTAINS(body, "Time:    2026-11-22 19:41:25 UTC");
	CHECK_CONTAINS(body, "Result:  open relay, proven");
	CHECK_CONTAINS(body, "Test:    an outside sender to an outside address hidden with");
	CHECK_CONTAINS(body, "\"percent hack\"");
	CHECK_CONTAINS(body, "smtpd_relay_restrictions");
	CHECK_CONTAINS(body, "* Exim:");
	CHECK_CONTAINS(body, "* Exchange/IIS:");
	CHECK_CONTAINS(body, "* Sendmail:");
	CHECK_CONTAINS(body, "* OpenSMTPD:");
	CHECK_CONTAINS(body, "postsuper -d ALL");
	CHECK_CONTAINS(body, m.retest_link);
	f = flat(body);
	CHECK_CONTAINS(f, "incoming connections to port 25 (SMTP)");
	CHECK_CONTAINS(f, "15 minutes");
	CHECK_CONTAINS(f, "Example Net");
	CHECK_CONTAINS(f, "+31 20 555 0100");
	free(f);
	free(subject);
	free(msg);
	free(body);
}

TEST(evidence_is_the_proving_exchange_whole)
{
	struct notify_mail m = sample(WF_MAIL_RELAY_BLOCKED, "en");
	char *subject, *msg, *body, *f;
	const char *why;

	CHECK_INT(notify_render(&m, &subject, &msg, &why), 0);
	body = decode_body(msg);
	CHECK_CONTAINS(body, "  C: MAIL FROM:<x@outside.invalid>\n  S: 250 2.1.0 Ok\n");
	CHECK_CONTAINS(body, "  C: RCPT TO:<rt585e8b\xE2\x80\xA6%sink.example@[192.0.2.25]>\n"
	                     "  S: 250 2.1.5 Ok\n");
	CHECK_CONTAINS(body, "  C: DATA\n  S: 354 End data");
	CHECK_CONTAINS(body, "  C: <test message, 933 bytes>\n  S: 250 2.0.0 Ok: queued as 4XyZ\n");
	f = flat(body);
	CHECK_CONTAINS(f, "at 2026-11-22 19:41:26 UTC from 192.0.2.25");
	free(f);
	CHECK_MSG(strstr(body, "Relay access denied") == NULL, "a refused RCPT is shown");
	CHECK_MSG(strstr(body, "MAIL FROM:<>") == NULL, "another transaction is shown");
	CHECK_MSG(strstr(body, TOKEN) == NULL && strstr(body, OTHER) == NULL,
	          "a whole token is shown");
	free(subject);
	free(msg);
	free(body);
}

TEST(exchange_is_the_transaction_that_carried_the_message)
{
	/* a pipelined group (commands, then replies) named the token first, without DATA */
	const char *t = "S: 220 mx ESMTP\nC: EHLO probe.isp.example\nS: 250 mx\n"
			"C: MAIL FROM:<>\nC: RCPT TO:<" TOKEN "@sink.example>\nC: RSET\n"
			"C: MAIL FROM:<x@outside.invalid>\nC: RCPT TO:<" OTHER "@sink.example>\n"
			"C: QUIT\nS: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\nS: 250 2.0.0 Ok\n"
			"S: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\n"
			"S: 220 mx ESMTP\nC: EHLO probe.isp.example\nS: 250 mx\n"
			"C: MAIL FROM:<>\nC: RCPT TO:<" TOKEN "@sink.example>\nS: 250 2.1.0 Ok\n"
			"S: 250 2.1.5 Ok\nC: DATA\nS: 354 End data\nC: <test message, 700 bytes>\n"
			"S: 250 2.0.0 Ok: queued as 9Q\nC: QUIT\n";
	char *e = notify_exchange(t, TOKEN, false);

	CHECK_CONTAINS(e, "C: DATA\n");
	CHECK_CONTAINS(e, "S: 250 2.0.0 Ok: queued as 9Q");
	CHECK_MSG(strstr(e, "C: RSET") == NULL && strstr(e, "outside.invalid") == NULL,
		  "the earlier group is shown: %s", e);
	free(e);
}

TEST(block_sentence_names_the_port_found)
{
	struct notify_mail m = sample(WF_MAIL_RELAY_BLOCKED, "en");
	char *subject, *msg, *body, *f;
	const char *why;

	m.port = 2525;
	CHECK_INT(notify_render(&m, &subject, &msg, &why), 0);
	f = decode_body(msg);
	body = flat(f);
	free(f);
	CHECK_CONTAINS(body, "incoming connections to port 2525 (SMTP)");
	CHECK_MSG(strstr(body, "port 25 ") == NULL, "port 25 named although the relay was on 2525");
	free(subject);
	free(msg);
	free(body);
}

TEST(text_is_wrapped_at_72_columns)
{
	char *w = tmpl_wrap("A sentence that is long enough to need wrapping because it goes on and "
	                    "on past the seventy-second column of the line.\n"
	                    "* an item that is also long enough to wrap past seventy-two columns "
	                    "of text here\n"
	                    "  a preformatted line stays as it is even with    spaces\n");

	CHECK_STR(w, "A sentence that is long enough to need wrapping because it goes on and\n"
	             "on past the seventy-second column of the line.\n"
	             "* an item that is also long enough to wrap past seventy-two columns of\n"
	             "  text here\n"
	             "  a preformatted line stays as it is even with    spaces\n");
	free(w);
}

TEST(german_subject_is_encoded_and_body_is_utf8)
{
	struct notify_mail m = sample(WF_MAIL_RESOLVED, "de");
	char *subject, *msg, *body, *f;
	const char *why;

	CHECK_INT(notify_render(&m, &subject, &msg, &why), 0);
	body = decode_body(msg);
	CHECK_CONTAINS(subject, "gelöst");
	CHECK_CONTAINS(msg, "Subject: =?UTF-8?B?");
	CHECK_CONTAINS(msg, "Content-Language: de\r\n");
	f = flat(body);
	CHECK_CONTAINS(f, "Die Sperre für eingehende Verbindungen auf Port 25");
	free(f);
	CHECK(strstr(body, "Erneuten Test anfordern") == NULL); /* resolved: no link */
	for (const char *p = msg; *p; p++)
		CHECK_MSG((unsigned char)*p < 0x80, "8-bit byte in the encoded message");
	free(subject);
	free(msg);
	free(body);
}

TEST(unknown_locale_falls_back_to_english)
{
	char l[8];

	tmpl_locale(&test_dirs, "fr", l);
	CHECK_STR(l, "fr");
	tmpl_locale(&test_dirs, NULL, l);
	CHECK_STR(l, "en");
	tmpl_locale(&test_dirs, "de-AT", l);
	CHECK_STR(l, "de");
	tmpl_locale(&test_dirs, "nl", l);
	CHECK_STR(l, "nl");
	tmpl_locale(&test_dirs, "ne", l);
	CHECK_STR(l, "en");
	tmpl_locale(&test_dirs, "../x", l);
	CHECK_STR(l, "en");
}

TEST(smarthost_mode_is_named)
{
	struct notify_mail m = sample(WF_MAIL_COMPLAINT_BLOCKED, "nl");
	char *subject, *msg, *body, *f;
	const char *why;

	m.mode = "smarthost";
	m.port = 0;
	m.transcript = NULL;
	CHECK_INT(notify_render(&m, &subject, &msg, &why), 0);
	body = decode_body(msg);
	f = flat(body);
	CHECK_CONTAINS(f, "onze mailserver (smarthost)");
	free(f);
	CHECK_CONTAINS(subject, "Spamklacht");
	free(subject);
	free(msg);
	free(body);
}

TEST(header_values_cannot_inject_lines)
{
	struct notify_mail m = sample(WF_MAIL_SUSPICIOUS, "en");
	char *subject, *msg;
	const char *why;

	m.address = "192.0.2.25\r\nBcc: victim@example.com";
	CHECK_INT(notify_render(&m, &subject, &msg, &why), 0);
	*strstr(msg, "\r\n\r\n") = '\0'; /* the header section only */
	CHECK(strstr(msg, "\r\nBcc:") == NULL);
	free(subject);
	free(msg);
}

TEST(message_id_is_fixed_per_key)
{
	char *a = notify_message_id("case:1:ev:2:mail:relay_blocked", "abuse@isp.example");
	char *b = notify_message_id("case:1:ev:2:mail:relay_blocked", "abuse@isp.example");
	char *c = notify_message_id("case:1:ev:3:mail:relay_blocked", "abuse@isp.example");

	CHECK_STR(a, b);
	CHECK(strcmp(a, c) != 0);
	CHECK(strncmp(a, "<relayaudit.", 12) == 0);
	CHECK_CONTAINS(a, "@isp.example>");
	free(a);
	free(b);
	free(c);
}

TEST(transcript_excerpt_is_bounded)
{
	char big[8192];
	char *ex;
	size_t n = 0;

	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "S: 250 line %d\n", i);
	ex = notify_transcript_excerpt(big, 24, 2000);
	CHECK_CONTAINS(ex, "  S: 250 line 0\n");
	CHECK(strstr(ex, "line 24\n") == NULL);
	CHECK_CONTAINS(ex, "[...]");
	free(ex);
}

/* A session that greeted as the target's own host name and relayed. */
#define HELO_TRANSCRIPT                                                                        \
	"S: 220 mail.customer.example ESMTP\nC: EHLO probe.isp.example\n"                      \
	"S: 250-mail.customer.example\nS: 250 PIPELINING\n"                                    \
	"C: MAIL FROM:<x@outside.invalid>\nC: RCPT TO:<" OTHER "@sink.example>\n"               \
	"S: 250 2.1.0 Ok\nS: 554 5.7.1 Relay access denied\nC: QUIT\nS: 221 Bye\n"              \
	"S: 220 mail.customer.example ESMTP\nC: EHLO mail.customer.example\n"                   \
	"S: 250-mail.customer.example\nS: 250 PIPELINING\n"                                    \
	"C: MAIL FROM:<x@outside.invalid>\nC: RCPT TO:<" TOKEN "@sink.example>\nC: DATA\n"      \
	"S: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\nS: 354 End data with <CR><LF>.<CR><LF>\n"           \
	"C: <test message, 933 bytes>\nS: 250 2.0.0 Ok: queued as 4XyZ\nC: QUIT\nS: 221 Bye\n"

/* Renders m and returns its body flattened (see flat()); NULL after a failed check. */
static char *
render_flat(struct notify_mail *m, char **raw_body)
{
	char *subject = NULL, *msg = NULL, *body, *f;
	const char *why = NULL;

	if (notify_render(m, &subject, &msg, &why) != 0) {
		TEST_FAIL("%s: render failed: %s", m->locale, why);
		return NULL;
	}
	body = decode_body(msg);
	f = flat(body);
	if (raw_body)
		*raw_body = body;
	else
		free(body);
	free(subject);
	free(msg);
	return f;
}

TEST(helo_trick_names_the_greeting_and_brings_the_helo_guide_in_every_locale)
{
	static const struct {
		const char *locale, *greeting, *guide;
	} want[] = {
	    {"en", "with our test client greeting (HELO/EHLO) as your server's own host name",
	     "our test client greeted it (HELO/EHLO) with your server's own name"},
	    {"de", "wobei sich unser Testclient mit dem eigenen Hostnamen Ihres Servers meldete",
	     "die Begrüßung darf nie entscheiden, wer weiterleiten darf"},
	    {"nl", "terwijl onze testclient zich meldde (HELO/EHLO) als de eigen hostnaam van uw server",
	     "de begroeting mag nooit bepalen wie mag doorsturen"},
	    {"fr", "notre client de test s'étant présenté (HELO/EHLO) sous le nom d'hôte de votre serveur",
	     "la salutation ne doit jamais décider qui peut relayer"},
	};

	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		struct notify_mail m = sample(WF_MAIL_RELAY_BLOCKED, want[i].locale);
		char *body = NULL, *f;

		m.trick = "outside/plain+helo-host";
		m.transcript = HELO_TRANSCRIPT;
		if ((f = render_flat(&m, &body)) == NULL)
			return;
		CHECK_CONTAINS(f, want[i].greeting);
		CHECK_CONTAINS(f, want[i].guide);
		CHECK_CONTAINS(f, "check_helo_access");
		CHECK_CONTAINS(f, "$sender_helo_name");
		CHECK_CONTAINS(f, "match helo");
		CHECK_MSG(strstr(f, "check_sender_access") == NULL,
		          "%s: the sender-trust guide came with a greeting trick", want[i].locale);
		/* The exchange shows the greeting in force, then the proving transaction. */
		CHECK_CONTAINS(body, "  C: EHLO mail.customer.example\n"
		                     "  S: 250-mail.customer.example\n"
		                     "  C: MAIL FROM:<x@outside.invalid>\n");
		CHECK_MSG(strstr(body, "EHLO probe.isp.example") == NULL,
		          "%s: the greeting of another session is shown", want[i].locale);
		free(f);
		free(body);
	}
}

TEST(each_greeting_kind_has_its_words)
{
	static const struct {
		const char *trick, *want;
	} cases[] = {
	    {"null/plain+helo-literal", "greeting (HELO/EHLO) as your server's own address"},
	    {"spoof-local/plain+helo-localhost+tls", "greeting (HELO/EHLO) as \"localhost\""},
	    {"outside/plain+tls+helo-host", "greeting (HELO/EHLO) as your server's own host name"},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct notify_mail m = sample(WF_MAIL_RELAY_BLOCKED, "en");
		char *f;

		m.trick = cases[i].trick;
		m.transcript = HELO_TRANSCRIPT;
		if ((f = render_flat(&m, NULL)) == NULL)
			return;
		CHECK_CONTAINS(f, cases[i].want);
		CHECK_CONTAINS(f, "check_helo_access");
		CHECK_MSG(strstr(f, "+tls") == NULL && strstr(f, "helo-") == NULL,
		          "%s: a suffix is shown raw", cases[i].trick);
		free(f);
	}
}

TEST(spoof_domain_trick_brings_the_sender_guide_in_every_locale)
{
	static const struct {
		const char *locale, *sender, *guide;
	} want[] = {
	    {"en", "a sender claiming one of your own mail domains to a plain outside address",
	     "trusts senders from your own domains"},
	    {"de", "von einem Absender, der vorgibt, aus einer Ihrer eigenen Mail-Domains zu sein",
	     "vertraut Absendern aus Ihren eigenen Domains"},
	    {"nl", "van een afzender die zich voordoet als een van uw eigen maildomeinen",
	     "vertrouwt afzenders uit uw eigen domeinen"},
	    {"fr", "d'un expéditeur qui se prétend de l'un de vos propres domaines de messagerie",
	     "fait confiance aux expéditeurs de vos propres domaines"},
	};

	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		struct notify_mail m = sample(WF_MAIL_RELAY_BLOCKED, want[i].locale);
		char *body = NULL, *f;

		m.trick = "spoof-domain/plain";
		if ((f = render_flat(&m, &body)) == NULL)
			return;
		CHECK_CONTAINS(f, want[i].sender);
		CHECK_CONTAINS(f, want[i].guide);
		CHECK_CONTAINS(f, "check_sender_access");
		CHECK_MSG(strstr(f, "check_helo_access") == NULL,
		          "%s: the HELO guide came with a sender trick", want[i].locale);
		CHECK_MSG(strstr(f, "spoof-domain") == NULL, "%s: the sender is shown by its code name",
		          want[i].locale);
		/* No greeting variant: the exchange starts at the transaction. */
		CHECK_MSG(strstr(body, "C: EHLO") == NULL, "%s: a greeting shown for a sender trick",
		          want[i].locale);
		free(f);
		free(body);
	}
}

TEST(tls_suffix_keeps_the_forms_words_and_guide)
{
	struct notify_mail m = sample(WF_MAIL_RELAY_BLOCKED, "en");
	char *f;

	m.trick = "outside/percent-ip+tls";
	if ((f = render_flat(&m, NULL)) == NULL)
		return;
	CHECK_CONTAINS(f, "Test:    an outside sender to an outside address hidden with \"%\" behind your address");
	CHECK_CONTAINS(f, "\"percent hack\"");
	CHECK_MSG(strstr(f, "+tls") == NULL, "the suffix is shown raw");
	free(f);
}

int
main(void)
{
	test_suite = "notify";
	RUN(every_kind_renders_in_every_locale);
	RUN(message_has_rfc5322_and_mime_headers);
	RUN(relay_mail_carries_evidence_fix_flush_and_link);
	RUN(evidence_is_the_proving_exchange_whole);
	RUN(exchange_is_the_transaction_that_carried_the_message);
	RUN(block_sentence_names_the_port_found);
	RUN(text_is_wrapped_at_72_columns);
	RUN(german_subject_is_encoded_and_body_is_utf8);
	RUN(unknown_locale_falls_back_to_english);
	RUN(smarthost_mode_is_named);
	RUN(header_values_cannot_inject_lines);
	RUN(message_id_is_fixed_per_key);
	RUN(transcript_excerpt_is_bounded);
	RUN(helo_trick_names_the_greeting_and_brings_the_helo_guide_in_every_locale);
	RUN(each_greeting_kind_has_its_words);
	RUN(spoof_domain_trick_brings_the_sender_guide_in_every_locale);
	RUN(tls_suffix_keeps_the_forms_words_and_guide);
	return test_summary();
}
