/*
 * The config as the daemon and relayctl both read it: where the file is,
 * loading it, and turning it into the parameters of the probe engine and the
 * sink. One place, so the daemon and `relayctl probe` / `relayctl sink`
 * cannot drift.
 */
#ifndef RELAYAUDIT_CONF_H
#define RELAYAUDIT_CONF_H

#include "common/addr.h"
#include "probe-engine/probe.h"
#include "probe-engine/sink.h"

#include <stdbool.h>
#include <stddef.h>

struct config;

/* The config path relayctl and relayauditd use when none is given; NULL if none exists. */
const char *conf_default_path(void);
/* Loads PATH (or the default search) into a new config; NULL after printing errors. */
struct config *conf_load(const char *path);

/* The probe engine as the config describes it. */
struct conf_probe {
	struct probe_params p; /* strings point into the config or the fields below */
	char *helo;
	char **sink_domains;   /* p.sink_domain is the first: every relay test addresses it */
	int ports[16];
	int tls_ports[16];     /* probe_tls_ports: implicit TLS */
	struct cidr *exclude;
};
/*
 * The one mapping from config to engine parameters, for the daemon's probe
 * role and `relayctl probe`:
 *   - EHLO name: helo_name, else node_name, else the host name when it is
 *     fully qualified, else relayaudit.invalid (EHLO wants a domain);
 *   - sink domain: the first of sink_domain (the engine's default if empty);
 *   - secret: the config's (at least 16 characters, as the option table
 *     demands of every secret, command-line ones included); with none,
 *     need_secret fails, else a random key for this run (a one-shot probe);
 *   - exclude: extra (command-line) ranges, then the config's.
 * 0, or -1 with *why.
 */
int conf_probe_init(struct conf_probe *cp, const struct config *cfg, bool need_secret,
                    const struct cidr *extra, size_t nextra, const char **why);
void conf_probe_free(struct conf_probe *cp);

struct event_base;
struct evdns_base;
/*
 * The probe engine's reverse DNS resolver (probe_rdns): an evdns base of
 * its own on base, asking only dnsbl_nameservers, no search list, one try
 * of probe_rdns_timeout. NULL when probe_rdns is off, or with *why when it
 * is on and no nameserver is usable. Free with evdns_base_free(dns, 1).
 */
struct evdns_base *conf_rdns_new(struct event_base *base, const struct config *cfg,
                                 const char **why);

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
