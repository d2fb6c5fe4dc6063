/*
 * Splitting migration files into statements and mapping PostgreSQL's error
 * position back to a line of the file.
 */
#include "db/sql_script.h"
#include "tests/test.h"

static int
split(const char *sql, struct sql_stmt **v)
{
	const char *why = NULL;
	int line = 0;

	return sql_script_split(sql, strlen(sql), v, &why, &line);
}

TEST(statements_split_at_semicolons_with_their_lines)
{
	const char *sql = "CREATE TABLE a (x int);\n\nCREATE TABLE b (y int);\nSELECT 1";
	struct sql_stmt *v;

	CHECK_INT(split(sql, &v), 3);
	CHECK_INT(v[0].line, 1);
	CHECK_INT(v[1].line, 3);
	CHECK_INT(v[2].line, 4);
	CHECK_INT(v[1].len, strlen("CREATE TABLE b (y int);"));
	free(v);
}

TEST(semicolons_in_quotes_comments_and_dollar_quotes_do_not_split)
{
	const char *sql = "-- a; comment\n"
	                  "/* block; /* nested; */ still; */\n"
	                  "SELECT 'a;''b', \"c;d\", E'x\\';y';\n"
	                  "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$\n"
	                  "BEGIN RETURN 1; END $body$;\n"
	                  "SELECT $$;$$;";
	struct sql_stmt *v;

	CHECK_INT(split(sql, &v), 3);
	CHECK_INT(v[0].line, 3);
	CHECK_INT(v[1].line, 4);
	CHECK_INT(v[2].line, 6);
	free(v);
}

TEST(comment_only_script_has_no_statements)
{
	struct sql_stmt *v;

	CHECK_INT(split("-- nothing here\n/* nor here */\n", &v), 0);
	free(v);
}

TEST(unclosed_quote_is_an_error_at_its_line)
{
	struct sql_stmt *v;
	const char *why = NULL;
	int line = 0;
	const char *sql = "SELECT 1;\nSELECT 'open\n;\n";

	CHECK_INT(sql_script_split(sql, strlen(sql), &v, &why, &line), -1);
	CHECK_INT(line, 2);
	CHECK_CONTAINS(why, "string never closed");
}

TEST(error_position_maps_to_the_line_inside_the_statement)
{
	const char *sql = "SELECT 1;\n\nSELECT a,\n  b,\n  nosuch FROM t;";
	struct sql_stmt *v;
	int pos;

	CHECK_INT(split(sql, &v), 2);
	/* Position of "nosuch" within the second statement, 1-based. */
	pos = (int)(strstr(sql, "nosuch") - (sql + v[1].offset)) + 1;
	CHECK_INT(sql_script_line_at(sql, &v[1], pos), 5);
	CHECK_INT(sql_script_line_at(sql, &v[1], 0), 3);
	free(v);
}

TEST(error_position_counts_characters_not_bytes)
{
	/* "é" is two bytes but one character for PostgreSQL. */
	const char *sql = "SELECT 'é',\nboom;";
	struct sql_stmt *v;

	CHECK_INT(split(sql, &v), 1);
	CHECK_INT(sql_script_line_at(sql, &v[0], 13), 2); /* 'b' is character 13 */
	CHECK_INT(sql_script_line_at(sql, &v[0], 12), 1); /* the newline itself */
	free(v);
}

TEST(parameter_dollar_is_not_a_dollar_quote)
{
	struct sql_stmt *v;

	CHECK_INT(split("SELECT $1;\nSELECT $2;", &v), 2);
	free(v);
}

TEST(transaction_control_is_recognised)
{
	const char *sql = "BEGIN;\ncommit;\nStart Transaction;\nCREATE TABLE beginning (x int);\n"
	                  "SELECT 1;";
	struct sql_stmt *v;

	CHECK_INT(split(sql, &v), 5);
	CHECK(sql_script_is_transaction_control(sql, &v[0]));
	CHECK(sql_script_is_transaction_control(sql, &v[1]));
	CHECK(sql_script_is_transaction_control(sql, &v[2]));
	CHECK(!sql_script_is_transaction_control(sql, &v[3]));
	CHECK(!sql_script_is_transaction_control(sql, &v[4]));
	free(v);
}

int
main(void)
{
	test_suite = "sql_script";
	RUN(statements_split_at_semicolons_with_their_lines);
	RUN(semicolons_in_quotes_comments_and_dollar_quotes_do_not_split);
	RUN(comment_only_script_has_no_statements);
	RUN(unclosed_quote_is_an_error_at_its_line);
	RUN(error_position_maps_to_the_line_inside_the_statement);
	RUN(error_position_counts_characters_not_bytes);
	RUN(parameter_dollar_is_not_a_dollar_quote);
	RUN(transaction_control_is_recognised);
	return test_summary();
}
