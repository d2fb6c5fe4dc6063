/*
 * The engine's politeness and bookkeeping against a real loopback peer
 * (127.0.12.x and 127.0.13.x): the in-flight limit, one connection per
 * address, the per-/24 limit, the connect rate, exclusions, one callback per
 * target and port, and the descriptor budget.
 */
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/probe.h"
#include "tests/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_LIS 32

/* Holds each connection 100 ms, then answers 554 and closes: counts overlaps. */
struct farm {
	struct event_base *base;
	struct evconnlistener *lis[MAX_LIS];
	char ip[MAX_LIS][32];
	int nlis, port;
	int now_total, max_total;
	int now_addr[MAX_LIS], max_addr;
	int now_net[2], max_net;
	int accepted;
};

struct held {
	struct farm *f;
	int fd, li;
	struct event *ev;
};

static void
held_done(evutil_socket_t fd, short what, void *arg)
{
	struct held *h = arg;
	struct farm *f = h->f;

	if (write(h->fd, "554 5.7.1 go away\r\n", 19) < 0)
		(void)0;
	close(h->fd);
	f->now_total--;
	f->now_addr[h->li]--;
	f->now_net[strncmp(f->ip[h->li], "127.0.12.", 9) == 0 ? 0 : 1]--;
	event_free(h->ev);
	free(h);
}

static void
farm_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct farm *f = arg;
	struct held *h = xcalloc(1, sizeof(*h));
	struct timeval tv = {0, 100000};
	int li = 0, net;

	while (li < f->nlis && f->lis[li] != l)
		li++;
	net = strncmp(f->ip[li], "127.0.12.", 9) == 0 ? 0 : 1;
	h->f = f;
	h->fd = fd;
	h->li = li;
	f->accepted++;
	if (++f->now_total > f->max_total)
		f->max_total = f->now_total;
	if (++f->now_addr[li] > f->max_addr)
		f->max_addr = f->now_addr[li];
	if (++f->now_net[net] > f->max_net)
		f->max_net = f->now_net[net];
	h->ev = evtimer_new(f->base, held_done, h);
	evtimer_add(h->ev, &tv);
}

static void
farm_add(struct farm *f, const char *ip)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
	socklen_t sl = sizeof(sin);

	inet_pton(AF_INET, ip, &sin.sin_addr);
	f->lis[f->nlis] = evconnlistener_new_bind(f->base, farm_accept, f,
						  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
						  (struct sockaddr *)&sin, sizeof(sin));
	if (f->lis[f->nlis] == NULL)
		fatal("listen %s: %s", ip, strerror(errno));
	if (f->port == 0) {
		getsockname(evconnlistener_get_fd(f->lis[f->nlis]), (struct sockaddr *)&sin, &sl);
		f->port = ntohs(sin.sin_port);
	}
	snprintf(f->ip[f->nlis], sizeof(f->ip[0]), "%s", ip);
	f->nlis++;
}

static void
farm_free(struct farm *f)
{
	for (int i = 0; i < f->nlis; i++)
		evconnlistener_free(f->lis[i]);
}

struct collect {
	int results;
	int verdicts[VERDICT__COUNT];
	int64_t last_ms;
};

static void
collect_done(struct probe_result *res, void *arg)
{
	struct collect *c = arg;

	c->results++;
	c->verdicts[res->verdict]++;
	c->last_ms = now_mono_ms();
	probe_result_free(res);
}

static struct probe_params
params_for(int concurrency, int rate, int per_net)
{
	struct probe_params p;

	probe_params_defaults(&p);
	token_key_init(&p.key, "0123456789abcdef", 16);
	p.concurrency = concurrency;
	p.rate = rate;
	p.per_net = per_net;
	p.timeout_ms = 3000;
	p.deadline_ms = 10000;
	return p;
}

/* Submits each address of the farm on its port and runs until all report (<= 10 s). */
static void
run_all(struct event_base *base, struct farm *f, const struct probe_params *p, struct collect *c)
{
	struct probe_engine *e = probe_engine_new(base, p, collect_done, c);
	int64_t until = now_mono_ms() + 10000;

	for (int i = 0; i < f->nlis; i++) {
		struct probe_target t = {.port = f->port};
		const char *why;

		addr_parse(f->ip[i], &t.addr);
		if (probe_engine_submit(e, &t, &why) < 0)
			fatal("submit: %s", why);
	}
	while (probe_engine_busy(e) && now_mono_ms() < until)
		event_base_loop(base, EVLOOP_ONCE);
	probe_engine_free(e);
}

static void
farm_init(struct farm *f, struct event_base *base, int n12, int n13)
{
	char ip[32];

	memset(f, 0, sizeof(*f));
	f->base = base;
	for (int i = 0; i < n12; i++) {
		snprintf(ip, sizeof(ip), "127.0.12.%d", 10 + i);
		farm_add(f, ip);
	}
	for (int i = 0; i < n13; i++) {
		snprintf(ip, sizeof(ip), "127.0.13.%d", 10 + i);
		farm_add(f, ip);
	}
}

TEST(per_net_limit_caps_connections_in_one_24)
{
	struct event_base *base = event_base_new();
	struct farm f;
	struct collect c = {0};
	struct probe_params p = params_for(100, 0, 2);

	farm_init(&f, base, 8, 0);
	run_all(base, &f, &p, &c);
	CHECK_INT(c.results, 8);
	CHECK_INT(c.verdicts[VERDICT_REJECTED_BANNER], 8);
	CHECK_MSG(f.max_net <= 2, "got %d connections at once in one /24, want <= 2", f.max_net);
	CHECK(f.max_net == 2);
	farm_free(&f);
	event_base_free(base);
}

