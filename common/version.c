/*
 * The version every program prints for --version. RELAYAUDIT_VERSION comes
 * from the VERSION file through the Makefile.
 */
#include "common/version.h"

#ifndef RELAYAUDIT_VERSION
#define RELAYAUDIT_VERSION "unknown"
#endif

const char *
relayaudit_version(void)
{
	return RELAYAUDIT_VERSION;
}

void
version_print(FILE *out, const char *program)
{
	fprintf(out, "%s (relayaudit) %s\n", program, RELAYAUDIT_VERSION);
}
