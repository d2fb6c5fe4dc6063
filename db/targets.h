/*
 * SQL for targets: claiming due targets under a lease, releasing leases,
 * marking sweeps, and the queue figures of `relayctl status`. Blocking
 * libpq calls: run them on a dbthread from the daemon, directly from relayctl.
 */
#ifndef RELAYAUDIT_DB_TARGETS_H
#define RELAYAUDIT_DB_TARGETS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define TARGET_MAX_PORTS 8 /* the schema's CHECK on targets.ports */

/* A claimed target, with a probe id reserved for each port (the tokens carry it). */
struct claimed_target {
	int64_t id;
	char *address;        /* host(address) */
	int ports[TARGET_MAX_PORTS];
	int64_t probe_ids[TARGET_MAX_PORTS];
	size_t nports;
	char **domains;       /* the customer's mail domains, then the target's: each once, */
	size_t ndomains;      /* lower-case, at most CATALOGUE_MAX_DOMAINS */
	int priority;
	int64_t sweep_id;     /* 0 = none */
	int64_t interval_s;   /* the target's own probe_interval; 0 = configured */
};

void claimed_target_free(struct claimed_target *t);

/*
 * Claims up to limit due targets for node, highest priority first, leased
 * for lease_s seconds (a crashed node's targets are claimable again once
 * their lease runs out). *out is an array of *n.
 */
int targets_claim(PGconn *c, const char *node, int limit, int64_t lease_s,
		  struct claimed_target **out, size_t *n);
/* Gives back unfinished leases of node: due again at once. Count or -1. */
int64_t targets_release(PGconn *c, const char *node, const int64_t *ids, size_t n);
/* Gives back every lease node holds (a restarted node's own leftovers). Count or -1. */
int64_t targets_release_node(PGconn *c, const char *node);

/* What a sweep marks. */
struct sweep_scope {
	const char *scope;    /* "all", "cidr", "customer" */
	const char *cidr;     /* scope cidr */
	const char *customer; /* scope customer: ext_id or numeric id */
	int priority;         /* 1..3 */
	const char *created_by;
};
/*
 * THE sweep, for relayctl and the API alike: creates the sweep and marks its
 * targets due now (excluded ones never, leased ones left to their lease);
 * sweep id or -1 (*why set: "no such customer" when the customer is unknown).
 * *json, when json != NULL, is the new sweep as the API shows it (malloc'd).
 */
int64_t targets_sweep(PGconn *c, const struct sweep_scope *s, int64_t *total, char **json,
                      const char **why);

struct sweep_progress {
	int64_t total, done;
	int finished;
	double age_s; /* since created */
};
int sweeps_progress(PGconn *c, int64_t id, struct sweep_progress *out);
/* The sweep's targets by verdict (of their last probe, if it ran for the sweep), most first:
 * fn once per verdict; 0 or -1. */
typedef void (*sweep_verdict_fn)(void *arg, const char *verdict, int64_t n);
int sweeps_verdicts(PGconn *c, int64_t id, sweep_verdict_fn fn, void *arg);

/* Records this node's heartbeat and in-flight count. */
int nodes_heartbeat(PGconn *c, const char *node, const char *roles, int64_t in_flight);

#endif
