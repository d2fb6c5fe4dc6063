/*
 * The config as the daemon and relayctl both read it: where the file is,
 * loading it, and turning it into the parameters of the sink. One place, so
 * the daemon and `relayctl sink` / `relayctl probe --sink` cannot drift.
 */
#ifndef RELAYAUDIT_CONF_H
#define RELAYAUDIT_CONF_H

#include "common/addr.h"
#include "probe-engine/sink.h"

#include <stddef.h>

struct config;

/* The config path relayctl and relayauditd use when none is given; NULL if none exists. */
const char *conf_default_path(void);
/* Loads PATH (or the default search) into a new config; NULL after printing errors. */
struct config *conf_load(const char *path);

/* The sink as the config describes it. */
struct conf_sink {
	struct sink_params p; /* domains point into the fields below */
	char **domains;
	size_t ndomains;
	struct addr addr;
	int port;
	char *tls_cert, *tls_key; /* p.tls_cert/p.tls_key point here */
};
int conf_sink_init(struct conf_sink *sc, const struct config *cfg, const char **why);
void conf_sink_free(struct conf_sink *sc);

#endif
