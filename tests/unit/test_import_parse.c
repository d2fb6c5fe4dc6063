/*
 * The import file parser: CSV (RFC 4180) and JSON lines into rows, every
 * bad row reported with its line and nothing kept from a bad file.
 */
#include "db/import_parse.h"
#include "tests/test.h"

/* The examples use documentation ranges, allowed as with loopback_only. */
static struct import_limits limits = {.max_cidr = 256, .loopback_only = true};

static int
parse(const char *text, enum import_format fmt, struct import_result *res)
{
	return import_parse(text, strlen(text), fmt, &limits, res);
}

/* All error lines joined, "LINE: msg|LINE: msg", for readable failures. */
static const char *
errors_of(const struct import_result *res)
{
	static char buf[4096];
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < res->nerrors && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%d: %s|",
		                        res->errors[i].line, res->errors[i].msg);
	return buf;
}

TEST(csv_good_file_gives_rows_with_defaults_left_empty)
{
	struct import_result res;
	char a[ADDR_STRLEN];

	CHECK_INT(parse("customer,address,contact_email\n"
	                "c1,192.0.2.1,ops@c1.example\n"
	                "c2,2001:db8::5,ops@c2.example\n",
	                IMPORT_CSV, &res),
	          0);
	CHECK_INT(res.nrows, 2);
	CHECK_STR(res.rows[0].customer, "c1");
	CHECK_INT(res.rows[0].line, 2);
	CHECK(res.rows[0].name == NULL && res.rows[0].locale == NULL);
	CHECK_INT(res.rows[0].nports, 0);
	cidr_format(&res.rows[1].cidr, a, sizeof(a));
	CHECK_STR(a, "2001:db8::5/128");
	CHECK_INT(res.ntargets, 2);
	import_result_free(&res);
}

TEST(csv_quoted_fields_hold_commas_quotes_and_newlines)
{
	struct import_result res;

	CHECK_INT(parse("customer,name,address,contact_email\r\n"
	                "c1,\"Acme, \"\"the\"\" Inc.\",192.0.2.1,a@c1.example\r\n"
	                "c2,\"two\nlines\",192.0.2.2,a@c2.example\r\n"
	                "c3,three,192.0.2.3,a@c3.example\r\n",
	                IMPORT_CSV, &res),
	          -1); /* a newline is a control character in a name */
	CHECK_INT(res.nerrors, 1);
	CHECK_INT(res.errors[0].line, 3);
	import_result_free(&res);
	CHECK_INT(parse("customer,name,address,contact_email\r\n"
	                "c1,\"Acme, \"\"the\"\" Inc.\",192.0.2.1,a@c1.example\r\n"
	                "c3,three,192.0.2.3,a@c3.example\r\n",
	                IMPORT_CSV, &res),
	          0);
	CHECK_STR(res.rows[0].name, "Acme, \"the\" Inc.");
	CHECK_INT(res.rows[1].line, 3);
	import_result_free(&res);
}

TEST(csv_line_numbers_count_newlines_inside_quotes)
{
	struct import_result res;

	CHECK_INT(parse("customer,address,contact_email,domains\n"
	                "c1,192.0.2.1,a@c1.example,\"a.example;\nb.example\"\n"
	                "c2,bad,a@c2.example,\n",
	                IMPORT_CSV, &res),
	          -1);
	CHECK_MSG(res.nerrors == 1 && res.errors[0].line == 4, "errors %s, want one on line 4",
	          errors_of(&res));
	import_result_free(&res);
}

TEST(csv_lists_split_on_semicolons)
{
	struct import_result res;

	CHECK_INT(parse("customer,address,contact_email,ports,domains\n"
	                "c1,192.0.2.1,a@c1.example,25;587; 2525,mx.c1.example;c1.example\n",
	                IMPORT_CSV, &res),
	          0);
	CHECK_INT(res.rows[0].nports, 3);
	CHECK_INT(res.rows[0].ports[2], 2525);
	CHECK_INT(res.rows[0].ndomains, 2);
	CHECK_STR(res.rows[0].domains[1], "c1.example");
	import_result_free(&res);
}

