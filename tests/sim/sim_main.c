/*
 * relaysim's command line: parses listener specs (single addresses or whole
 * loopback ranges), binds them all, prints "ready" and runs until SIGTERM.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <getopt.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "common/version.h"
#include "tests/sim/sim.h"

#define SIM_MAX_LISTENERS 65536
#define SIM_FD_RESERVE 64

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: relaysim [options] SPEC... | --file FILE\n"
	    "  SPEC is ADDR:PORT=BEHAVIOUR, CIDR:PORT=BEHAVIOUR ([V6]:PORT, [V6/N]:PORT);\n"
	    "  every address must be loopback.\n"
	    "options:\n"
	    "  --sink ADDR:PORT      forward mail accepted by 'open' listeners there (loopback)\n"
	    "  --tls-port N --tls-cert PEM --tls-key PEM\n"
	    "                        listeners on port N speak TLS from the first byte (like 465)\n"
	    "  --greylist-secs N     greylisting delay (default 2)\n"
	    "  --errors N            refusals before errors421 says 421 (default 3)\n"
	    "  --anonymous           greeting and EHLO reply name no host (\"relaysim\")\n"
	    "  --trust-domain D      a sender domain trust-sender relays for (repeatable;\n"
	    "                        default relaysim.test, the parent of its names)\n"
	    "  --pregreet-ms N       pause before the final greeting line (default 800)\n"
	    "  --split-us N          gap between bytes for split (default 300)\n"
	    "  --tarpit-ms N         gap between bytes for tarpit (default 1000)\n"
	    "  --idle-secs N         client idle timeout (default 60)\n"
	    "  --delay MS            every reply leaves MS after its cause (default 0)\n"
	    "  --peaks FILE          on exit, write peak concurrent sessions per listening /24 (/64)\n"
	    "  --max-size BYTES      message size limit (default 1048576)\n"
	    "  --file FILE           read specs, one per line (# comments)\n"
	    "  --verbose             log every session\n"
	    "behaviours:\n");
	sim_behaviour_list(f);
}

/* "a.b.c.d[/n]:port" or "[v6[/n]]:port" -> range and port. */
static int
spec_parse_where(char *s, struct cidr *range, int *port)
{
	char *host = s, *portstr;
	const char *why = NULL;
	int64_t p;

	if (*s == '[') {
		char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		*close = '\0';
		host = s + 1;
		portstr = close + 2;
	} else {
		char *colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		*colon = '\0';
		portstr = colon + 1;
	}
	if (parse_i64(portstr, 1, 65535, &p) != 0)
		return -1;
	*port = (int)p;
	if (strchr(host, '/') != NULL)
		return cidr_parse(host, range, &why);
	if (addr_parse(host, &range->base) != 0)
		return -1;
	range->prefix = range->base.family == AF_INET ? 32 : 128;
	return 0;
}

static void
listener_name(struct sim_listener *l)
{
	char a[ADDR_STRLEN];

	addr_format(&l->addr, a, sizeof(a));
	addr_literal(&l->addr, l->literal, sizeof(l->literal));
	for (char *c = a; *c; c++)
		if (*c == '.' || *c == ':')
			*c = '-';
	snprintf(l->name, sizeof(l->name), "sim-%s.relaysim.test", a);
}

static void
spec_add(struct sim *sim, const char *spec, size_t *cap)
{
	char buf[256];
	struct cidr range;
	int port;
	char *eq;
	const struct sim_behaviour *b;
	struct addr last;
	uint64_t n;

	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf) ||
	    (eq = strchr(buf, '=')) == NULL)
		fatal("bad spec '%s': want ADDR:PORT=BEHAVIOUR", spec);
	*eq = '\0';
	if ((b = sim_behaviour_find(eq + 1)) == NULL)
		fatal("bad spec '%s': unknown behaviour '%s' (relaysim --help lists them)", spec,
		      eq + 1);
	if (spec_parse_where(buf, &range, &port) != 0)
		fatal("bad spec '%s': want ADDR:PORT or CIDR:PORT", spec);
	n = cidr_size(&range);
	if (n > SIM_MAX_LISTENERS || sim->nlisteners + n > SIM_MAX_LISTENERS)
		fatal("bad spec '%s': more than %d listeners", spec, SIM_MAX_LISTENERS);
	cidr_nth(&range, n - 1, &last);
	if (!addr_is_loopback(&range.base) || !addr_is_loopback(&last))
		fatal("bad spec '%s': relaysim listens on loopback addresses only", spec);
	if (sim->nlisteners + n > *cap) {
		while (sim->nlisteners + n > *cap)
			*cap = *cap ? *cap * 2 : 64;
		sim->listeners = xrealloc(sim->listeners, *cap * sizeof(*sim->listeners));
	}
	for (uint64_t i = 0; i < n; i++) {
		struct sim_listener *l = &sim->listeners[sim->nlisteners++];
		memset(l, 0, sizeof(*l));
		l->sim = sim;
		cidr_nth(&range, i, &l->addr);
		l->port = port;
		l->b = b;
		listener_name(l);
	}
}

