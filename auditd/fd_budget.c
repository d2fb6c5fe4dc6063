/*
 * Splits RLIMIT_NOFILE between the roles at start-up. Each role's share is
 * its own configured ceiling, so the probe engine (whose share is the rest)
 * is the one that gives way; the split is logged once.
 */
#include "auditd/fd_budget.h"
#include "common/config.h"
#include "common/log.h"

#include <sys/resource.h>

/* Each dbthread or thread-local connection: the socket plus its wake-up pipe or eventfd. */
#define FDS_PER_DB 3
/* The engine keeps this many for its own loop on top of the reserve (probe_fd_budget). */
#define ENGINE_OWN 16

static long
fd_budget_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = {rl.rlim_max, rl.rlim_max};

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000)
		return 1000000;
	return (long)rl.rlim_cur;
}

void
fd_budget_plan(const struct config *cfg, struct fd_budget *b)
{
	bool probe = config_list_has(cfg, CFG_ROLES, "probe");
	bool sink = config_list_has(cfg, CFG_ROLES, "sink");
	bool api = config_list_has(cfg, CFG_ROLES, "api");
	bool workflow = config_list_has(cfg, CFG_ROLES, "workflow");
	int threads = (int)config_int(cfg, CFG_API_THREADS);
	long left;

	b->nofile = fd_budget_nofile();
	b->base = (int)config_int(cfg, CFG_FD_RESERVE);
	/* probe: the scheduler and two result writers; sink: one; workflow: two */
	b->database = FDS_PER_DB * ((probe ? 3 : 0) + (sink ? 1 : 0) + (workflow ? 2 : 0));
	b->sink = sink ? (int)config_int(cfg, CFG_SINK_MAX_SESSIONS) + 2 : 0;
	/* per worker thread: its epoll descriptor, its wake-up pipe and its database */
	b->api = api ? (int)config_int(cfg, CFG_API_MAX_CONNECTIONS) + 2 +
			       threads * (2 + FDS_PER_DB)
		     : 0;
	left = b->nofile - b->base - b->database - b->sink - b->api - ENGINE_OWN;
	b->probe = left < 1 ? 1 : left > 1000000 ? 1000000 : (int)left;
	b->concurrency = (int)config_int(cfg, CFG_PROBE_CONCURRENCY);
	if (b->concurrency > b->probe)
		b->concurrency = b->probe;
}

int
fd_budget_probe_reserve(const struct fd_budget *b)
{
	return b->base + b->database + b->sink + b->api;
}

void
fd_budget_log(const struct config *cfg, const struct fd_budget *b)
{
	long wanted = config_int(cfg, CFG_PROBE_CONCURRENCY);

	log_info("fd_budget", "nofile=%ld reserve=%d database=%d sink=%d api=%d probe=%d "
			      "probe_concurrency=%d",
		 b->nofile, b->base, b->database, b->sink, b->api, b->probe, b->concurrency);
	if (config_list_has(cfg, CFG_ROLES, "probe") && wanted > b->concurrency)
		log_warn("fd_budget_capped",
			 "probe_concurrency=%ld capped=%d reason=\"RLIMIT_NOFILE %ld leaves %d "
			 "descriptors for probes after the API, sink and database shares\"",
			 wanted, b->concurrency, b->nofile, b->probe);
}