TEST(csv_unknown_column_is_an_error_on_the_header_line)
{
	struct import_result res;

	CHECK_INT(parse("customer,address,contact_email,colour\nc1,192.0.2.1,a@c1.example,red\n",
	                IMPORT_CSV, &res),
	          -1);
	CHECK_INT(res.errors[0].line, 1);
	CHECK_CONTAINS(res.errors[0].msg, "unknown column 'colour'");
	CHECK_INT(res.nrows, 0);
	import_result_free(&res);
}

TEST(csv_missing_required_column_is_an_error)
{
	struct import_result res;

	CHECK_INT(parse("customer,address\nc1,192.0.2.1\n", IMPORT_CSV, &res), -1);
	CHECK_CONTAINS(res.errors[0].msg, "no 'contact_email' column");
	import_result_free(&res);
}

TEST(every_bad_row_is_reported_with_its_line)
{
	struct import_result res;

	CHECK_INT(parse("customer,address,contact_email,locale,ports\n"
	                "c1,192.0.2.1,a@c1.example,en,25\n"
	                "c2,192.0.2.300,a@c2.example,en,25\n"    /* bad address */
	                "c3,192.0.2.3,,en,25\n"                  /* missing contact */
	                "c4,192.0.2.4,not-an-email,en,25\n"      /* bad email */
	                "c5,192.0.2.5,a@c5.example,english,25\n" /* bad locale */
	                "c6,192.0.2.6,a@c6.example,en,70000\n"   /* bad port */
	                "c7,192.0.2.7,a@c7.example,en\n"         /* too few fields */
	                "c8,192.0.2.8/24,a@c8.example,en,25\n",  /* host bits set */
	                IMPORT_CSV, &res),
	          -1);
	CHECK_MSG(res.nerrors == 7, "got %d errors (%s), want 7", res.nerrors, errors_of(&res));
	for (int i = 0; i < 7; i++)
		CHECK_INT(res.errors[i].line, i + 3);
	CHECK_CONTAINS(res.errors[1].msg, "missing contact_email");
	CHECK_CONTAINS(res.errors[3].msg, "locale");
	import_result_free(&res);
}

TEST(errors_are_bounded_but_counted)
{
	struct import_result res;
	size_t cap = 200 * 40 + 64, off;
	char *text = malloc(cap);

	off = (size_t)snprintf(text, cap, "customer,address,contact_email\n");
	for (int i = 0; i < 200; i++)
		off += (size_t)snprintf(text + off, cap - off, "c%d,bad,a@b.example\n", i);
	CHECK_INT(parse(text, IMPORT_CSV, &res), -1);
	free(text);
	CHECK_INT(res.nerrors, IMPORT_MAX_ERRORS);
	CHECK_INT(res.errors_total, 200);
	import_result_free(&res);
}

TEST(cidr_within_the_limit_expands_beyond_it_is_an_error)
{
	struct import_result res;

	CHECK_INT(parse("customer,address,contact_email\n"
	                "c1,192.0.2.0/24,a@c1.example\n"
	                "c2,2001:db8::/120,a@c2.example\n",
	                IMPORT_CSV, &res),
	          0);
	CHECK_INT(res.ntargets, 512);
	import_result_free(&res);
	CHECK_INT(parse("customer,address,contact_email\nc1,10.0.0.0/23,a@c1.example\n", IMPORT_CSV,
	                &res),
	          -1);
	CHECK_CONTAINS(res.errors[0].msg, "import_max_cidr");
	import_result_free(&res);
}