static void
spec_file(struct sim *sim, const char *path, size_t *cap)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char line[512];
	int lines = 0;

	if (f == NULL)
		fatal("cannot open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL && lines++ < SIM_MAX_LISTENERS) {
		char *p = line + strspn(line, " \t");
		p[strcspn(p, "\r\n#")] = '\0';
		for (size_t n = strlen(p); n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'); n--)
			p[n - 1] = '\0';
		if (*p)
			spec_add(sim, p, cap);
	}
	if (f != stdin)
		fclose(f);
}

/*
 * One connection per wake-up: a listener with more waiting stays readable, and
 * with thousands of listeners of one connection each, a second accept() would
 * mostly find none and cost as much as the first.
 */
static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct sim_listener *l = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0) {
		sim_session_start(l, fd, (struct sockaddr *)&ss);
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
		return;
	/* EMFILE and friends: log and keep serving; the listener retries on the next event. */
	if (l->sim->accept_errors++ % 1000 == 0)
		log_warn("sim_accept_error", "listener=%s error=%s accept_errors=%llu", l->literal,
		         strerror(errno), (unsigned long long)l->sim->accept_errors);
}

/* A non-blocking listening socket; TCP_NODELAY on it is inherited by what it accepts. */
static int
listener_open(struct sim *sim, struct sim_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_to_sockaddr(&l->addr, l->port, &ss);
	int one = 1, err;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	l->fd = fd;
	l->ev = event_new(sim->base, fd, EV_READ | EV_PERSIST, accept_cb, l);
	if (l->ev == NULL || event_add(l->ev, NULL) != 0)
		fatal("event_new failed for a listener");
	return 0;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopexit(arg, NULL);
}

static int
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > 1 << 24 ? 1 << 24 : (int)rl.rlim_cur;
}

/* --peaks: "NET/LEN PEAK" a line, each network its listeners' sessions were counted under. */
static void
peaks_write(const struct sim *sim, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		log_warn("sim_peaks", "file=%s error=%s", path, strerror(errno));
		return;
	}
	for (size_t i = 0; i < sim->nnets; i++) {
		struct cidr net = {sim->nets[i].net, sim->nets[i].net.family == AF_INET ? 24 : 64};
		char a[ADDR_STRLEN + 8];

		cidr_normalise(&net);
		cidr_format(&net, a, sizeof(a));
		fprintf(f, "%s %d\n", a, sim->nets[i].peak);
	}
	if (fclose(f) != 0)
		log_warn("sim_peaks", "file=%s error=%s", path, strerror(errno));
}

