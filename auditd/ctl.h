/*
 * relayctl subcommands. Each lives in auditd/ctl_<name>.c as
 * ctl_<name>(argc, argv) with argv[0] the subcommand name; it returns the
 * process exit status (0 ok, 1 failure or "found something", 2 bad usage).
 */
#ifndef RELAYAUDIT_CTL_H
#define RELAYAUDIT_CTL_H

#include "addr.h"
#include "sink.h"

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

/* Loads -c FILE (or the default search) into a new config; NULL after printing errors. */
struct config *ctl_load_config(const char *path);
/* The config path relayctl and relayauditd use when none is given. */
const char *ctl_default_config_path(void);

/* Connects to cfg's database (see db_conninfo); NULL after logging why. */
struct pg_conn *ctl_db_connect(const struct config *cfg);
/* migrations/ of the build tree or the installed share dir; new string or NULL. */
char *ctl_migrations_dir(void);
/* The sink as the config describes it (ctl_sink.c), for relayctl sink and the daemon. */
struct ctl_sink_conf {
	struct sink_params p; /* domains point into the fields below */
	char **domains;
	size_t ndomains;
	struct addr addr;
	int port;
};
int ctl_sink_conf_init(struct ctl_sink_conf *sc, const struct config *cfg, const char **why);
void ctl_sink_conf_free(struct ctl_sink_conf *sc);
/* One receipt as a JSON object (jansson json_t). */
struct json_t *ctl_receipt_json(const struct sink_receipt *r);

#endif
