/*
 * relayctl probe: the one-shot relay test, no database. Targets come from
 * the command line or --file; results are held in a list and printed at the
 * end by ctl_probe_print(), so a later stage (a sink confirmation wait) can
 * amend them before anything is shown.
 */
#include "auditd/ctl/ctl.h"
#include "auditd/conf.h"
#include "auditd/probe_json.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/confirm.h"
#include "probe-engine/domains.h"
#include "probe-engine/probe.h"
#include "probe-engine/sink.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define CTL_PROBE_MAX_TARGETS 1000000
#define CTL_PROBE_MAX_EXCLUDE 1024
#define CTL_PROBE_MAX_DOMAINS 16

struct ctl_target {
	struct addr addr;
	int port;
	char *name;
	size_t order;
};

struct ctl_probe {
	bool json, transcript, stats, show_tokens;
	struct ctl_target *targets;
	size_t ntargets, tcap;
	/*
	 * Results by target order. Without hold each is printed the moment it
	 * arrives (completion order: a slow early target must not make thousands
	 * of finished results wait in memory); with hold (a later confirmation
	 * stage) all wait for ctl_probe_print(), which prints in target order.
	 */
	struct probe_result **results;
	size_t nresults, nslots, next_print;
	bool hold;
	size_t counts[VERDICT__COUNT];
	bool found;
	struct cidr exclude[CTL_PROBE_MAX_EXCLUDE];
	size_t nexclude;
	int ports[16];
	size_t nports;
	int tls_ports[16]; /* implicit TLS: --tls-port, else probe_tls_ports */
	size_t ntls_ports;
	struct confirm *confirm; /* --sink: results wait here for the sink's receipts */
	const char *domains[CTL_PROBE_MAX_DOMAINS]; /* --domain: the customer's domains on record */
	size_t ndomains;
};

static int
ctl_probe_usage(const char *why)
{
	/* Asked for (no reason): stdout, as --help promises; after a mistake: stderr. */
	FILE *out = why ? stderr : stdout;

	if (why && *why)
		fprintf(stderr, "relayctl probe: %s\n", why);
	fprintf(out,
		"usage: relayctl probe [options] HOST[:PORT]... | --file FILE|-\n"
		"  --port N            port when a target names none (default: probe_ports)\n"
		"  --tls-port N        a port that speaks TLS at once, like 465 (repeatable;\n"
		"                      default: probe_tls_ports)\n"
		"  --concurrency N     probes in flight\n"
		"  --rate N            new connections per second, 0 = unlimited\n"
		"  --per-net N         concurrent probes per /24 or /64, 0 = unlimited\n"
		"  --threads N         event loops (threads), 0 = one per core (probe_threads);\n"
		"                      with --sink always 1\n"
		"  --timeout DUR       one connect or reply (30s, 500ms, ...)\n"
		"  --deadline DUR      whole probe of one target\n"
		"  --greylist-wait DUR delay before a 4xx attempt is retried\n"
		"  --helo NAME         our EHLO name\n"
		"  --exclude CIDR      never probe this range (repeatable)\n"
		"  --sink-domain D     the domain every relay test addresses\n"
		"  --domain D          a mail domain of the customer on record (repeatable, up to 16):\n"
		"                      forged as a sender (spoof-domain) and tested for backscatter\n"
		"  --sink ADDR:PORT    run the sink here too, so delivery proves a relay\n"
		"  --sink-tls-cert PEM, --sink-tls-key PEM\n"
		"                      with --sink: offer STARTTLS (sink_tls_cert/_key)\n"
		"  --wait DUR          with --sink: how long after each probe to wait for\n"
		"                      its test messages (default: confirm_window)\n"
		"  --secret S          token key (default: config secret, else random)\n"
		"  --no-backscatter    skip the backscatter attempt\n"
		"  --json              one JSON object per target per line\n"
		"  --transcript        include the transcript in --json output\n"
		"  --show-tokens       whole tokens in --json output (else their first 16: no MAC)\n"
		"  --stats             print throughput, peak in-flight and peak RSS to stderr,\n"
		"                      and one line per event loop (thread)\n"
		"  -c FILE             config file\n"
		"exit status: 0 no relay found, 1 relay found, 2 bad usage\n");
	return 2;
}