TEST(a_file_expanding_past_the_total_limit_is_refused)
{
	struct import_limits big = {.max_cidr = 16777216};
	const char *text = "customer,address,contact_email\n"
	                   "c1,10.0.0.0/8,a@c1.example\n"
	                   "c2,11.0.0.0/32,a@c2.example\n";
	struct import_result res;

	CHECK_INT(import_parse(text, strlen(text), IMPORT_CSV, &big, &res), -1);
	CHECK_INT(res.nerrors, 1);
	CHECK_INT(res.errors[0].line, 3);
	CHECK_CONTAINS(res.errors[0].msg, "split it");
	import_result_free(&res);
}

TEST(one_customer_with_two_contacts_is_a_conflict)
{
	struct import_result res;

	CHECK_INT(parse("customer,address,contact_email,name\n"
	                "c1,192.0.2.1,a@c1.example,Acme\n"
	                "c1,192.0.2.2,a@c1.example,\n"
	                "c1,192.0.2.3,b@c1.example,Acme\n",
	                IMPORT_CSV, &res),
	          -1);
	CHECK_INT(res.nerrors, 1);
	CHECK_INT(res.errors[0].line, 4);
	CHECK_CONTAINS(res.errors[0].msg, "contact_email differs from line 2");
	import_result_free(&res);
}

TEST(jsonl_same_fields_with_arrays)
{
	struct import_result res;

	CHECK_INT(
	    parse("{\"customer\":\"c1\",\"address\":\"2001:db8::/126\","
	          "\"contact_email\":\"a@c1.example\",\"ports\":[25,465],"
	          "\"domains\":[\"c1.example\"],\"locale\":\"de\"}\n"
	          "\n"
	          "{\"customer\":42,\"address\":\"192.0.2.9\",\"contact_email\":\"x@y.example\"}\n",
	          IMPORT_JSONL, &res),
	    0);
	CHECK_INT(res.nrows, 2);
	CHECK_INT(res.rows[0].nports, 2);
	CHECK_INT(res.rows[0].ports[1], 465);
	CHECK_STR(res.rows[0].locale, "de");
	CHECK_STR(res.rows[1].customer, "42");
	CHECK_INT(res.rows[1].line, 3);
	CHECK_INT(res.ntargets, 5);
	import_result_free(&res);
}

TEST(jsonl_bad_lines_are_reported)
{
	struct import_result res;

	CHECK_INT(parse("{\"customer\":\"c1\",\"address\":\"192.0.2.1\",\"contact_email\":\"a@c1."
	                "example\"}\n"
	                "{\"customer\":\"c2\",\"address\":\"192.0.2.2\",\"contact_email\":\"a@c2."
	                "example\",\"colour\":1}\n"
	                "{not json\n"
	                "[1,2]\n"
	                "{\"customer\":\"c3\",\"address\":\"192.0.2.3\"}\n",
	                IMPORT_JSONL, &res),
	          -1);
	CHECK_MSG(res.nerrors == 4, "got %s, want 4 errors", errors_of(&res));
	CHECK_INT(res.errors[0].line, 2);
	CHECK_CONTAINS(res.errors[0].msg, "unknown field 'colour'");
	CHECK_INT(res.errors[1].line, 3);
	CHECK_INT(res.errors[2].line, 4);
	CHECK_INT(res.errors[3].line, 5);
	import_result_free(&res);
}

TEST(format_detection_by_extension_then_content)
{
	CHECK_INT(import_detect("x.jsonl", "customer", 8), IMPORT_JSONL);
	CHECK_INT(import_detect("x.NDJSON", "", 0), IMPORT_JSONL);
	CHECK_INT(import_detect("x.csv", "{", 1), IMPORT_CSV);
	CHECK_INT(import_detect("x.txt", "  \n {\"a\":1}", 11), IMPORT_JSONL);
	CHECK_INT(import_detect("x.txt", "customer,address", 16), IMPORT_CSV);
}

