/*
 * The release version, from the VERSION file at the top of the tree
 * (the Makefile passes it to version.c only, so a new version rebuilds one file).
 */
#ifndef RELAYAUDIT_VERSION_H
#define RELAYAUDIT_VERSION_H

#include <stdio.h>

const char *relayaudit_version(void);
/* "PROGRAM (relayaudit) VERSION\n" on out, as --version prints it. */
void version_print(FILE *out, const char *program);

#endif
