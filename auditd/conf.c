/*
 * The config as the daemon and relayctl both read it: where the file is,
 * loading it, and the engine's and the sink's parameters built from it.
 */
#include "auditd/conf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/token.h"

#include <event2/dns.h>

#include <stdint.h>
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
conf_probe_init(struct conf_probe *cp, const struct config *cfg, bool need_secret,
                const struct cidr *extra, size_t nextra, const char **why)
{
	/* The option table's validator keeps a set secret at 16 characters or more. */
	const char *secret = *config_str(cfg, CFG_SECRET) != '\0' ? config_str(cfg, CFG_SECRET) : NULL;
	char **words;
	size_t n;

	memset(cp, 0, sizeof(*cp));
	probe_params_defaults(&cp->p);
	if (secret == NULL && need_secret) {
		*why = "the probe role needs a secret of at least 16 characters (the sink "
		       "verifies tokens with it)";
		return -1;
	}
	if (secret != NULL) {
		token_key_init(&cp->p.key, secret, strlen(secret));
	} else {
		uint8_t k[32];

		random_bytes(k, sizeof(k));
		token_key_init(&cp->p.key, k, sizeof(k));
	}
	if (*config_str(cfg, CFG_HELO_NAME) != '\0') {
		cp->helo = xstrdup(config_str(cfg, CFG_HELO_NAME));
	} else if (*config_str(cfg, CFG_NODE_NAME) != '\0') {
		cp->helo = xstrdup(config_str(cfg, CFG_NODE_NAME));
	} else {
		char hn[256];

		hn[sizeof(hn) - 1] = '\0';
		cp->helo = xstrdup(gethostname(hn, sizeof(hn) - 1) == 0 && strchr(hn, '.') != NULL
		                       ? hn
		                       : "relayaudit.invalid");
	}
	cp->p.helo_name = cp->helo;
	cp->sink_domains = config_list(cfg, CFG_SINK_DOMAIN, &n);
	if (n > 0)
		cp->p.sink_domain = cp->sink_domains[0];
	cp->p.outside_domain = config_str(cfg, CFG_OUTSIDE_DOMAIN);
	cp->p.contact = *config_str(cfg, CFG_CONTACT) ? config_str(cfg, CFG_CONTACT) : NULL;
	words = config_list(cfg, CFG_PROBE_PORTS, &n);
	for (size_t i = 0; i < n && cp->p.nports < sizeof(cp->ports) / sizeof(cp->ports[0]); i++) {
		int64_t port;

		if (parse_i64(words[i], 1, 65535, &port) == 0)
			cp->ports[cp->p.nports++] = (int)port;
	}
	config_list_free(words);
	cp->p.ports = cp->ports;
	words = config_list(cfg, CFG_PROBE_TLS_PORTS, &n);
	cp->p.ntls_ports = 0;
	for (size_t i = 0; i < n && cp->p.ntls_ports < ARRAY_LEN(cp->tls_ports); i++) {
		int64_t port;

		if (parse_i64(words[i], 1, 65535, &port) == 0)
			cp->tls_ports[cp->p.ntls_ports++] = (int)port;
	}
	config_list_free(words);
	cp->p.tls_ports = cp->tls_ports;
	words = config_list(cfg, CFG_EXCLUDE, &n);
	cp->exclude = xcalloc(nextra + n + 1, sizeof(*cp->exclude));
	for (size_t i = 0; i < nextra; i++)
		cp->exclude[cp->p.nexclude++] = extra[i];
	for (size_t i = 0; i < n; i++) {
		const char *bad = NULL;

		/* The option table validated them at load: a failure here is a bug, not input. */
		if (cidr_parse(words[i], &cp->exclude[cp->p.nexclude], &bad) == 0)
			cp->p.nexclude++;
		else
			log_error("exclude_skipped", "range=%s reason=\"%s\"", words[i], bad);
	}
	config_list_free(words);
	cp->p.exclude = cp->exclude;
	cp->p.concurrency = (int)config_int(cfg, CFG_PROBE_CONCURRENCY);
	cp->p.rate = (int)config_int(cfg, CFG_PROBE_RATE);
	cp->p.per_net = (int)config_int(cfg, CFG_PROBE_PER_NET);
	cp->p.threads = (int)config_int(cfg, CFG_PROBE_THREADS);
	cp->p.timeout_ms = (int)config_int(cfg, CFG_PROBE_TIMEOUT) * 1000;
	cp->p.deadline_ms = (int)config_int(cfg, CFG_PROBE_DEADLINE) * 1000;
	cp->p.greylist_wait_ms = (int)config_int(cfg, CFG_GREYLIST_WAIT) * 1000;
	cp->p.fd_reserve = (int)config_int(cfg, CFG_FD_RESERVE);
	cp->p.loopback_only |= config_loopback_only(cfg);
	return 0;
}

void
conf_probe_free(struct conf_probe *cp)
{
	free(cp->helo);
	config_list_free(cp->sink_domains);
	free(cp->exclude);
	memset(cp, 0, sizeof(*cp));
}

int
conf_sink_init(struct conf_sink *sc, const struct config *cfg, const char **why)
{
	const char *secret = config_str(cfg, CFG_SECRET);

	memset(sc, 0, sizeof(*sc));
	if (addr_port_parse(config_str(cfg, CFG_SINK_LISTEN), 25, &sc->addr, &sc->port) < 0) {
		*why = "bad sink_listen";
		return -1;
	}
	sc->domains = config_list(cfg, CFG_SINK_DOMAIN, &sc->ndomains);
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
	/* one listener per event loop, as many loops as the probe engine runs */
	sc->p.threads = probe_threads_count((int)config_int(cfg, CFG_PROBE_THREADS));
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
	config_list_free(sc->domains);
	sc->domains = NULL;
	free(sc->tls_cert);
	free(sc->tls_key);
	sc->tls_cert = sc->tls_key = NULL;
	sc->ndomains = 0;
}

struct evdns_base *
conf_rdns_new(struct event_base *base, const struct config *cfg, const char **why)
{
	struct evdns_base *dns;
	char timeout[24];
	char **servers;
	size_t n;

	if (!config_bool(cfg, CFG_PROBE_RDNS))
		return NULL;
	/* flags 0: no /etc/resolv.conf, nothing of the system resolver */
	dns = evdns_base_new(base, 0);
	if (dns == NULL) {
		*why = "evdns_base_new failed";
		return NULL;
	}
	str_fmt(timeout, sizeof(timeout), "%lld", (long long)config_int(cfg, CFG_PROBE_RDNS_TIMEOUT));
	evdns_base_set_option(dns, "timeout:", timeout);
	evdns_base_set_option(dns, "attempts:", "1");
	evdns_base_set_option(dns, "randomize-case:", "0");
	servers = config_list(cfg, CFG_DNSBL_NAMESERVERS, &n);
	for (size_t i = 0; i < n; i++) {
		if (evdns_base_nameserver_ip_add(dns, servers[i]) != 0)
			log_warn("rdns_nameserver", "nameserver=%s error=\"cannot use it\"", servers[i]);
	}
	config_list_free(servers);
	if (evdns_base_count_nameservers(dns) == 0) {
		evdns_base_free(dns, 0);
		*why = "probe_rdns is on but dnsbl_nameservers names no usable nameserver";
		return NULL;
	}
	return dns;
}