/* "90", "90s", "2m", "500ms" -> milliseconds. */
static int
ctl_parse_ms(const char *s, int64_t *ms)
{
	size_t n = strlen(s);
	int64_t v;

	if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
		char buf[32];

		if (n - 2 >= sizeof(buf))
			return -1;
		memcpy(buf, s, n - 2);
		buf[n - 2] = '\0';
		if (parse_i64(buf, 0, INT32_MAX, &v) < 0)
			return -1;
		*ms = v;
		return 0;
	}
	if (parse_duration(s, &v) < 0 || v > INT32_MAX / 1000)
		return -1;
	*ms = v * 1000;
	return 0;
}

static bool
ctl_looks_like_name(const char *s)
{
	bool alpha = false;

	for (const char *p = s; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return false;
		alpha |= isalpha((unsigned char)*p) != 0;
	}
	return alpha && *s != '\0';
}

/* HOST[:PORT]: address literals directly, names resolved here, before the loop runs. */
static int
ctl_target_parse(const char *spec, int default_port, struct ctl_target *t, const char **why)
{
	char host[256];
	const char *colon;
	int64_t port = default_port;

	memset(t, 0, sizeof(*t));
	/* A bare address takes the default port (0: each of the probe ports). */
	if (addr_parse(spec, &t->addr) == 0) {
		t->port = default_port;
		return 0;
	}
	if (addr_port_parse(spec, default_port, &t->addr, &t->port) == 0)
		return 0;
	colon = strrchr(spec, ':');
	if (colon && strchr(spec, ':') == colon) {
		if (parse_i64(colon + 1, 1, 65535, &port) < 0) {
			*why = "bad port";
			return -1;
		}
		if ((size_t)(colon - spec) >= sizeof(host)) {
			*why = "host name too long";
			return -1;
		}
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
	} else if (str_fmt(host, sizeof(host), "%s", spec) < 0) {
		*why = "host name too long";
		return -1;
	}
	if (!ctl_looks_like_name(host)) {
		*why = "not an address or host name";
		return -1;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
		*why = "host name does not resolve";
		return -1;
	}
	int rc = addr_from_sockaddr(res->ai_addr, &t->addr, NULL);
	freeaddrinfo(res);
	if (rc < 0) {
		*why = "host name does not resolve to an address";
		return -1;
	}
	t->port = (int)port;
	t->name = xstrdup(host);
	return 0;
}

static int
ctl_probe_add(struct ctl_probe *c, const char *spec, int default_port)
{
	const char *why = NULL;
	struct ctl_target t;

	if (c->ntargets >= CTL_PROBE_MAX_TARGETS) {
		fprintf(stderr, "relayctl probe: more than %d targets\n", CTL_PROBE_MAX_TARGETS);
		return -1;
	}
	if (ctl_target_parse(spec, default_port, &t, &why) < 0) {
		fprintf(stderr, "relayctl probe: %s: %s\n", spec, why);
		return -1;
	}
	if (c->ntargets == c->tcap) {
		c->tcap = c->tcap ? c->tcap * 2 : 64;
		c->targets = xrealloc(c->targets, c->tcap * sizeof(*c->targets));
	}
	t.order = c->ntargets;
	c->targets[c->ntargets++] = t;
	return 0;
}

