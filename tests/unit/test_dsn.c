/*
 * The DSN parser against bounces shaped like the ones Postfix, Exim and
 * Sendmail really send, and against malformed ones.
 */
#include "probe-engine/dsn.h"
#include "probe-engine/sink.h"
#include "tests/test.h"

#define BOUNDARY "3F2A1C0A12.1795460400/mx.customer.test"

/* A Postfix "unknown user" bounce, CRLF line ends as it arrives over SMTP. */
static const char postfix_bounce[] =
    "Return-Path: <>\r\n"
    "Received: by mx.customer.test (Postfix)\r\n"
    "\tid 3F2A1C0A12; Sun, 22 Nov 2026 19:00:01 +0000 (UTC)\r\n"
    "Date: Sun, 22 Nov 2026 19:00:01 +0000 (UTC)\r\n"
    "From: MAILER-DAEMON@mx.customer.test (Mail Delivery System)\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "To: rt000000000001016d4b5e0a0f3c2a1b@sink.relayaudit.test\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    "\tboundary=\"" BOUNDARY "\"\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "Message-Id: <20261122190001.3F2A1C0A12@mx.customer.test>\r\n"
    "\r\n"
    "This is a MIME-encapsulated message.\r\n"
    "\r\n"
    "--" BOUNDARY "\r\n"
    "Content-Description: Notification\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "This is the mail system at host mx.customer.test.\r\n"
    "\r\n"
    "<nosuchuser-x7@mx.customer.test>: unknown user: \"nosuchuser-x7\"\r\n"
    "\r\n"
    "--" BOUNDARY "\r\n"
    "Content-Description: Delivery report\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; mx.customer.test\r\n"
    "X-Postfix-Queue-ID: 3F2A1C0A12\r\n"
    "X-Postfix-Sender: rfc822; rt000000000001016d4b5e0a0f3c2a1b@sink.relayaudit.test\r\n"
    "Arrival-Date: Sun, 22 Nov 2026 19:00:00 +0000 (UTC)\r\n"
    "\r\n"
    "Final-Recipient: rfc822; nosuchuser-x7@mx.customer.test\r\n"
    "Original-Recipient: rfc822;nosuchuser-x7@mx.customer.test\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Diagnostic-Code: X-Postfix; unknown user: \"nosuchuser-x7\"\r\n"
    "\r\n"
    "--" BOUNDARY "\r\n"
    "Content-Description: Undelivered Message\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Return-Path: <rt000000000001016d4b5e0a0f3c2a1b@sink.relayaudit.test>\r\n"
    "Subject: relayaudit relay test rt000000000001016d4b5e0a0f3c2a1b\r\n"
    "Message-Id: <rt000000000001016d4b5e0a0f3c2a1b@relayaudit>\r\n"
    "\r\n"
    "This is a relay test.\r\n"
    "\r\n"
    "--" BOUNDARY "--\r\n";

TEST(postfix_bounce_recipient_fields)
{
	struct dsn d;

	CHECK_INT(dsn_parse(postfix_bounce, strlen(postfix_bounce), &d), 0);
	CHECK_INT(d.nrcpt, 1);
	CHECK_STR(d.reporting_mta, "dns; mx.customer.test");
	CHECK_STR(d.rcpt[0].final, "nosuchuser-x7@mx.customer.test");
	CHECK_STR(d.rcpt[0].original, "nosuchuser-x7@mx.customer.test");
	CHECK_STR(d.rcpt[0].action, "failed");
	CHECK_STR(d.rcpt[0].status, "5.1.1");
	CHECK_CONTAINS(d.rcpt[0].diagnostic, "unknown user");
}

