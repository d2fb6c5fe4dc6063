/*
 * The relayaudit.conf parser: defaults from the table, every error as
 * FILE:LINE, unknown keys and out-of-range values refused.
 */
#include "common/config.h"
#include "tests/test.h"

#include <unistd.h>

static char errors[4096];

static void
collect(void *arg, const char *msg)
{
	size_t off = strlen(errors);

	snprintf(errors + off, sizeof(errors) - off, "%s\n", msg);
}

/* Writes text to a temp file and loads it; returns the error count. */
static int
load(struct config *cfg, const char *text, char *path, size_t pathlen)
{
	int fd;

	snprintf(path, pathlen, "/tmp/relayaudit-test-config.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -100;
	close(fd);
	errors[0] = '\0';
	return config_load(cfg, path, collect, NULL);
}

TEST(defaults_come_from_the_table)
{
	struct config *cfg = config_new();

	CHECK_INT(config_int(cfg, CFG_PROBE_CONCURRENCY), 1000);
	CHECK_INT(config_int(cfg, CFG_PROBE_TIMEOUT), 30);
	CHECK_INT(config_int(cfg, CFG_PROBE_INTERVAL), 7 * 86400);
	CHECK_STR(config_origin(cfg, CFG_PROBE_RATE), "default");
	CHECK(config_list_has(cfg, CFG_ROLES, "sink"));
	config_free(cfg);
}

TEST(values_are_parsed_and_origins_name_file_and_line)
{
	struct config *cfg = config_new();
	char path[64], want[96];

	CHECK_INT(load(cfg,
	               "# comment\n\nprobe_rate = 50\nprobe_timeout=2m\n"
	               "roles = probe, sink\napi_public_health = no\n",
	               path, sizeof(path)),
	          0);
	CHECK_INT(config_int(cfg, CFG_PROBE_RATE), 50);
	CHECK_INT(config_int(cfg, CFG_PROBE_TIMEOUT), 120);
	CHECK_STR(config_str(cfg, CFG_ROLES), "probe,sink");
	CHECK(!config_list_has(cfg, CFG_ROLES, "api"));
	CHECK(!config_bool(cfg, CFG_API_PUBLIC_HEALTH));
	snprintf(want, sizeof(want), "%s:3", path);
	CHECK_STR(config_origin(cfg, CFG_PROBE_RATE), want);
	unlink(path);
	config_free(cfg);
}

TEST(unknown_key_is_an_error_with_file_and_line)
{
	struct config *cfg = config_new();
	char path[64], want[128];

	CHECK_INT(load(cfg, "probe_rate = 5\nprobe_speed = 9\n", path, sizeof(path)), 1);
	snprintf(want, sizeof(want), "%s:2: unknown option 'probe_speed'", path);
	CHECK_CONTAINS(errors, want);
	unlink(path);
	config_free(cfg);
}

TEST(out_of_range_is_an_error_and_the_default_stays)
{
	struct config *cfg = config_new();
	char path[64], want[128];

	CHECK_INT(load(cfg, "\nprobe_concurrency = 0\n", path, sizeof(path)), 1);
	snprintf(want, sizeof(want),
	         "%s:2: probe_concurrency = '0': want a whole number in 1..100000", path);
	CHECK_CONTAINS(errors, want);
	CHECK_INT(config_int(cfg, CFG_PROBE_CONCURRENCY), 1000);
	unlink(path);
	config_free(cfg);
}

TEST(bad_values_of_each_type_are_errors)
{
	struct config *cfg = config_new();
	char path[64];

	CHECK_INT(load(cfg,
	               "probe_timeout = soon\n"            /* duration */
	               "api_public_health = maybe\n"       /* bool */
	               "log_level = loud\n"                /* enum */
	               "roles = probe,mailer\n"            /* list with choices */
	               "api_listen = localhost:80\n"       /* validated string */
	               "exclude = 10.0.0.0/8,10.1.2.3/8\n" /* CIDR with host bits */
	               "secret = short\n"                  /* too short */
	               "no equals sign here\n",
	               path, sizeof(path)),
	          8);
	CHECK_CONTAINS(errors, ":1: probe_timeout");
	CHECK_CONTAINS(errors, ":4: roles");
	CHECK_CONTAINS(errors, ":8: expected 'key = value'");
	unlink(path);
	config_free(cfg);
}

TEST(duplicate_key_is_an_error_naming_the_first_line)
{
	struct config *cfg = config_new();
	char path[64];

	CHECK_INT(load(cfg, "probe_rate = 5\nprobe_rate = 6\n", path, sizeof(path)), 1);
	CHECK_CONTAINS(errors, ":2: probe_rate is already set at line 1");
	CHECK_INT(config_int(cfg, CFG_PROBE_RATE), 5);
	unlink(path);
	config_free(cfg);
}

TEST(database_comes_from_the_environment_when_the_file_has_none)
{
	struct config *cfg;

	setenv("RELAYAUDIT_DATABASE", "host=/tmp dbname=x", 1);
	cfg = config_new();
	CHECK_STR(config_str(cfg, CFG_DATABASE), "host=/tmp dbname=x");
	CHECK_CONTAINS(config_origin(cfg, CFG_DATABASE), "RELAYAUDIT_DATABASE");
	config_free(cfg);
	unsetenv("RELAYAUDIT_DATABASE");
}

TEST(missing_file_is_an_error)
{
	struct config *cfg = config_new();

	errors[0] = '\0';
	CHECK_INT(config_load(cfg, "/nonexistent/relayaudit.conf", collect, NULL), 1);
	CHECK_CONTAINS(errors, "/nonexistent/relayaudit.conf: cannot open");
	config_free(cfg);
}

TEST(every_default_is_valid_and_the_table_is_in_enum_order)
{
	const struct config_option *opts = config_options();

	for (int i = 0; i < CFG__COUNT; i++) {
		struct config *cfg = config_new();

		CHECK_INT(opts[i].key, i);
		CHECK_MSG(config_set(cfg, opts[i].name, opts[i].def) == NULL,
		          "default of %s refused", opts[i].name);
		config_free(cfg);
	}
}

TEST(list_option_reads_as_trimmed_words_in_order)
{
	struct config *cfg = config_new();
	char **w;
	size_t n = 99;

	CHECK(config_set(cfg, "exclude", " 10.0.0.0/8 ,192.0.2.0/24,  2001:db8::/32") == NULL);
	w = config_list(cfg, CFG_EXCLUDE, &n);
	CHECK_INT(n, 3);
	CHECK_STR(w[0], "10.0.0.0/8");
	CHECK_STR(w[1], "192.0.2.0/24");
	CHECK_STR(w[2], "2001:db8::/32");
	CHECK(w[3] == NULL);
	config_list_free(w);
	CHECK(config_list_has(cfg, CFG_EXCLUDE, "192.0.2.0/24"));
	CHECK(!config_list_has(cfg, CFG_EXCLUDE, "192.0.2.0"));
	w = config_list(cfg, CFG_CONTACT, &n); /* empty: no words */
	CHECK_INT(n, 0);
	config_list_free(w);
	config_free(cfg);
}

int
main(void)
{
	test_suite = "config_parse";
	unsetenv("RELAYAUDIT_DATABASE");
	RUN(defaults_come_from_the_table);
	RUN(values_are_parsed_and_origins_name_file_and_line);
	RUN(unknown_key_is_an_error_with_file_and_line);
	RUN(out_of_range_is_an_error_and_the_default_stays);
	RUN(bad_values_of_each_type_are_errors);
	RUN(duplicate_key_is_an_error_naming_the_first_line);
	RUN(database_comes_from_the_environment_when_the_file_has_none);
	RUN(missing_file_is_an_error);
	RUN(every_default_is_valid_and_the_table_is_in_enum_order);
	RUN(list_option_reads_as_trimmed_words_in_order);
	return test_summary();
}
