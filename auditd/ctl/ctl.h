/*
 * relayctl subcommands. Each lives in auditd/ctl/ctl_<name>.c as
 * ctl_<name>(argc, argv) with argv[0] the subcommand name; it returns the
 * process exit status (0 ok, 1 failure or "found something", 2 bad usage).
 */
#ifndef RELAYAUDIT_CTL_H
#define RELAYAUDIT_CTL_H

#include "auditd/conf.h"
#include "common/addr.h"
#include "probe-engine/sink.h"

#include <stdbool.h>

struct config;

int ctl_config(int argc, char **argv);
int ctl_token(int argc, char **argv);
int ctl_api(int argc, char **argv);
int ctl_migrate(int argc, char **argv);
int ctl_import(int argc, char **argv);
int ctl_probe(int argc, char **argv);
int ctl_sink(int argc, char **argv);
int ctl_sweep(int argc, char **argv);
int ctl_status(int argc, char **argv);
int ctl_workflow(int argc, char **argv);
int ctl_complaint(int argc, char **argv);
int ctl_mail(int argc, char **argv);

/* argv of a subcommand asks for its usage: "-h" first or "--help" anywhere
 * before "--". Each subcommand then prints its usage on stdout and exits 0. */
bool ctl_help_wanted(int argc, char **argv);
/* "--version" anywhere before "--" (relayctl.c answers it for every subcommand). */
bool ctl_version_wanted(int argc, char **argv);


/* Connects to cfg's database (see db_conninfo); NULL after logging why. */
struct pg_conn *ctl_db_connect(const struct config *cfg);
/* migrations/ of the build tree or the installed share dir; new string or NULL. */
char *ctl_migrations_dir(void);
/* One receipt as a JSON object (jansson json_t). */
struct json_t *ctl_receipt_json(const struct sink_receipt *r);

#endif
