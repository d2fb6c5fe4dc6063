/*
 * relayctl workflow run [--once] [-c FILE]: the daemon's workflow role (case
 * runner, enforcer hook, mailer) in the foreground, for tests and for
 * running the workflow on its own. TERM/INT stop it after the current pass.
 */
#include "auditd/ctl/ctl.h"
#include "auditd/workflow/workflow_role.h"
#include "common/config.h"
#include "common/log.h"
#include "db/db.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
on_signal(int sig)
{
	(void)sig;
	workflow_foreground_stop();
}

static int
usage(FILE *out)
{
	fprintf(out, "usage: relayctl workflow run [--once] [-c FILE]\n"
	                "  --once   handle what is waiting, then exit\n");
	return out == stdout ? 0 : 2;
}

int
ctl_workflow(int argc, char **argv)
{
	const char *path = NULL, *why = NULL;
	bool once = false;
	struct config *cfg;
	struct sigaction sa;
	char *conninfo;
	enum log_level level;
	int status;

	if (ctl_help_wanted(argc, argv))
		return usage(stdout);

	if (argc < 2 || strcmp(argv[1], "run") != 0)
		return usage(stderr);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			once = true;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else
			return usage(stderr);
	}
	cfg = conf_load(path);
	if (cfg == NULL)
		return 1;
	if (log_level_parse(config_str(cfg, CFG_LOG_LEVEL), &level) == 0)
		log_set_level(level);
	conninfo = db_conninfo(cfg, &why);
	if (conninfo == NULL) {
		fprintf(stderr, "relayctl workflow: %s\n", why);
		config_free(cfg);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	status = workflow_run_foreground(cfg, conninfo, once);
	free(conninfo);
	config_free(cfg);
	return status;
}
