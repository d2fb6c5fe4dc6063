/*
 * relayauditd's skeleton: one event loop, a table of roles. Each role is a
 * row of callbacks; the daemon starts the enabled ones, forwards HUP and
 * TERM to them, and exits once every role reports it is no longer busy (or
 * shutdown_grace runs out).
 */
#ifndef RELAYAUDIT_DAEMON_H
#define RELAYAUDIT_DAEMON_H

#include "auditd/fd_budget.h"

#include <stdbool.h>
#include <stdio.h>

struct config;
struct event_base;

struct daemon {
	struct event_base *base;
	struct config *cfg;      /* the current configuration; replaced on HUP */
	const char *config_path; /* NULL: defaults and environment only */
	const char *conninfo;    /* PostgreSQL conninfo every role connects with */
	const char *node_name;   /* lease owner and nodes.name */
	bool stopping;           /* TERM/INT seen: take no new work */
	struct fd_budget fds;    /* descriptors per role, planned at start-up */
};

/*
 * One role. start runs on the loop thread before dispatch; reload after the
 * daemon has replaced d->cfg (HUP); drain when TERM arrives (stop taking
 * work, let in-flight work finish); busy tells whether work is still in
 * flight; stop releases what is left (called once, after drain and either
 * idleness or the grace period). Any callback may be NULL.
 */
struct role_ops {
	const char *name; /* the word in the roles option */
	int (*start)(struct daemon *d);
	void (*reload)(struct daemon *d);
	void (*drain)(struct daemon *d);
	bool (*busy)(struct daemon *d);
	void (*stop)(struct daemon *d);
};

/* Checks what the roles need beyond the option table; prints problems, returns their count. */
int daemon_check(const struct config *cfg, FILE *out);
/* Runs relayauditd with an already loaded configuration; returns the exit status. */
int daemon_run(struct config *cfg, const char *config_path);

/* A role calls this when it has become idle after drain, so shutdown need not wait. */
void daemon_role_idle(struct daemon *d);

/* The roles of the daemon core; workflow and api are adapted in daemon.c. */
extern const struct role_ops role_probe_ops; /* role_probe.c: scheduler, engine, persistence */
extern const struct role_ops role_sink_ops;  /* role_sink.c: the SMTP sink on the loop */
extern const struct role_ops role_dnsbl_ops; /* role_dnsbl.c: DNSBL listings as triggers */

#endif
