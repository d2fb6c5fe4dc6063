/*
 * Running the enforcer hook: fixed argv (no shell), the JSON on stdin,
 * extra environment, exit status, the first stderr line as the error, and
 * a hook that overruns its deadline is killed.
 */
#include "auditd/workflow/enforcer.h"
#include "common/util.h"
#include "tests/test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/relayaudit-enforcer-XXXXXX";

/* Writes an executable shell script and returns its path (static buffer). */
static const char *
script(const char *name, const char *body)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	chmod(path, 0755);
	return path;
}

static char *
slurp(const char *name)
{
	char path[256], *buf = xcalloc(1, 4096);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f) {
		size_t n = fread(buf, 1, 4095, f);

		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

TEST(arguments_stdin_and_environment_reach_the_hook)
{
	char body[512], err[256];
	char *argv[] = {NULL, "block", "192.0.2.1; reboot", "port25_inbound", "7", NULL};
	char *env[] = {"RELAYAUDIT_ACTION_KEY=case:7:ev:1:block", NULL};
	char *got;

	snprintf(
	    body, sizeof(body),
	    "printf '%%s|' \"$@\" > %s/args\ncat > %s/stdin\necho \"$RELAYAUDIT_ACTION_KEY\" > "
	    "%s/env\n",
	    dir, dir, dir);
	argv[0] = (char *)script("record", body);
	CHECK_INT(enforcer_exec(argv, env, "{\"action\":\"block\"}", 5000, err, sizeof(err)), 0);
	got = slurp("args");
	/* One argument, never split or interpreted by a shell. */
	CHECK_STR(got, "block|192.0.2.1; reboot|port25_inbound|7|");
	free(got);
	got = slurp("stdin");
	CHECK_STR(got, "{\"action\":\"block\"}");
	free(got);
	got = slurp("env");
	CHECK_STR(got, "case:7:ev:1:block\n");
	free(got);
}

TEST(exit_status_and_first_stderr_line)
{
	char err[256];
	char *argv[] = {
	    (char *)script("fail", "echo 'firewall busy' >&2\necho second >&2\nexit 3\n"), NULL};

	CHECK_INT(enforcer_exec(argv, NULL, "{}", 5000, err, sizeof(err)), 3);
	CHECK_STR(err, "firewall busy");
}

TEST(hook_that_overruns_is_killed)
{
	char err[256];
	char *argv[] = {(char *)script("slow", "sleep 30\n"), NULL};
	int64_t start = now_mono_ms();

	CHECK_INT(enforcer_exec(argv, NULL, "{}", 300, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "timed out");
	CHECK(now_mono_ms() - start < 5000);
}

TEST(hook_that_ignores_stdin_is_fine)
{
	char err[256], big[200000];
	char *argv[] = {(char *)script("quick", "exit 0\n"), NULL};

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(enforcer_exec(argv, NULL, big, 5000, err, sizeof(err)), 0);
}

TEST(missing_hook_is_an_error)
{
	char err[256];
	char *argv[] = {"/nonexistent/enforcer", "block", NULL};

	CHECK_INT(enforcer_exec(argv, NULL, "{}", 1000, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "cannot execute /nonexistent/enforcer");
}

TEST(hook_gets_a_clean_environment_and_no_daemon_descriptors)
{
	char err[256], body[512], *got;
	char *env[] = {"RELAYAUDIT_ACTION_KEY=k1", NULL};
	char *argv[2] = {NULL, NULL};
	struct rlimit rl;
	int high = -1;

	setenv("RELAYAUDIT_DATABASE", "host=/x password=do-not-leak", 1);
	setenv("SOME_DAEMON_VAR", "x", 1);
	setenv("LANG", "C.UTF-8", 1);
	setenv("RELAYAUDIT_ENFORCER_LOG", "/tmp/hook.log", 1);
	/* A descriptor above 1024, as the daemon's probe sockets are. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max > 1600) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		high = dup2(1, 1500);
	}
	snprintf(body, sizeof(body), "env | sort > %s/allenv\nls /proc/self/fd > %s/fds\n", dir,
		 dir);
	argv[0] = (char *)script("envdump", body);
	CHECK_INT(enforcer_exec(argv, env, "{}", 5000, err, sizeof(err)), 0);
	if (high >= 0)
		close(high);
	got = slurp("allenv");
	if (strstr(got, "RELAYAUDIT_DATABASE") != NULL || strstr(got, "SOME_DAEMON_VAR") != NULL)
		TEST_FAIL("got environment '%s', want no daemon-only variables", got);
	CHECK_CONTAINS(got, "PATH=");
	CHECK_CONTAINS(got, "LANG=C.UTF-8");
	CHECK_CONTAINS(got, "RELAYAUDIT_ENFORCER_LOG=/tmp/hook.log");
	CHECK_CONTAINS(got, "RELAYAUDIT_ACTION_KEY=k1");
	free(got);
	got = slurp("fds");
	if (high >= 0 && strstr(got, "1500") != NULL)
		TEST_FAIL("got descriptors '%s' in the hook, want no 1500", got);
	free(got);
	unsetenv("RELAYAUDIT_DATABASE");
	unsetenv("SOME_DAEMON_VAR");
}

TEST(backoff_doubles_up_to_an_hour)
{
	CHECK_INT(enforcer_backoff(60, 1), 60);
	CHECK_INT(enforcer_backoff(60, 2), 120);
	CHECK_INT(enforcer_backoff(60, 4), 480);
	CHECK_INT(enforcer_backoff(60, 30), 3600);
	CHECK_INT(enforcer_backoff(0, 1), 1);
}

int
main(void)
{
	test_suite = "enforcer_exec";
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	RUN(arguments_stdin_and_environment_reach_the_hook);
	RUN(exit_status_and_first_stderr_line);
	RUN(hook_that_overruns_is_killed);
	RUN(hook_that_ignores_stdin_is_fine);
	RUN(missing_hook_is_an_error);
	RUN(hook_gets_a_clean_environment_and_no_daemon_descriptors);
	RUN(backoff_doubles_up_to_an_hour);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return test_summary();
}