TEST(empty_file_and_header_only_are_errors)
{
	struct import_result res;

	CHECK_INT(parse("", IMPORT_CSV, &res), -1);
	import_result_free(&res);
	CHECK_INT(parse("customer,address,contact_email\n", IMPORT_CSV, &res), -1);
	CHECK_CONTAINS(res.errors[0].msg, "no rows");
	import_result_free(&res);
}

TEST(byte_order_mark_is_ignored)
{
	struct import_result res;

	CHECK_INT(parse("\xef\xbb\xbf"
	                "customer,address,contact_email\nc1,192.0.2.1,a@c1.example\n",
	                IMPORT_CSV, &res),
	          0);
	import_result_free(&res);
}

TEST(ports_text_is_an_array_literal)
{
	int ports[] = {25, 587};
	char buf[32];

	import_ports_text(ports, 2, buf, sizeof(buf));
	CHECK_STR(buf, "{25,587}");
}

TEST(non_target_addresses_are_refused_with_line_and_reason)
{
	struct import_limits prod = {.max_cidr = 256};
	struct import_result res;
	const char *text = "customer,address,contact_email\n"
	                   "c1,8.8.8.8,a@c1.example\n"
	                   "c1,0.0.0.0,a@c1.example\n"
	                   "c1,255.255.255.255,a@c1.example\n"
	                   "c1,224.0.0.0/30,a@c1.example\n"
	                   "c1,::,a@c1.example\n"
	                   "c1,127.0.0.1,a@c1.example\n"
	                   "c1,fe80::1,a@c1.example\n"
	                   "c1,192.0.2.15,a@c1.example\n";

	CHECK_INT(import_parse(text, strlen(text), IMPORT_CSV, &prod, &res), -1);
	CHECK_INT(res.nerrors, 7);
	CHECK_CONTAINS(errors_of(&res), "3: address '0.0.0.0': refused, unspecified");
	CHECK_CONTAINS(errors_of(&res), "4: address '255.255.255.255': refused, the broadcast");
	CHECK_CONTAINS(errors_of(&res), "5: address '224.0.0.0/30': refused, multicast");
	CHECK_CONTAINS(errors_of(&res), "6: address '::': refused, unspecified");
	CHECK_CONTAINS(errors_of(&res), "7: address '127.0.0.1': refused, loopback");
	CHECK_CONTAINS(errors_of(&res), "8: address 'fe80::1': refused, link-local");
	CHECK_CONTAINS(errors_of(&res), "9: address '192.0.2.15': refused, documentation");
	import_result_free(&res);
}

TEST(mapped_ipv6_imports_as_its_ipv4_address)
{
	struct import_result res;
	char buf[ADDR_STRLEN];

	CHECK_INT(parse("customer,address,contact_email\nc1,::ffff:192.0.2.15,a@c1.example\n",
	                IMPORT_CSV, &res),
	          0);
	cidr_format(&res.rows[0].cidr, buf, sizeof(buf));
	CHECK_STR(buf, "192.0.2.15/32");
	import_result_free(&res);
}

TEST(invalid_utf8_fails_with_its_line)
{
	struct import_result res;

	CHECK_INT(parse("customer,address,contact_email,name\n"
	                "c1,192.0.2.1,a@c1.example,Caf\xc3\xa9\n"
	                "c2,192.0.2.2,a@c2.example,Caf\xe9 Bar\n"
	                "c3,192.0.2.3,a\xc0\xaf@c3.example,\n",
	                IMPORT_CSV, &res),
	          -1);
	CHECK_STR(errors_of(&res), "3: name is not valid UTF-8 (byte 4)|"
	                           "4: contact_email is not valid UTF-8 (byte 2)|");
	import_result_free(&res);
}

