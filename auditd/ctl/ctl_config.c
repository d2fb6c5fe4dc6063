/*
 * relayctl config check|reference|example|man: validate a relayaudit.conf and
 * print the effective configuration, or print the option table as the
 * reference of docs/operating.md, a commented example file or man paragraphs.
 */
#include "auditd/ctl/ctl.h"
#include "common/config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
usage(FILE *out)
{
	fprintf(out, "usage: relayctl config check [-c FILE]\n"
			"       relayctl config reference   (Markdown table for docs/operating.md)\n"
			"       relayctl config example     (commented relayaudit.conf)\n"
			"       relayctl config man         (OPTIONS of relayaudit.conf(5))\n");
	return out == stdout ? 0 : 2;
}

int
ctl_config(int argc, char **argv)
{
	const char *path = NULL;
	struct config *cfg;
	int errors;

	if (ctl_help_wanted(argc, argv))
		return usage(stdout);

	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "reference") == 0 && argc == 2) {
		config_print_reference(stdout);
		return 0;
	}
	if (strcmp(argv[1], "example") == 0 && argc == 2) {
		config_print_example(stdout);
		return 0;
	}
	if (strcmp(argv[1], "man") == 0 && argc == 2) {
		config_print_man(stdout);
		return 0;
	}
	if (strcmp(argv[1], "check") != 0)
		return usage(stderr);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else
			return usage(stderr);
	}
	if (path == NULL)
		path = conf_default_path();
	cfg = config_new();
	if (path != NULL) {
		errors = config_load(cfg, path, NULL, NULL);
		if (errors != 0) {
			fprintf(stderr, "%s: %d error%s\n", path, errors, errors == 1 ? "" : "s");
			config_free(cfg);
			return 1;
		}
	}
	printf("# effective configuration%s%s\n", path ? " from " : " (defaults only)",
	       path ? path : "");
	config_print(cfg, stdout);
	config_free(cfg);
	return 0;
}