static int
ctl_probe_read_file(struct ctl_probe *c, const char *path, int default_port)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char line[512];
	int rc = 0;

	if (f == NULL) {
		fprintf(stderr, "relayctl probe: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *s = line, *e;

		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		rc = ctl_probe_add(c, s, default_port);
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

/* --sink: a receipt upgrades held results, and results already handed back too. */
static void
ctl_probe_receipt(struct sink_receipt *r, void *arg)
{
	struct ctl_probe *c = arg;

	confirm_receipt(c->confirm, r);
	for (size_t i = 0; i < c->nslots; i++) {
		if (c->results[i] != NULL)
			confirm_apply(c->results[i], r, NULL);
	}
	sink_receipt_free(r);
}

static bool
ctl_relay_found(enum probe_verdict v)
{
	return v == VERDICT_ACCEPTED || v == VERDICT_ACCEPTED_NOT_RELAYED ||
	       v == VERDICT_RELAY_CONFIRMED;
}

static void
ctl_probe_print_human(const struct probe_result *r)
{
	char ip[ADDR_STRLEN];
	size_t ran = 0;

	addr_format(&r->addr, ip, sizeof(ip));
	for (size_t i = 0; i < r->nattempts; i++)
		ran += r->attempts[i].outcome != OUTCOME_NOT_RUN &&
		       r->attempts[i].outcome != OUTCOME_SKIPPED;
	printf("%s%s%s port %d: %s", r->addr.family == AF_INET6 ? "[" : "", ip,
	       r->addr.family == AF_INET6 ? "]" : "", r->port, verdict_name(r->verdict));
	if (r->trick)
		printf(" via %s", r->trick);
	if (r->verdict == VERDICT_RELAY_CONFIRMED)
		printf(" (delivered to the sink %lld ms after the probe)",
		       (long long)r->relay_delay_ms);
	printf(" (%s)\n", r->reason ? r->reason : "");
	printf("  backscatter %s, %zu attempts over %d connection%s in %lld ms\n",
	       backscatter_name(r->backscatter), ran, r->connections,
	       r->connections == 1 ? "" : "s", (long long)r->duration_ms);
	if (r->banner)
		printf("  banner: %s\n", r->banner);
}

/* Prints one result and frees it. */
static void
ctl_probe_emit(struct ctl_probe *c, struct probe_result *r)
{
	c->counts[r->verdict]++;
	c->found |= ctl_relay_found(r->verdict);
	if (c->json) {
		json_t *o = probe_json_result(r, c->transcript, c->show_tokens);
		char *s = json_dumps(o, JSON_COMPACT);

		puts(s);
		free(s);
		json_decref(o);
	} else {
		ctl_probe_print_human(r);
	}
	probe_result_free(r);
}

/* Prints the held results in target order. */
static void
ctl_probe_flush(struct ctl_probe *c)
{
	while (c->next_print < c->nslots) {
		struct probe_result *r = c->results[c->next_print];

		c->results[c->next_print++] = NULL;
		if (r)
			ctl_probe_emit(c, r);
	}
}

static void
ctl_probe_store(struct probe_result *res, void *arg)
{
	struct ctl_probe *c = arg;
	size_t order = (size_t)(uintptr_t)res->user;

	if (!c->transcript) {
		/* not printed: do not hold it */
		free(res->transcript);
		res->transcript = NULL;
		res->transcript_len = 0;
	}
	c->nresults++;
	if (!c->hold) {
		ctl_probe_emit(c, res);
		return;
	}
	c->results[order] = res;
}

static void
ctl_probe_done(struct probe_result *res, void *arg)
{
	struct ctl_probe *c = arg;

	if (c->confirm != NULL)
		confirm_add(c->confirm, res); /* comes back through ctl_probe_store */
	else
		ctl_probe_store(res, arg);
}

/* Prints every result not yet printed, in target order, and the summary; the exit status. */
static int
ctl_probe_print(struct ctl_probe *c)
{
	ctl_probe_flush(c);
	if (!c->json) {
		printf("%zu probe%s:", c->nresults, c->nresults == 1 ? "" : "s");
		for (int v = 0; v < VERDICT__COUNT; v++) {
			if (c->counts[v])
				printf(" %zu %s", c->counts[v], verdict_name((enum probe_verdict)v));
		}
		printf("\n");
	}
	fflush(stdout);
	return c->found ? 1 : 0;
}

/* One key=value line on stderr for benchmarks. */
static void
ctl_probe_print_stats(const struct probe_engine *e, int64_t t0)
{
	struct probe_stats st;
	struct rusage ru;
	double secs = (double)(now_mono_ms() - t0) / 1000.0;

	/* one line per event loop first: the totals stay the last line */
	for (size_t i = 0; i < probe_engine_threads(e); i++) {
		probe_engine_thread_stats(e, i, &st);
		fprintf(stderr, "stats_thread thread=%zu threads=%d targets=%zu attempts=%llu connects=%llu "
			"peak_in_flight=%zu\n", i, st.threads, st.done,
			(unsigned long long)st.attempts, (unsigned long long)st.connects,
			st.peak_in_flight);
	}
	probe_engine_stats(e, &st);
	getrusage(RUSAGE_SELF, &ru);
	if (secs <= 0)
		secs = 0.001;
	fprintf(stderr,
		"stats targets=%zu attempts=%llu connects=%llu peak_in_flight=%zu fd_budget=%d "
		"elapsed_s=%.2f targets_per_s=%.1f attempts_per_s=%.1f peak_rss_kb=%ld\n",
		st.done, (unsigned long long)st.attempts, (unsigned long long)st.connects,
		st.peak_in_flight, st.fd_budget, secs, (double)st.done / secs,
		(double)st.attempts / secs, ru.ru_maxrss);
}

/* Options that take a value; the value is checked where it is used. */
static const char *const ctl_probe_valued[] = {
	"--port",    "--concurrency",   "--rate",   "--per-net",     "--timeout", "--deadline",
	"--helo",    "--greylist-wait", "--threads", "--exclude", "--sink-domain", "--secret", "--file",
	"-c",        "--sink",          "--wait",     "--tls-port",  "--sink-tls-cert",
	"--sink-tls-key", "--domain",
};

static bool
ctl_probe_takes_value(const char *opt)
{
	for (size_t i = 0; i < ARRAY_LEN(ctl_probe_valued); i++) {
		if (strcmp(opt, ctl_probe_valued[i]) == 0)
			return true;
	}
	return false;
}

/*
 * The engine options relayctl probe takes on its command line: each is a
 * config option, so its range comes from the option table (durations may be
 * given in ms here, checked against the table's range in seconds).
 */
static const struct {
	const char *flag;
	enum config_key key;
	size_t field; /* an int in struct probe_params (ms for durations) */
} ctl_probe_params[] = {
    {"--concurrency", CFG_PROBE_CONCURRENCY, offsetof(struct probe_params, concurrency)},
    {"--rate", CFG_PROBE_RATE, offsetof(struct probe_params, rate)},
    {"--per-net", CFG_PROBE_PER_NET, offsetof(struct probe_params, per_net)},
    {"--threads", CFG_PROBE_THREADS, offsetof(struct probe_params, threads)},
    {"--timeout", CFG_PROBE_TIMEOUT, offsetof(struct probe_params, timeout_ms)},
    {"--deadline", CFG_PROBE_DEADLINE, offsetof(struct probe_params, deadline_ms)},
    {"--greylist-wait", CFG_GREYLIST_WAIT, offsetof(struct probe_params, greylist_wait_ms)},
};

/* The command-line options that set a config option as it is (validated by the table). */
static const struct {
	const char *flag, *option;
} ctl_probe_config_opts[] = {
    {"--helo", "helo_name"},
    {"--sink-domain", "sink_domain"},
    {"--secret", "secret"},
};

/* v for ctl_probe_params[i], range-checked against the option table; 0 or -1 (printed). */
static int
ctl_probe_param_value(size_t i, const char *v, int *out)
{
	const struct config_option *o = config_option_of(ctl_probe_params[i].key);
	const char *name = ctl_probe_params[i].flag;
	int64_t n;

	if (o->type == CFGT_DURATION) {
		if (ctl_parse_ms(v, &n) < 0 || n < o->min * 1000 || n > o->max * 1000) {
			fprintf(stderr,
				"relayctl probe: %s: '%s' is not a duration in %llds..%llds (%s)\n",
				name, v, (long long)o->min, (long long)o->max, o->name);
			return -1;
		}
	} else if (parse_i64(v, o->min, o->max, &n) < 0) {
		fprintf(stderr, "relayctl probe: %s: '%s' is not a number in %lld..%lld (%s)\n", name,
			v, (long long)o->min, (long long)o->max, o->name);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int
ctl_probe(int argc, char **argv)
{
	struct ctl_probe c = {0};
	struct probe_params p;
	const char *cfgpath = NULL, *sink = NULL, *cwhy = NULL;
	struct conf_probe cp;
	bool have_cp = false;
	int pvalue[ARRAY_LEN(ctl_probe_params)] = {0};
	bool pset[ARRAY_LEN(ctl_probe_params)] = {0};
	const char *files[16];
	size_t nfiles = 0;
	int port = 0, status = 2;
	bool no_backscatter = false;
	struct config *cfg;
	const char *positional[256];
	size_t npos = 0;
	const char *sink_listen = NULL;
	int wait_ms = -1;
	struct sink *sinksrv = NULL;
	struct evdns_base *rdns = NULL;
	char **posv = NULL;

	/* pass 1: find -c so the config is loaded before options override it */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cfgpath = argv[i + 1];
		else if (ctl_probe_takes_value(argv[i]))
			i++;
	}
	cfg = conf_load(cfgpath);
	if (cfg == NULL)
		return 2;
	posv = xcalloc((size_t)argc, sizeof(char *));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;

		if (a[0] == '-' && a[1] != '\0' && ctl_probe_takes_value(a)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "relayctl probe: %s needs a value\n", a);
				goto out;
			}
			v = argv[++i];
		}
		for (size_t k = 0; k < ARRAY_LEN(ctl_probe_params); k++) {
			if (strcmp(a, ctl_probe_params[k].flag) == 0) {
				if (ctl_probe_param_value(k, v, &pvalue[k]) < 0)
					goto out;
				pset[k] = true;
				a = NULL;
				break;
			}
		}
		for (size_t k = 0; a != NULL && k < ARRAY_LEN(ctl_probe_config_opts); k++) {
			if (strcmp(a, ctl_probe_config_opts[k].flag) == 0) {
				const char *bad = config_set(cfg, ctl_probe_config_opts[k].option, v);

				if (bad != NULL) {
					fprintf(stderr, "relayctl probe: %s: %s\n", a, bad);
					goto out;
				}
				a = NULL;
			}
		}
		if (a == NULL) {
			/* an engine or config option, taken above */
		} else if (strcmp(a, "--json") == 0) {
			c.json = true;
		} else if (strcmp(a, "--stats") == 0) {
			c.stats = true;
		} else if (strcmp(a, "--transcript") == 0) {
			c.transcript = true;
		} else if (strcmp(a, "--show-tokens") == 0) {
			c.show_tokens = true;
		} else if (strcmp(a, "--no-backscatter") == 0) {
			no_backscatter = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			ctl_probe_usage(NULL);
			status = 0;
			goto out;
		} else if (strcmp(a, "--port") == 0) {
			int64_t n;

			if (parse_i64(v, 1, 65535, &n) < 0) {
				fprintf(stderr, "relayctl probe: %s: '%s' is not a port\n", a, v);
				goto out;
			}
			port = (int)n;
		} else if (strcmp(a, "--tls-port") == 0) {
			int64_t n;

			if (parse_i64(v, 1, 65535, &n) < 0) {
				fprintf(stderr, "relayctl probe: %s: '%s' is not a port\n", a, v);
				goto out;
			}
			if (c.ntls_ports < ARRAY_LEN(c.tls_ports))
				c.tls_ports[c.ntls_ports++] = (int)n;
		} else if (strcmp(a, "--sink-tls-cert") == 0 || strcmp(a, "--sink-tls-key") == 0) {
			const char *err = config_set(cfg, a[11] == 'c' ? "sink_tls_cert" : "sink_tls_key", v);

			if (err != NULL) {
				fprintf(stderr, "relayctl probe: %s: %s\n", a, err);
				goto out;
			}
		} else if (strcmp(a, "--sink") == 0) {
			sink_listen = v;
		} else if (strcmp(a, "--wait") == 0) {
			int64_t ms;

			if (ctl_parse_ms(v, &ms) < 0) {
				fprintf(stderr, "relayctl probe: %s: '%s' is not a duration\n", a, v);
				goto out;
			}
			wait_ms = (int)ms;
		} else if (strcmp(a, "-c") == 0) {
			/* loaded above */
		} else if (strcmp(a, "--file") == 0) {
			if (nfiles == ARRAY_LEN(files)) {
				fprintf(stderr, "relayctl probe: too many --file options\n");
				goto out;
			}
			files[nfiles++] = v;
		} else if (strcmp(a, "--domain") == 0) {
			char normal[MAIL_DOMAIN_MAX + 1];
			const char *why = NULL;

			if (mail_domain_normal(v, normal, &why) < 0) {
				fprintf(stderr, "relayctl probe: --domain '%s' is not a domain name: %s\n", v, why);
				goto out;
			}
			if (c.ndomains == CTL_PROBE_MAX_DOMAINS) {
				fprintf(stderr, "relayctl probe: at most %d --domain options\n",
					CTL_PROBE_MAX_DOMAINS);
				goto out;
			}
			c.domains[c.ndomains++] = v;
		} else if (strcmp(a, "--exclude") == 0) {
			const char *why = NULL;

			if (c.nexclude == CTL_PROBE_MAX_EXCLUDE ||
			    cidr_parse(v, &c.exclude[c.nexclude], &why) < 0) {
				fprintf(stderr, "relayctl probe: --exclude %s: %s\n", v,
					why ? why : "too many");
				goto out;
			}
			c.nexclude++;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "relayctl probe: unknown option '%s'\n", a);
			ctl_probe_usage("");
			goto out;
		} else {
			if (npos == ARRAY_LEN(positional)) {
				fprintf(stderr, "relayctl probe: too many targets; use --file\n");
				goto out;
			}
			positional[npos++] = a;
		}
	}

	for (size_t i = 0; i < npos; i++) {
		if (ctl_probe_add(&c, positional[i], 0) < 0)
			goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		if (ctl_probe_read_file(&c, files[i], 0) < 0)
			goto out;
	}
	if (c.ntargets == 0) {
		ctl_probe_usage("no targets");
		goto out;
	}
	if (wait_ms >= 0 && sink_listen == NULL) {
		ctl_probe_usage("--wait needs --sink");
		goto out;
	}
	/* The engine's parameters as the daemon builds them, then the command line's. */
	if (conf_probe_init(&cp, cfg, false, c.exclude, c.nexclude, &cwhy) < 0) {
		fprintf(stderr, "relayctl probe: %s\n", cwhy);
		goto out;
	}
	have_cp = true;
	p = cp.p;
	for (size_t k = 0; k < ARRAY_LEN(ctl_probe_params); k++) {
		if (pset[k])
			*(int *)((char *)&p + ctl_probe_params[k].field) = pvalue[k];
	}
	p.test_backscatter = !no_backscatter;
	/*
	 * --sink: one loop for the engine and the sink. Receipts are matched
	 * against results already handed back, and on one loop a probe's result
	 * is handed back before any message it caused can arrive; across loops
	 * a receipt could overtake its result and be lost.
	 */
	if (sink_listen != NULL)
		p.threads = 1;
	/* ports: --port, else the config's probe_ports */
	if (port) {
		c.ports[c.nports++] = port;
	} else {
		for (size_t k = 0; k < cp.p.nports && c.nports < ARRAY_LEN(c.ports); k++)
			c.ports[c.nports++] = cp.p.ports[k];
	}
	p.ports = c.ports;
	p.nports = c.nports;
	/* implicit-TLS ports: --tls-port, else the config's probe_tls_ports */
	if (c.ntls_ports == 0) {
		for (size_t k = 0; k < cp.p.ntls_ports && c.ntls_ports < ARRAY_LEN(c.tls_ports); k++)
			c.tls_ports[c.ntls_ports++] = cp.p.tls_ports[k];
	}
	p.tls_ports = c.tls_ports;
	p.ntls_ports = c.ntls_ports;
	sink = p.sink_domain;

	struct event_base *base = event_base_new();
	struct probe_engine *e;

	if (base == NULL)
		fatal("event_base_new failed");
	int64_t t0 = now_mono_ms();

	c.nslots = c.ntargets * c.nports;
	c.results = xcalloc(c.nslots, sizeof(*c.results));
	if (sink_listen != NULL) {
		struct sink_params sp;
		struct addr sa;
		int sport;
		const char *why = NULL;
		const char *const sdomains[1] = {sink};

		if (addr_port_parse(sink_listen, 25, &sa, &sport) < 0) {
			ctl_probe_usage("--sink wants ADDR:PORT");
			event_base_free(base);
			goto out;
		}
		sink_params_defaults(&sp);
		sp.key = p.key;
		sp.domains = sdomains;
		sp.ndomains = 1;
		sp.max_message = (size_t)config_int(cfg, CFG_SINK_MAX_MESSAGE);
		sp.max_rcpts = (int)config_int(cfg, CFG_SINK_MAX_RCPTS);
		sp.max_sessions = (int)config_int(cfg, CFG_SINK_MAX_SESSIONS);
		sp.per_peer = (int)config_int(cfg, CFG_SINK_PER_PEER);
		sp.threads = 1; /* see above: with --sink everything runs on this loop */
		sp.timeout_ms = (int)config_int(cfg, CFG_SINK_TIMEOUT) * 1000;
		sp.tls_cert = config_str(cfg, CFG_SINK_TLS_CERT);
		sp.tls_key = config_str(cfg, CFG_SINK_TLS_KEY);
		sinksrv = sink_new(base, &sp, &sa, sport, ctl_probe_receipt, &c, &why);
		if (sinksrv == NULL) {
			fprintf(stderr, "relayctl probe: --sink %s: %s\n", sink_listen, why);
			event_base_free(base);
			goto out;
		}
		if (wait_ms < 0)
			wait_ms = (int)config_int(cfg, CFG_CONFIRM_WINDOW) * 1000;
		c.confirm = confirm_new(base, wait_ms, ctl_probe_store, &c);
		/* a late receipt may still upgrade a handed-back result: print at the end */
		c.hold = true;
	}
	{
		const char *why = NULL;

		rdns = conf_rdns_new(base, cfg, &why);
		if (rdns == NULL && why != NULL) {
			fprintf(stderr, "relayctl probe: %s\n", why);
			confirm_free(c.confirm);
			sink_free(sinksrv);
			event_base_free(base);
			goto out;
		}
		p.rdns = rdns;
	}
	e = probe_engine_new(base, &p, ctl_probe_done, &c);
	for (size_t i = 0; i < c.ntargets; i++) {
		struct ctl_target *t = &c.targets[i];
		const char *why = NULL;

		for (size_t k = 0; k < c.nports; k++) {
			int tp = t->port ? t->port : c.ports[k];
			struct probe_target pt = {.addr = t->addr, .port = tp, .name = t->name,
						  .domains = c.domains, .ndomains = c.ndomains,
						  .user = (void *)(uintptr_t)(i * c.nports + k)};

			if (t->port && k > 0)
				break;
			if (probe_engine_submit(e, &pt, &why) < 0) {
				char ip[ADDR_STRLEN];

				addr_format(&t->addr, ip, sizeof(ip));
				fprintf(stderr, "relayctl probe: %s: skipped: %s\n", ip, why);
			}
		}
	}
	/* runs the loop until every probe has reported */
	while (probe_engine_busy(e))
		event_base_loop(base, EVLOOP_ONCE);
	if (c.stats)
		ctl_probe_print_stats(e, t0);
	probe_engine_free(e);
	if (rdns != NULL)
		evdns_base_free(rdns, 1);
	/* --sink: keep receiving until every accepted probe is confirmed or its wait is over. */
	while (c.confirm != NULL && confirm_pending(c.confirm) > 0)
		event_base_loop(base, EVLOOP_ONCE);
	confirm_free(c.confirm);
	sink_free(sinksrv);
	event_base_free(base);
	status = ctl_probe_print(&c);

out:
	for (size_t i = 0; c.results && i < c.nslots; i++)
		probe_result_free(c.results[i]);
	free(c.results);
	for (size_t i = 0; i < c.ntargets; i++)
		free(c.targets[i].name);
	free(c.targets);
	free(posv);
	if (have_cp)
		conf_probe_free(&cp);
	config_free(cfg);
	return status;
}
