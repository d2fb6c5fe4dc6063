/*
 * relayauditd: the daemon. Reads relayaudit.conf and runs its roles in one
 * libevent loop; TERM/INT stop it cleanly, HUP reloads what can be reloaded.
 */
#include "auditd/conf.h"
#include "auditd/daemon.h"
#include "common/config.h"
#include "common/log.h"
#include "common/version.h"

#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
usage(FILE *out)
{
	fprintf(out, "usage: relayauditd [-c FILE] [-n]\n"
		     "  -c, --config FILE  configuration file (default: the first of relayaudit.conf,\n"
		     "                     var/relayaudit.conf, /etc/relayaudit/relayaudit.conf)\n"
		     "  -n, --check        check the configuration and exit\n"
		     "  -h, --help         this text\n"
		     "  -V, --version      print the version\n");
	return out == stdout ? 0 : 2;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	int check_only = 0, opt, status;
	struct config *cfg;
	enum log_level level;

	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};

	while ((opt = getopt_long(argc, argv, "c:nhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'n': check_only = 1; break;
		case 'h': return usage(stdout);
		case 'V': version_print(stdout, "relayauditd"); return 0;
		default: return usage(stderr);
		}
	}
	if (optind != argc)
		return usage(stderr);
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