TEST(in_flight_limit_caps_connections_overall)
{
	struct event_base *base = event_base_new();
	struct farm f;
	struct collect c = {0};
	struct probe_params p = params_for(3, 0, 0);

	farm_init(&f, base, 5, 5);
	run_all(base, &f, &p, &c);
	CHECK_INT(c.results, 10);
	CHECK_MSG(f.max_total <= 3, "got %d at once, want <= 3", f.max_total);
	CHECK_INT(f.max_total, 3);
	farm_free(&f);
	event_base_free(base);
}

TEST(unlimited_runs_everything_at_once)
{
	struct event_base *base = event_base_new();
	struct farm f;
	struct collect c = {0};
	struct probe_params p = params_for(1000, 0, 0);

	farm_init(&f, base, 6, 6);
	run_all(base, &f, &p, &c);
	CHECK_INT(c.results, 12);
	CHECK_INT(f.max_total, 12);
	farm_free(&f);
	event_base_free(base);
}

TEST(one_connection_per_address_across_ports)
{
	struct event_base *base = event_base_new();
	struct farm f;
	struct collect c = {0};
	struct probe_params p = params_for(100, 0, 0);
	int ports[2];

	farm_init(&f, base, 1, 0);
	ports[0] = ports[1] = f.port; /* two probes of one address */
	p.ports = ports;
	p.nports = 2;
	struct probe_engine *e = probe_engine_new(base, &p, collect_done, &c);
	struct probe_target t = {0};
	const char *why;
	addr_parse(f.ip[0], &t.addr);
	CHECK(probe_engine_submit(e, &t, &why) == 0);
	for (int64_t until = now_mono_ms() + 5000; probe_engine_busy(e) && now_mono_ms() < until;)
		event_base_loop(base, EVLOOP_ONCE);
	probe_engine_free(e);
	CHECK_INT(c.results, 2); /* one result per target and port */
	CHECK_INT(f.accepted, 2);
	CHECK_INT(f.max_addr, 1);
	farm_free(&f);
	event_base_free(base);
}

TEST(connect_rate_is_limited_by_the_token_bucket)
{
	struct event_base *base = event_base_new();
	struct farm f;
	struct collect c = {0};
	struct probe_params p = params_for(100, 20, 0);
	int64_t t0 = now_mono_ms();

	farm_init(&f, base, 5, 5);
	run_all(base, &f, &p, &c);
	CHECK_INT(c.results, 10);
	/* 10 connects at 20/s with a burst of 2: the last starts >= 400 ms in */
	CHECK_MSG(c.last_ms - t0 >= 400, "10 probes at 20/s took %lld ms, want >= 400",
		  (long long)(c.last_ms - t0));
	farm_free(&f);
	event_base_free(base);
}

TEST(excluded_targets_are_refused_without_a_callback)
{
	struct event_base *base = event_base_new();
	struct collect c = {0};
	struct probe_params p = params_for(10, 0, 0);
	struct cidr ex;
	const char *why = NULL;
	struct probe_target t = {.port = 25};

	cidr_parse("127.0.14.0/24", &ex, &why);
	p.exclude = &ex;
	p.nexclude = 1;
	struct probe_engine *e = probe_engine_new(base, &p, collect_done, &c);
	addr_parse("127.0.14.7", &t.addr);
	CHECK(probe_engine_submit(e, &t, &why) < 0);
	CHECK_STR(why, "excluded");
	CHECK(!probe_engine_busy(e));
	probe_engine_free(e);
	CHECK_INT(c.results, 0);
	event_base_free(base);
}

TEST(probe_id_with_several_ports_is_refused)
{
	struct event_base *base = event_base_new();
	struct collect c = {0};
	struct probe_params p = params_for(10, 0, 0);
	struct probe_target t = {.probe_id = 5};
	const char *why = NULL;
	struct probe_engine *e = probe_engine_new(base, &p, collect_done, &c);

	addr_parse("127.0.14.8", &t.addr);
	CHECK(probe_engine_submit(e, &t, &why) < 0);
	CHECK_STR(why, "a probe id needs an explicit port");
	probe_engine_free(e);
	event_base_free(base);
}

TEST(fd_budget_raises_the_soft_limit_and_keeps_a_reserve)
{
	struct rlimit rl;
	int b = probe_fd_budget(64);

	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK(rl.rlim_cur == rl.rlim_max || rl.rlim_max == RLIM_INFINITY);
	CHECK(b > 0);
	CHECK(rl.rlim_max == RLIM_INFINITY || (rlim_t)b <= rl.rlim_cur - 64);
}

int
main(void)
{
	test_suite = "engine";
	RUN(per_net_limit_caps_connections_in_one_24);
	RUN(in_flight_limit_caps_connections_overall);
	RUN(unlimited_runs_everything_at_once);
	RUN(one_connection_per_address_across_ports);
	RUN(connect_rate_is_limited_by_the_token_bucket);
	RUN(excluded_targets_are_refused_without_a_callback);
	RUN(probe_id_with_several_ports_is_refused);
	RUN(fd_budget_raises_the_soft_limit_and_keeps_a_reserve);
	return test_summary();
}
