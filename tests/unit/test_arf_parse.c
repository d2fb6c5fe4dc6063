/*
 * The complaint report parser (db/arf_parse.c) on report mails kept under
 * tests/unit/data/arf/, with __ADDR__ replaced by the address under test.
 */
#include "db/arf_parse.h"
#include "tests/test.h"

static char report[65536];
static size_t report_len;

/* Loads tests/unit/data/arf/NAME with __ADDR__ replaced by addr; 0 or -1. */
static int
load(const char *name, const char *addr)
{
	char path[256], raw[32768];
	FILE *f;
	size_t n, o = 0;

	snprintf(path, sizeof(path), "tests/unit/data/arf/%s", name);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(raw, 1, sizeof(raw) - 1, f);
	fclose(f);
	raw[n] = '\0';
	for (const char *p = raw; *p;) {
		if (strncmp(p, "__ADDR__", 8) == 0) {
			o += (size_t)snprintf(report + o, sizeof(report) - o, "%s", addr);
			p += 8;
		} else {
			report[o++] = *p++;
		}
	}
	report[o] = '\0';
	report_len = o;
	return 0;
}

TEST(arf_source_ip_field_names_the_address)
{
	struct arf_report r;
	const char *why = NULL;

	CHECK_MSG(load("arf-rfc5965.eml", "192.0.2.25") == 0, "cannot open (run from the top)");
	CHECK_MSG(arf_parse(report, report_len, &r, &why) == 0, "refused: %s", why);
	CHECK_INT(r.format, ARF_RFC5965);
	CHECK_STR(r.source_ip, "192.0.2.25");
	CHECK_STR(r.ip_from, "Source-IP");
	CHECK_STR(r.feedback_type, "abuse");
	CHECK_STR(r.reporter, "fbl@mailbox.example");
}

TEST(arf_ipv6_source_is_normalised)
{
	struct arf_report r;
	const char *why = NULL;

	CHECK(load("arf-rfc5965.eml", "2001:DB8:0::25") == 0);
	CHECK_MSG(arf_parse(report, report_len, &r, &why) == 0, "refused: %s", why);
	CHECK_STR(r.source_ip, "2001:db8::25");
}

TEST(arf_without_source_ip_takes_the_first_received_hop)
{
	struct arf_report r;
	const char *why = NULL;

	CHECK(load("arf-received-only.eml", "198.51.100.7") == 0);
	CHECK_MSG(arf_parse(report, report_len, &r, &why) == 0, "refused: %s", why);
	CHECK_STR(r.source_ip, "198.51.100.7");
	CHECK_STR(r.ip_from, "Received");
	CHECK_STR(r.reporter, "feedback@mailbox.example");
}

TEST(arf_with_crlf_line_ends)
{
	static char crlf[131072];
	struct arf_report r;
	const char *why = NULL;
	size_t o = 0;

	CHECK(load("arf-rfc5965.eml", "192.0.2.26") == 0);
	for (size_t i = 0; i < report_len; i++) {
		if (report[i] == '\n')
			crlf[o++] = '\r';
		crlf[o++] = report[i];
	}
	CHECK_MSG(arf_parse(crlf, o, &r, &why) == 0, "refused: %s", why);
	CHECK_STR(r.source_ip, "192.0.2.26");
}

TEST(xarf_source_field_names_the_address)
{
	struct arf_report r;
	const char *why = NULL;

	CHECK(load("xarf.eml", "203.0.113.9") == 0);
	CHECK_MSG(arf_parse(report, report_len, &r, &why) == 0, "refused: %s", why);
	CHECK_INT(r.format, ARF_XARF);
	CHECK_STR(arf_format_name(r.format), "x-arf");
	CHECK_STR(r.source_ip, "203.0.113.9");
	CHECK_STR(r.feedback_type, "abuse");
	CHECK_STR(r.reporter, "reports@abuse-desk.example");
}

TEST(plain_mail_is_refused_with_a_reason)
{
	struct arf_report r;
	const char *why = NULL;

	CHECK(load("not-a-report.eml", "192.0.2.25") == 0);
	CHECK_INT(arf_parse(report, report_len, &r, &why), -1);
	CHECK_CONTAINS(why, "not a feedback report");
}

TEST(source_ip_that_is_no_address_is_refused)
{
	struct arf_report r;
	const char *why = NULL;

	CHECK(load("arf-bad-source.eml", "x") == 0);
	CHECK_INT(arf_parse(report, report_len, &r, &why), -1);
	CHECK_STR(why, "Source-IP is not an IP address");
}

TEST(empty_nul_and_oversized_reports_are_refused)
{
	struct arf_report r;
	const char *why = NULL;
	static char big[ARF_MAX_REPORT + 1];

	CHECK_INT(arf_parse("", 0, &r, &why), -1);
	CHECK_STR(why, "the report is empty");
	CHECK_INT(arf_parse("From: a\0b\n", 10, &r, &why), -1);
	CHECK_CONTAINS(why, "NUL");
	memset(big, 'a', sizeof(big));
	CHECK_INT(arf_parse(big, sizeof(big), &r, &why), -1);
	CHECK_CONTAINS(why, "larger than 1 MiB");
}

TEST(deeply_nested_multiparts_are_refused_before_parsing)
{
	static char deep[16384];
	struct arf_report r;
	const char *why = NULL;
	size_t o = 0;

	o += (size_t)snprintf(deep, sizeof(deep), "MIME-Version: 1.0\n");
	for (int i = 0; i < ARF_MAX_MULTIPARTS + 1; i++)
		o += (size_t)snprintf(deep + o, sizeof(deep) - o,
				      "Content-Type: MULTIPART/mixed; boundary=b%d\n\n--b%d\n", i, i);
	CHECK_INT(arf_parse(deep, o, &r, &why), -1);
	CHECK_CONTAINS(why, "too many multipart");
}

TEST(evidence_text_replaces_invalid_utf8)
{
	char *t = arf_evidence_text("caf\xe9 ok", 7);

	CHECK_STR(t, "caf\xef\xbf\xbd ok");
	free(t);
}

int
main(void)
{
	test_suite = "arf_parse";
	RUN(arf_source_ip_field_names_the_address);
	RUN(arf_ipv6_source_is_normalised);
	RUN(arf_without_source_ip_takes_the_first_received_hop);
	RUN(arf_with_crlf_line_ends);
	RUN(xarf_source_field_names_the_address);
	RUN(plain_mail_is_refused_with_a_reason);
	RUN(source_ip_that_is_no_address_is_refused);
	RUN(empty_nul_and_oversized_reports_are_refused);
	RUN(deeply_nested_multiparts_are_refused_before_parsing);
	RUN(evidence_text_replaces_invalid_utf8);
	return test_summary();
}
