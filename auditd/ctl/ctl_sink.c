/*
 * relayctl sink: run the sink alone (a split deployment's MX host, or a
 * manual check) and print each receipt as one JSON line. Also the helpers
 * relayctl probe --sink uses to run the same sink in its own process.
 */
#include "auditd/ctl/ctl.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/sink.h"

#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *
ctl_json_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
ctl_json_strings(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void
ctl_rfc3339(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

struct json_t *
ctl_receipt_json(const struct sink_receipt *r)
{
	json_t *o = json_object(), *tokens = json_array();
	char peer[ADDR_STRLEN], when[40];

	addr_format(&r->peer, peer, sizeof(peer));
	ctl_rfc3339(r->received_ms, when, sizeof(when));
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "received_at", json_string(when));
	json_object_set_new(o, "peer", json_string(peer));
	json_object_set_new(o, "peer_port", json_integer(r->peer_port));
	json_object_set_new(o, "helo", ctl_json_str(r->helo));
	json_object_set_new(o, "mail_from", ctl_json_str(r->mail_from));
	json_object_set_new(o, "rcpts", ctl_json_strings(r->rcpts, r->nrcpts));
	json_object_set_new(o, "subject", ctl_json_str(r->subject));
	json_object_set_new(o, "message_id", ctl_json_str(r->message_id));
	json_object_set_new(o, "received", ctl_json_strings(r->received, r->nreceived));
	json_object_set_new(o, "bounce", json_boolean(r->bounce));
	if (r->dsn) {
		json_t *d = json_object();
		json_object_set_new(d, "action", ctl_json_str(r->dsn_action));
		json_object_set_new(d, "status", ctl_json_str(r->dsn_status));
		json_object_set_new(d, "original_recipient", ctl_json_str(r->dsn_original_rcpt));
		json_object_set_new(d, "final_recipient", ctl_json_str(r->dsn_final_rcpt));
		json_object_set_new(o, "dsn", d);
	} else {
		json_object_set_new(o, "dsn", json_null());
	}
	for (size_t i = 0; i < r->ntokens; i++) {
		const struct sink_token *t = &r->tokens[i];
		json_t *jt = json_object(), *where = json_array();

		for (unsigned bit = 1; bit <= SINK_WHERE__LAST; bit <<= 1) {
			if (t->where & bit)
				json_array_append_new(where, json_string(sink_where_name(bit)));
		}
		json_object_set_new(jt, "token", json_string(t->token));
		json_object_set_new(jt, "probe_id", json_integer((json_int_t)t->probe_id));
		json_object_set_new(jt, "attempt", json_integer(t->attempt));
		json_object_set_new(jt, "where", where);
		json_array_append_new(tokens, jt);
	}
	json_object_set_new(o, "tokens", tokens);
	json_object_set_new(o, "forged", json_integer(r->forged));
	json_object_set_new(o, "size", json_integer((json_int_t)r->size));
	json_object_set_new(o, "excerpt", ctl_json_str(r->excerpt));
	json_object_set_new(o, "excerpt_truncated", json_boolean(r->excerpt_truncated));
	return o;
}

struct ctl_sink_run {
	struct event_base *base;
	long count, seen;
};

static void
ctl_sink_receipt(struct sink_receipt *r, void *arg)
{
	struct ctl_sink_run *run = arg;
	json_t *o = ctl_receipt_json(r);
	char *line = json_dumps(o, JSON_COMPACT);

	printf("%s\n", line);
	fflush(stdout);
	free(line);
	json_decref(o);
	sink_receipt_free(r);
	/* A moment's grace so the last replies reach the peer before we exit. */
	if (run->count > 0 && ++run->seen >= run->count) {
		struct timeval grace = {0, 300000};
		event_base_loopexit(run->base, &grace);
	}
}

static void
ctl_sink_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

static int
ctl_sink_usage(FILE *out)
{
	fprintf(out,
	        "usage: relayctl sink [-c FILE] [--listen ADDR:PORT] [--sink-domain DOMAIN]...\n"
	        "                     [--secret SECRET] [--count N] [--max-time SECS]\n"
	        "                     [--tls-cert PEM --tls-key PEM]\n"
	        "Runs the sink alone and prints each received message as a JSON line.\n"
	        "  --tls-cert/--tls-key  offer STARTTLS with this pair (sink_tls_cert/_key)\n"
	        "  --count N       exit after N messages\n"
	        "  --max-time SECS exit after SECS seconds\n");
	return out == stdout ? 0 : 2;
}

int
ctl_sink(int argc, char **argv)
{
	const char *path = NULL, *why = NULL;
	struct config *cfg;
	struct conf_sink sc;
	struct ctl_sink_run run = {0};
	struct sink *s;
	struct event *sigint, *sigterm;
	int64_t max_time = 0, count = 0;
	char *domains = NULL;
	int rc = 0;

	if (ctl_help_wanted(argc, argv))
		return ctl_sink_usage(stdout);

	/* -c first, so command-line options override the file whatever their order. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
	}
	cfg = conf_load(path);
	if (cfg == NULL)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL, *err = NULL;

		if (val == NULL) {
			config_free(cfg);
			free(domains);
			return ctl_sink_usage(stderr);
		}
		i++;
		if (strcmp(opt, "-c") == 0)
			continue;
		else if (strcmp(opt, "--listen") == 0)
			err = config_set(cfg, "sink_listen", val);
		else if (strcmp(opt, "--secret") == 0)
			err = config_set(cfg, "secret", val);
		else if (strcmp(opt, "--tls-cert") == 0)
			err = config_set(cfg, "sink_tls_cert", val);
		else if (strcmp(opt, "--tls-key") == 0)
			err = config_set(cfg, "sink_tls_key", val);
		else if (strcmp(opt, "--sink-domain") == 0) {
			char *d = domains ? xasprintf("%s,%s", domains, val) : xstrdup(val);
			free(domains);
			domains = d;
		} else if (strcmp(opt, "--count") == 0)
			err = parse_i64(val, 1, 1000000, &count) < 0 ? "want 1..1000000" : NULL;
		else if (strcmp(opt, "--max-time") == 0)
			err = parse_i64(val, 1, 86400 * 365, &max_time) < 0 ? "want seconds" : NULL;
		else {
			config_free(cfg);
			free(domains);
			return ctl_sink_usage(stderr);
		}
		if (err != NULL) {
			fprintf(stderr, "relayctl sink: %s %s: %s\n", opt, val, err);
			config_free(cfg);
			free(domains);
			return 2;
		}
	}
	if (domains != NULL) {
		const char *err = config_set(cfg, "sink_domain", domains);
		free(domains);
		if (err != NULL) {
			fprintf(stderr, "relayctl sink: --sink-domain: %s\n", err);
			config_free(cfg);
			return 2;
		}
	}
	if (config_str(cfg, CFG_SECRET)[0] == '\0') {
		fprintf(stderr, "relayctl sink: no secret (set secret in the config or --secret); "
		                "without it no token can be verified\n");
		config_free(cfg);
		return 2;
	}
	if (conf_sink_init(&sc, cfg, &why) < 0) {
		fprintf(stderr, "relayctl sink: %s\n", why);
		config_free(cfg);
		return 2;
	}
	config_free(cfg);
	run.base = event_base_new();
	run.count = (long)count;
	s = sink_new(run.base, &sc.p, &sc.addr, sc.port, ctl_sink_receipt, &run, &why);
	if (s == NULL) {
		char a[ADDR_STRLEN];
		addr_format(&sc.addr, a, sizeof(a));
		fprintf(stderr, "relayctl sink: cannot listen on %s port %d: %s\n", a, sc.port,
		        why);
		conf_sink_free(&sc);
		event_base_free(run.base);
		return 1;
	}
	{
		char a[ADDR_STRLEN];
		addr_format(&sc.addr, a, sizeof(a));
		log_info("sink_listening", "addr=%s port=%d domains=%zu", a, sink_port(s),
		         sc.ndomains);
	}
	sigint = evsignal_new(run.base, SIGINT, ctl_sink_signal, run.base);
	sigterm = evsignal_new(run.base, SIGTERM, ctl_sink_signal, run.base);
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	if (max_time > 0) {
		struct timeval tv = {(time_t)max_time, 0};
		event_base_loopexit(run.base, &tv);
	}
	if (event_base_dispatch(run.base) < 0)
		rc = 1;
	sink_free(s);
	event_free(sigint);
	event_free(sigterm);
	event_base_free(run.base);
	conf_sink_free(&sc);
	return rc;
}
