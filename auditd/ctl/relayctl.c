/*
 * relayctl: the admin and one-shot command line. Each subcommand is a row in
 * the table below and lives in its own ctl_<name>.c.
 */
#include "auditd/ctl/ctl.h"
#include "common/log.h"
#include "common/version.h"

#include <stdio.h>
#include <string.h>

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{"config", ctl_config, "check a config file, or print the option reference"},
	{"token", ctl_token, "create, revoke or list HTTP API tokens"},
	{"api", ctl_api, "serve the HTTP API alone in the foreground (api serve)"},
	{"migrate", ctl_migrate, "apply pending database migrations (--status lists them)"},
	{"import", ctl_import, "import customers and targets from CSV or JSON lines"},
	{"workflow", ctl_workflow, "run the case workflow (runner, enforcer, mailer) in the foreground"},
	{"probe", ctl_probe, "relay-test addresses now, without the database"},
	{"sink", ctl_sink, "run the sink alone and print receipts as JSON lines"},
	{"sweep", ctl_sweep, "mark targets due now (--all, --cidr, --customer); --wait follows it"},
	{"status", ctl_status, "queue depth, nodes and in-flight probes, verdicts of the last 24 h"},
	{"complaint", ctl_complaint, "file a complaint report that came by mail (ARF, X-ARF)"},
	{"mail", ctl_mail, "preview a case's notification mail as the workflow would send it"},
};

static int
usage(FILE *out)
{
	fprintf(out, "usage: relayctl COMMAND [ARGS]\n"
		     "       relayctl COMMAND --help     usage of one command\n"
		     "       relayctl --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	return out == stdout ? 0 : 2;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(stdout);
	if (ctl_version_wanted(argc, argv)) {
		version_print(stdout, "relayctl");
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "relayctl: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
