/*
 * relayctl status: what the audit is doing now — queue depth, leases, the
 * nodes and their in-flight probes (from their heartbeats), open sweeps and
 * the verdicts of the last 24 hours.
 */
#include "auditd/ctl/ctl.h"
#include "common/config.h"
#include "db/db.h"
#include "db/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NODE_ALIVE_S 30.0 /* six missed heartbeats */

struct status_print {
	int64_t in_flight;
	int nodes_alive;
};

static void
print_node(void *arg, const char *name, const char *roles, int64_t in_flight, double ago)
{
	struct status_print *sp = arg;
	bool alive = ago < NODE_ALIVE_S;

	if (alive) {
		sp->in_flight += in_flight;
		sp->nodes_alive++;
	}
	printf("  node %-24s %-5s in_flight=%-6" PRId64 " last_seen=%.0fs ago  roles=%s\n", name,
	       alive ? "up" : "down", in_flight, ago, roles);
}

static void
print_verdict(void *arg, const char *name, int64_t n)
{
	printf("  %-22s %" PRId64 "\n", name, n);
}

static void
print_sweep(void *arg, int64_t id, const char *scope, int64_t done, int64_t total, double age)
{
	printf("  sweep %" PRId64 " (%s): %" PRId64 "/%" PRId64 " done, started %.0fs ago\n", id,
	       scope, done, total, age);
}

int
ctl_status(int argc, char **argv)
{
	const char *path = NULL;
	struct config *cfg;
	PGconn *c;
	struct queue_status q;
	struct status_print sp = {0, 0};
	int opt, rc = 1;

	if (ctl_help_wanted(argc, argv)) {
		printf("usage: relayctl status [-c FILE]\n");
		return 0;
	}
	optind = 1;
	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		default:
			fprintf(stderr, "usage: relayctl status [-c FILE]\n");
			return 2;
		}
	}
	cfg = conf_load(path);
	if (cfg == NULL)
		return 1;
	c = ctl_db_connect(cfg);
	if (c == NULL)
		goto out;
	if (status_queue(c, &q) != 0)
		goto out;
	printf("targets: %" PRId64 " (%" PRId64 " excluded)\n", q.targets, q.excluded);
	printf("queue: %" PRId64 " due now, %" PRId64 " leased", q.due, q.leased);
	if (q.overdue_leases > 0)
		printf(", %" PRId64 " with expired leases (a node died; due again)", q.overdue_leases);
	printf("\nnodes:\n");
	if (status_nodes(c, print_node, &sp) != 0)
		goto out;
	printf("in_flight: %" PRId64 " on %d live node%s\n", sp.in_flight, sp.nodes_alive,
	       sp.nodes_alive == 1 ? "" : "s");
	printf("open sweeps:\n");
	if (status_sweeps(c, print_sweep, NULL) != 0)
		goto out;
	printf("verdicts, last 24 h:\n");
	if (status_verdicts(c, 24, print_verdict, NULL) != 0)
		goto out;
	rc = 0;
out:
	db_close(c);
	config_free(cfg);
	return rc;
}
