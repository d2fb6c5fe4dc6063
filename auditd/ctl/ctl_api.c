/*
 * relayctl api serve: runs the api role alone in the foreground (the same
 * code relayauditd runs for role api) until INT or TERM.
 *   relayctl api serve [-c FILE] [-o KEY=VALUE]...
 */
#include "api/api.h"
#include "auditd/ctl/ctl.h"
#include "common/config.h"
#include "common/log.h"
#include "db/db.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
api_usage(FILE *out)
{
	fprintf(out, "usage: relayctl api serve [-c FILE] [-o KEY=VALUE]...\n");
	return out == stdout ? 0 : 2;
}

int
ctl_api(int argc, char **argv)
{
	const char *path = NULL;
	struct config *cfg;
	sigset_t set;
	int sig = 0;
	enum log_level level;
	char *conninfo;
	const char *why = NULL;

	if (ctl_help_wanted(argc, argv))
		return api_usage(stdout);

	if (argc < 2 || strcmp(argv[1], "serve") != 0)
		return api_usage(stderr);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			i++; /* applied below, after the file */
		else
			return api_usage(stderr);
	}
	if ((cfg = conf_load(path)) == NULL)
		return 1;
	for (int i = 2; i < argc; i++) {
		char key[64];
		const char *eq, *bad;

		if (strcmp(argv[i], "-o") != 0) {
			i += strcmp(argv[i], "-c") == 0;
			continue;
		}
		eq = strchr(argv[++i], '=');
		if (eq == NULL || (size_t)(eq - argv[i]) >= sizeof(key)) {
			config_free(cfg);
			return api_usage(stderr);
		}
		memcpy(key, argv[i], (size_t)(eq - argv[i]));
		key[eq - argv[i]] = '\0';
		if ((bad = config_set(cfg, key, eq + 1)) != NULL) {
			fprintf(stderr, "relayctl: %s: %s\n", key, bad);
			config_free(cfg);
			return 2;
		}
	}
	if (log_level_parse(config_str(cfg, CFG_LOG_LEVEL), &level) == 0)
		log_set_level(level);
	/* Block the signals before the worker threads start so only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((conninfo = db_conninfo(cfg, &why)) == NULL) {
		fprintf(stderr, "relayctl: %s\n", why);
		config_free(cfg);
		return 1;
	}
	if (api_role_start(cfg, conninfo) < 0) {
		free(conninfo);
		config_free(cfg);
		return 1;
	}
	free(conninfo);
	sigwait(&set, &sig);
	api_role_stop();
	config_free(cfg);
	return 0;
}