static int
opt_int(const char *name, const char *s, int64_t min, int64_t max)
{
	int64_t v;

	if (parse_i64(s, min, max, &v) != 0)
		fatal("bad %s '%s': want %lld..%lld", name, s, (long long)min, (long long)max);
	return (int)v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"sink", required_argument, NULL, 's'},
	    {"greylist-secs", required_argument, NULL, 'g'},
	    {"errors", required_argument, NULL, 'e'},
	    {"trust-domain", required_argument, NULL, 'd'},
	    {"anonymous", no_argument, NULL, 'A'},
	    {"pregreet-ms", required_argument, NULL, 'p'},
	    {"split-us", required_argument, NULL, 'S'},
	    {"tarpit-ms", required_argument, NULL, 'T'},
	    {"idle-secs", required_argument, NULL, 'i'},
	    {"max-size", required_argument, NULL, 'm'},
	    {"max-sessions", required_argument, NULL, 'M'},
	    {"file", required_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"tls-cert", required_argument, NULL, 'C'},
	    {"tls-key", required_argument, NULL, 'K'},
	    {"tls-port", required_argument, NULL, 'P'},
	    {"delay", required_argument, NULL, 'D'},
	    {"peaks", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct sim sim = {0};
	size_t cap = 0;
	const char *sink = NULL, *tls_cert = NULL, *tls_key = NULL, *peaks = NULL;
	struct addr sink_addr;
	int sink_port = 0, c, nofile, max_sessions = 0;

	sim.opts = (struct sim_opts){
	    .greylist_secs = 2,
	    .errors = 3,
	    .pregreet_ms = 800,
	    .split_us = 300,
	    .tarpit_ms = 1000,
	    .idle_secs = 60,
	    .max_size = 1 << 20,
	    .max_rcpts = 100,
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			sink = optarg;
			break;
		case 'g':
			sim.opts.greylist_secs = opt_int("--greylist-secs", optarg, 0, 86400);
			break;
		case 'e':
			sim.opts.errors = opt_int("--errors", optarg, 1, 1000);
			break;
		case 'A':
			sim.opts.anonymous = true;
			break;
		case 'd':
			if (sim.opts.ntrust_domains == ARRAY_LEN(sim.opts.trust_domains)) {
				fprintf(stderr, "relaysim: at most %zu --trust-domain\n",
				        ARRAY_LEN(sim.opts.trust_domains));
				return 2;
			}
			sim.opts.trust_domains[sim.opts.ntrust_domains++] = optarg;
			break;
		case 'p':
			sim.opts.pregreet_ms = opt_int("--pregreet-ms", optarg, 1, 600000);
			break;
		case 'S':
			sim.opts.split_us = opt_int("--split-us", optarg, 1, 1000000);
			break;
		case 'T':
			sim.opts.tarpit_ms = opt_int("--tarpit-ms", optarg, 1, 600000);
			break;
		case 'i':
			sim.opts.idle_secs = opt_int("--idle-secs", optarg, 1, 86400);
			break;
		case 'm':
			sim.opts.max_size = (size_t)opt_int("--max-size", optarg, 1024, 64 << 20);
			break;
		case 'M':
			max_sessions = opt_int("--max-sessions", optarg, 1, 1 << 24);
			break;
		case 'f':
			spec_file(&sim, optarg, &cap);
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'C':
			tls_cert = optarg;
			break;
		case 'K':
			tls_key = optarg;
			break;
		case 'P':
			sim.opts.tls_port = opt_int("--tls-port", optarg, 1, 65535);
			break;
		case 'D':
			sim.opts.delay_ms = opt_int("--delay", optarg, 0, 600000);
			break;
		case 'k':
			peaks = optarg;
			sim.count_nets = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			version_print(stdout, "relaysim");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		spec_add(&sim, argv[i], &cap);
	if (sim.opts.ntrust_domains == 0)
		sim.opts.trust_domains[sim.opts.ntrust_domains++] = "relaysim.test";
	if (sim.nlisteners == 0) {
		usage(stderr);
		return 2;
	}
	if ((tls_cert != NULL) != (tls_key != NULL) || (tls_cert != NULL) != (sim.opts.tls_port != 0))
		fatal("--tls-cert, --tls-key and --tls-port go together");
	if (tls_cert != NULL) {
		sim.tls = SSL_CTX_new(TLS_server_method());
		if (sim.tls == NULL || SSL_CTX_use_certificate_chain_file(sim.tls, tls_cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(sim.tls, tls_key, SSL_FILETYPE_PEM) != 1)
			fatal("cannot load --tls-cert %s / --tls-key %s", tls_cert, tls_key);
	}
	if (sink != NULL) {
		if (addr_port_parse(sink, 25, &sink_addr, &sink_port) != 0)
			fatal("bad --sink '%s': want ADDR:PORT", sink);
		if (!addr_is_loopback(&sink_addr))
			fatal("bad --sink '%s': relaysim forwards to loopback addresses only",
			      sink);
	}

	nofile = raise_nofile();
	if ((int64_t)sim.nlisteners + SIM_FD_RESERVE + 16 > nofile)
		fatal("%zu listeners need more than RLIMIT_NOFILE=%d descriptors", sim.nlisteners,
		      nofile);
	sim.opts.max_sessions = nofile - (int)sim.nlisteners - SIM_FD_RESERVE;
	if (max_sessions > 0 && max_sessions < sim.opts.max_sessions)
		sim.opts.max_sessions = max_sessions;
	signal(SIGPIPE, SIG_IGN);

	struct event_config *cfg = event_config_new();
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	sim.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (sim.base == NULL || event_base_priority_init(sim.base, 2) != 0)
		fatal("event_base_new failed");
	sim.grey = sim_greylist_new(sim.opts.greylist_secs);
	if (sink != NULL)
		sim.fwd = sim_forward_new(sim.base, &sink_addr, sink_port, "relaysim.test");

	for (size_t i = 0; i < sim.nlisteners; i++) {
		struct sim_listener *l = &sim.listeners[i];
		if (listener_open(&sim, l) != 0)
			fatal("cannot listen on %s:%d: %s", l->literal, l->port, strerror(errno));
	}

	struct event *sigterm = evsignal_new(sim.base, SIGTERM, signal_cb, sim.base);
	struct event *sigint = evsignal_new(sim.base, SIGINT, signal_cb, sim.base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);

	log_info("sim_ready", "listeners=%zu max_sessions=%d sink=%s delay_ms=%d", sim.nlisteners,
	         sim.opts.max_sessions, sink ? sink : "none", sim.opts.delay_ms);
	printf("ready\n");
	fflush(stdout);

	event_base_dispatch(sim.base);

	uint64_t sent = 0, failed = 0;
	if (sim.fwd)
		sim_forward_stats(sim.fwd, &sent, &failed);
	log_info("sim_stop",
	         "sessions_total=%llu refused_total=%llu accept_errors=%llu forwarded=%llu "
	         "forward_failed=%llu",
	         (unsigned long long)sim.accepted_total, (unsigned long long)sim.refused_total,
	         (unsigned long long)sim.accept_errors, (unsigned long long)sent,
	         (unsigned long long)failed);
	sim_session_free_all(&sim);
	if (peaks != NULL)
		peaks_write(&sim, peaks);
	free(sim.nets);
	sim_forward_free(sim.fwd);
	for (size_t i = 0; i < sim.nlisteners; i++) {
		event_free(sim.listeners[i].ev);
		close(sim.listeners[i].fd);
	}
	free(sim.listeners);
	sim_greylist_free(sim.grey);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(sim.base); /* runs the TLS bufferevents' finalizers: SSL objects first */
	SSL_CTX_free(sim.tls);
	return 0;
}