TEST(domain_lists_split_on_blanks_too_and_are_lower_cased)
{
	struct import_result res;

	CHECK_INT(parse("customer,address,contact_email,domains\n"
	                "c1,192.0.2.1,a@c1.example,GrosseFirma.DE  mail.grossefirma.de;c1.example\n",
	                IMPORT_CSV, &res),
	          0);
	CHECK_MSG(res.rows[0].ndomains == 3, "got %d domains, want 3", res.rows[0].ndomains);
	CHECK_STR(res.rows[0].domains[0], "grossefirma.de");
	CHECK_STR(res.rows[0].domains[1], "mail.grossefirma.de");
	CHECK_STR(res.rows[0].domains[2], "c1.example");
	import_result_free(&res);
}

TEST(bad_domains_name_their_line_and_reason)
{
	struct import_result res;

	CHECK_INT(parse("customer,address,contact_email,domains\n"
	                "c1,192.0.2.1,a@c1.example,c1.example\n"
	                "c1,192.0.2.2,a@c1.example,c1.example;;c2.example\n"
	                "c1,192.0.2.3,a@c1.example,localhost\n"
	                "c1,192.0.2.4,a@c1.example,b\xc3\xbc" "cher.example\n",
	                IMPORT_CSV, &res),
	          -1);
	CHECK_STR(errors_of(&res), "3: empty list item|"
	                           "4: domain 'localhost': a single label: want a whole domain "
	                           "such as example.com|"
	                           "5: domain 'b\xc3\xbc" "cher.example': not ASCII: give an "
	                           "international name as its A-label (xn--...)|");
	import_result_free(&res);
}

TEST(a_customer_with_more_than_32_domains_over_its_rows_is_refused_at_that_row)
{
	struct import_result res;
	char text[8192];
	size_t off = (size_t)snprintf(text, sizeof(text), "customer,address,contact_email,domains\n");

	/* 3 rows of 12 domains, the first repeated on every row: 1 + 3 * 11 = 34 > 32. */
	for (int row = 0; row < 3; row++) {
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		                        "c1,192.0.2.%d,a@c1.example,same.example", row + 1);
		for (int d = 0; d < 11; d++)
			off += (size_t)snprintf(text + off, sizeof(text) - off, " d%d-%d.example",
			                        row, d);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "\n");
	}
	off += (size_t)snprintf(text + off, sizeof(text) - off,
	                        "c2,192.0.2.9,a@c2.example,same.example\n");
	CHECK_INT(parse(text, IMPORT_CSV, &res), -1);
	CHECK_STR(errors_of(&res), "4: customer c1: more than 32 mail domains over its rows|");
	import_result_free(&res);
}

int
main(void)
{
	test_suite = "import_parse";
	RUN(csv_good_file_gives_rows_with_defaults_left_empty);
	RUN(csv_quoted_fields_hold_commas_quotes_and_newlines);
	RUN(csv_line_numbers_count_newlines_inside_quotes);
	RUN(csv_lists_split_on_semicolons);
	RUN(csv_unknown_column_is_an_error_on_the_header_line);
	RUN(csv_missing_required_column_is_an_error);
	RUN(every_bad_row_is_reported_with_its_line);
	RUN(errors_are_bounded_but_counted);
	RUN(cidr_within_the_limit_expands_beyond_it_is_an_error);
	RUN(a_file_expanding_past_the_total_limit_is_refused);
	RUN(one_customer_with_two_contacts_is_a_conflict);
	RUN(jsonl_same_fields_with_arrays);
	RUN(jsonl_bad_lines_are_reported);
	RUN(format_detection_by_extension_then_content);
	RUN(empty_file_and_header_only_are_errors);
	RUN(byte_order_mark_is_ignored);
	RUN(ports_text_is_an_array_literal);
	RUN(non_target_addresses_are_refused_with_line_and_reason);
	RUN(mapped_ipv6_imports_as_its_ipv4_address);
	RUN(invalid_utf8_fails_with_its_line);
	RUN(domain_lists_split_on_blanks_too_and_are_lower_cased);
	RUN(bad_domains_name_their_line_and_reason);
	RUN(a_customer_with_more_than_32_domains_over_its_rows_is_refused_at_that_row);
	return test_summary();
}