TEST(postfix_bounce_returns_original_message)
{
	struct dsn d;
	char orig[512];

	CHECK_INT(dsn_parse(postfix_bounce, strlen(postfix_bounce), &d), 0);
	CHECK(d.original != NULL);
	CHECK(!d.headers_only);
	CHECK(d.original_len < sizeof(orig));
	memcpy(orig, d.original, d.original_len);
	orig[d.original_len] = '\0';
	CHECK_CONTAINS(orig, "Subject: relayaudit relay test rt000000000001016d4b5e0a0f3c2a1b");
	CHECK_CONTAINS(orig, "This is a relay test.");
	/* The closing delimiter is not part of the attached message. */
	CHECK(strstr(orig, BOUNDARY) == NULL);
}

/* The same bounce as Postfix stores it in a queue file: bare LF line ends. */
TEST(bare_lf_line_ends)
{
	char buf[sizeof(postfix_bounce)];
	size_t n = 0;
	struct dsn d;

	for (size_t i = 0; postfix_bounce[i]; i++) {
		if (postfix_bounce[i] != '\r')
			buf[n++] = postfix_bounce[i];
	}
	buf[n] = '\0';
	CHECK_INT(dsn_parse(buf, n, &d), 0);
	CHECK_STR(d.rcpt[0].final, "nosuchuser-x7@mx.customer.test");
	CHECK_STR(d.rcpt[0].status, "5.1.1");
}

/* Sendmail-style: several recipients, headers only, no Original-Recipient. */
static const char sendmail_bounce[] =
    "From: Mail Delivery Subsystem <MAILER-DAEMON@host.test>\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=abc\n"
    "\n"
    "--abc\n"
    "\n"
    "The original message was received\n"
    "--abc\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; host.test\n"
    "\n"
    "Final-Recipient: RFC822; a@host.test\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "\n"
    "Final-Recipient: RFC822; b@host.test\n"
    "X-Actual-Recipient: rfc822; b@host.test\n"
    "Action: delayed\n"
    "Status: 4.4.1\n"
    "\n"
    "--abc\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "Subject: hello\n"
    "--abc--\n";

TEST(sendmail_several_recipients_headers_only)
{
	struct dsn d;

	CHECK_INT(dsn_parse(sendmail_bounce, strlen(sendmail_bounce), &d), 0);
	CHECK_INT(d.nrcpt, 2);
	CHECK_STR(d.rcpt[0].final, "a@host.test");
	CHECK_STR(d.rcpt[0].original, "");
	CHECK_STR(d.rcpt[1].final, "b@host.test");
	CHECK_STR(d.rcpt[1].action, "delayed");
	CHECK(d.headers_only);
	CHECK_INT(d.original_len, strlen("Subject: hello"));
}

TEST(plain_message_is_not_a_dsn)
{
	const char *m = "Subject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
	struct dsn d;

	CHECK_INT(dsn_parse(m, strlen(m), &d), -1);
	CHECK_INT(d.nrcpt, 0);
	CHECK(d.original == NULL);
}

TEST(report_without_status_part_is_not_a_dsn)
{
	const char *m = "Content-Type: multipart/report; boundary=x\n\n--x\nContent-Type: "
	                "text/plain\n\nhi\n--x--\n";
	struct dsn d;

	CHECK_INT(dsn_parse(m, strlen(m), &d), -1);
}

TEST(missing_closing_delimiter_still_parses)
{
	const char *m = "Content-Type: multipart/report; boundary=\"q\"\n\n--q\n"
	                "Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
	                "Final-Recipient: rfc822;z@x\nAction: failed\n";
	struct dsn d;

	CHECK_INT(dsn_parse(m, strlen(m), &d), 0);
	CHECK_INT(d.nrcpt, 1);
	CHECK_STR(d.rcpt[0].final, "z@x");
}

