/*
 * The config as the daemon and relayctl both read it: where the file is,
 * loading it, and the sink's parameters built from it.
 */
#include "auditd/conf.h"
#include "common/config.h"
#include "common/util.h"
#include "probe-engine/token.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *
conf_default_path(void)
{
	static const char *const candidates[] = {"relayaudit.conf", "var/relayaudit.conf",
						 "/etc/relayaudit/relayaudit.conf"};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	}
	return NULL;
}

struct config *
conf_load(const char *path)
{
	struct config *cfg = config_new();

	if (path == NULL)
		path = conf_default_path();
	if (path != NULL && config_load(cfg, path, NULL, NULL) != 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

int
conf_sink_init(struct conf_sink *sc, const struct config *cfg, const char **why)
{
	const char *list = config_str(cfg, CFG_SINK_DOMAIN), *secret = config_str(cfg, CFG_SECRET);
	char *copy, *save = NULL;

	memset(sc, 0, sizeof(*sc));
	if (addr_port_parse(config_str(cfg, CFG_SINK_LISTEN), 25, &sc->addr, &sc->port) < 0) {
		*why = "bad sink_listen";
		return -1;
	}
	copy = xstrdup(list);
	sc->domains = xcalloc(strlen(list) / 2 + 2, sizeof(char *));
	for (char *d = strtok_r(copy, ", ", &save); d != NULL; d = strtok_r(NULL, ", ", &save))
		sc->domains[sc->ndomains++] = xstrdup(d);
	free(copy);
	if (sc->ndomains == 0) {
		*why = "no sink_domain configured";
		conf_sink_free(sc);
		return -1;
	}
	sink_params_defaults(&sc->p);
	token_key_init(&sc->p.key, secret, strlen(secret));
	sc->p.domains = (const char *const *)sc->domains;
	sc->p.ndomains = sc->ndomains;
	sc->p.max_message = (size_t)config_int(cfg, CFG_SINK_MAX_MESSAGE);
	sc->p.max_rcpts = (int)config_int(cfg, CFG_SINK_MAX_RCPTS);
	sc->p.max_sessions = (int)config_int(cfg, CFG_SINK_MAX_SESSIONS);
	sc->p.per_peer = (int)config_int(cfg, CFG_SINK_PER_PEER);
	sc->p.timeout_ms = (int)config_int(cfg, CFG_SINK_TIMEOUT) * 1000;
	sc->tls_cert = xstrdup(config_str(cfg, CFG_SINK_TLS_CERT));
	sc->tls_key = xstrdup(config_str(cfg, CFG_SINK_TLS_KEY));
	sc->p.tls_cert = sc->tls_cert;
	sc->p.tls_key = sc->tls_key;
	return 0;
}

void
conf_sink_free(struct conf_sink *sc)
{
	for (size_t i = 0; i < sc->ndomains; i++)
		free(sc->domains[i]);
	free(sc->domains);
	sc->domains = NULL;
	free(sc->tls_cert);
	free(sc->tls_key);
	sc->tls_cert = sc->tls_key = NULL;
	sc->ndomains = 0;
}
