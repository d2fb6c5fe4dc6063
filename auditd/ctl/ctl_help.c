/*
 * --help and --version for relayctl's subcommands: one rule for all of
 * them, so every subcommand answers both on stdout with exit status 0.
 */
#include "auditd/ctl/ctl.h"

#include <string.h>

bool
ctl_help_wanted(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-h") == 0)
		return true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

bool
ctl_version_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--version") == 0)
			return true;
	}
	return false;
}
