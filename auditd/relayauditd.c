/*
 * relayauditd: the daemon. Reads relayaudit.conf and runs its roles in one
 * libevent loop; TERM/INT stop it cleanly, HUP reloads what can be reloaded.
 */
#include "auditd/conf.h"
#include "auditd/daemon.h"
#include "common/config.h"
#include "common/log.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
usage(void)
{
	fprintf(stderr, "usage: relayauditd [-c FILE] [-n]\n"
			"  -c FILE  configuration file (default: relayaudit.conf, "
			"/etc/relayaudit/relayaudit.conf)\n"
			"  -n       check the configuration and exit\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	int check_only = 0, opt, status;
	struct config *cfg;
	enum log_level level;

	while ((opt = getopt(argc, argv, "c:nh")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'n': check_only = 1; break;
		default: return usage();
		}
	}
	if (optind != argc)
		return usage();
	cfg = conf_load(path);
	if (cfg == NULL)
		return 1;
	if (log_level_parse(config_str(cfg, CFG_LOG_LEVEL), &level) == 0)
		log_set_level(level);
	if (daemon_check(cfg, stderr) != 0) {
		config_free(cfg);
		return 1;
	}
	if (check_only) {
		printf("configuration ok\n");
		config_free(cfg);
		return 0;
	}
	status = daemon_run(cfg, path);
	config_free(cfg);
	return status;
}