TEST(more_recipients_than_kept_are_flagged)
{
	char m[8192];
	int n = snprintf(m, sizeof(m),
	                 "Content-Type: multipart/report; boundary=b\n\n--b\n"
	                 "Content-Type: message/delivery-status\n\n"
	                 "Reporting-MTA: dns; x\n");
	struct dsn d;

	for (int i = 0; i < DSN_MAX_RECIPIENTS + 3; i++)
		n += snprintf(m + n, sizeof(m) - n, "\nFinal-Recipient: rfc822; u%d@x\n", i);
	n += snprintf(m + n, sizeof(m) - n, "--b--\n");
	CHECK_INT(dsn_parse(m, (size_t)n, &d), 0);
	CHECK_INT(d.nrcpt, DSN_MAX_RECIPIENTS);
	CHECK(d.rcpt_truncated);
}

TEST(overlong_fields_are_truncated_not_overrun)
{
	char m[4096];
	int n = snprintf(m, sizeof(m),
	                 "Content-Type: multipart/report; boundary=b\n\n--b\n"
	                 "Content-Type: message/delivery-status\n\n\n"
	                 "Final-Recipient: rfc822; ");
	struct dsn d;

	memset(m + n, 'a', 1000);
	n += 1000;
	n += snprintf(m + n, sizeof(m) - n, "@x\n--b--\n");
	CHECK_INT(dsn_parse(m, (size_t)n, &d), 0);
	CHECK(strlen(d.rcpt[0].final) > 200);
	CHECK(strlen(d.rcpt[0].final) < DSN_FIELD_MAX);
	CHECK(strncmp(d.rcpt[0].final, "aaaa", 4) == 0);
}

/*
 * A bounce captured from a real Postfix 3.7 instance by the backscatter
 * integration test's setup (relayctl sink's excerpt), token minted with the
 * integration tests' secret.
 */
TEST(captured_postfix_bounce_yields_backscatter_token)
{
	static const char secret[] = "integration-test-secret-0123456789";
	char buf[8192];
	FILE *f = fopen("tests/unit/data/postfix-3.7-bounce.eml", "r");
	size_t n;
	struct dsn d;
	struct token_key k;
	struct sink_receipt *r;
	const char *rcpts[1] = {"rt894b98829dab4a8391469e898a40ac@sink.relayaudit.test"};

	CHECK_MSG(f != NULL, "tests/unit/data/postfix-3.7-bounce.eml: cannot open (run from the top)");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	CHECK_INT(dsn_parse(buf, n, &d), 0);
	CHECK_STR(d.reporting_mta, "dns; mta-127-0-30-48.test");
	CHECK_INT(d.nrcpt, 1);
	CHECK_STR(d.rcpt[0].final, "nx8391469e898a40ac@mta-127-0-30-48.test");
	CHECK_STR(d.rcpt[0].status, "5.1.1");
	CHECK(!d.headers_only);
	token_key_init(&k, secret, strlen(secret));
	r = sink_receipt_make(&k, "mta-127-0-30-48.test", "", rcpts, 1, buf, n, 512);
	CHECK(r->dsn && r->bounce);
	CHECK_INT(r->ntokens, 1);
	CHECK_INT(r->tokens[0].probe_id, 150957774249387);
	CHECK_INT(r->tokens[0].attempt, 74);
	CHECK(r->tokens[0].where & SINK_IN_DSN_ORIGINAL);
	CHECK(r->tokens[0].where & SINK_IN_RCPT);
	CHECK_INT(r->forged, 0);
	sink_receipt_free(r);
}

int
main(void)
{
	test_suite = "dsn";
	RUN(postfix_bounce_recipient_fields);
	RUN(postfix_bounce_returns_original_message);
	RUN(bare_lf_line_ends);
	RUN(sendmail_several_recipients_headers_only);
	RUN(plain_message_is_not_a_dsn);
	RUN(report_without_status_part_is_not_a_dsn);
	RUN(missing_closing_delimiter_still_parses);
	RUN(more_recipients_than_kept_are_flagged);
	RUN(overlong_fields_are_truncated_not_overrun);
	RUN(captured_postfix_bounce_yields_backscatter_token);
	return test_summary();
}
