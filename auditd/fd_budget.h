/*
 * The daemon's descriptor budget: RLIMIT_NOFILE, raised to its hard limit at
 * start-up, split between the roles so that probing can never take the
 * descriptors the API, the sink and the database connections need.
 */
#ifndef RELAYAUDIT_FD_BUDGET_H
#define RELAYAUDIT_FD_BUDGET_H

struct config;

struct fd_budget {
	long nofile;  /* the soft limit after raising it */
	int base;     /* fd_reserve: stdio, logs, event loops, outbox files, hook pipes */
	int database; /* the probe, sink and workflow roles' database connections */
	int sink;     /* sink_max_sessions and the listener, when the sink runs here */
	int api;      /* api_max_connections, the listener, per-thread epoll and database */
	int probe;    /* what is left: probes in flight never exceed it */
	int concurrency; /* probe_concurrency, capped at probe */
};

/* Raises the soft limit and splits it for the roles cfg enables. */
void fd_budget_plan(const struct config *cfg, struct fd_budget *b);
/* Descriptors the probe engine must leave to the others (its fd_reserve). */
int fd_budget_probe_reserve(const struct fd_budget *b);
void fd_budget_log(const struct config *cfg, const struct fd_budget *b);

#endif
