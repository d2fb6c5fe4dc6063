/*
 * SQL for `relayctl status` (and anything else that reports the queue):
 * queue depth, leases, live nodes, recent verdicts, open sweeps.
 */
#ifndef RELAYAUDIT_DB_STATUS_H
#define RELAYAUDIT_DB_STATUS_H

#include <libpq-fe.h>
#include <stdint.h>

struct queue_status {
	int64_t targets, excluded, due, leased, overdue_leases;
};
int status_queue(PGconn *c, struct queue_status *out);

/* Calls fn per row; 0 or -1. */
typedef void (*status_node_fn)(void *arg, const char *name, const char *roles,
			       int64_t in_flight, double seen_ago_s);
int status_nodes(PGconn *c, status_node_fn fn, void *arg);

typedef void (*status_count_fn)(void *arg, const char *name, int64_t count);
/* Probes of the last `hours` hours by verdict (every verdict listed, zeros too). */
int status_verdicts(PGconn *c, int hours, status_count_fn fn, void *arg);

typedef void (*status_sweep_fn)(void *arg, int64_t id, const char *scope, int64_t done,
				int64_t total, double age_s);
/* Sweeps not finished yet, newest first (at most 10). */
int status_sweeps(PGconn *c, status_sweep_fn fn, void *arg);

#endif
