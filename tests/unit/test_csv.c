/*
 * CSV downloads (api/csv.c): RFC 4180 quoting of the fields that need it,
 * every JSON type written as a spreadsheet expects, missing keys empty.
 */
#include "api/handler.h"
#include "tests/test.h"

static const char *const cols[] = {"id", "note", "blocked", "gone", NULL};

static char *
csv_of(const char *json)
{
	struct api_req r;
	json_t *items = json_loads(json, 0, NULL);

	memset(&r, 0, sizeof(r));
	api_reply_csv(&r, items, cols);
	json_decref(items);
	return r.resp;
}

TEST(header_row_then_one_row_per_item_with_crlf)
{
	char *out = csv_of("[{\"id\": 1, \"note\": \"plain\", \"blocked\": true},"
			   " {\"id\": 2, \"note\": null, \"blocked\": false}]");

	CHECK_STR(out, "id,note,blocked,gone\r\n1,plain,true,\r\n2,,false,\r\n");
	free(out);
}

TEST(fields_with_commas_quotes_and_line_ends_are_quoted)
{
	char *out = csv_of("[{\"id\": 3, \"note\": \"a, \\\"b\\\"\\nc\"}]");

	CHECK_STR(out, "id,note,blocked,gone\r\n3,\"a, \"\"b\"\"\nc\",,\r\n");
	free(out);
}

TEST(empty_list_is_just_the_header)
{
	char *out = csv_of("[]");

	CHECK_STR(out, "id,note,blocked,gone\r\n");
	free(out);
}

int
main(void)
{
	test_suite = "csv";
	RUN(header_row_then_one_row_per_item_with_crlf);
	RUN(fields_with_commas_quotes_and_line_ends_are_quoted);
	RUN(empty_list_is_just_the_header);
	return test_summary();
}
