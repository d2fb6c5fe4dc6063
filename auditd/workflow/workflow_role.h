/*
 * The workflow role's loop (case runner, enforcer, mailer) for the daemon's
 * role table (auditd/daemon.c) and for `relayctl workflow run` in the foreground.
 */
#ifndef RELAYAUDIT_WORKFLOW_ROLE_H
#define RELAYAUDIT_WORKFLOW_ROLE_H

#include <stdbool.h>

struct config;

/*
 * Runs the loop on this thread until workflow_foreground_stop(), or with
 * once until a pass finds nothing left to do. Returns the exit status.
 */
int workflow_run_foreground(const struct config *cfg, const char *conninfo, bool once);
/* Async-signal-safe: ends workflow_run_foreground() soon. */
void workflow_foreground_stop(void);

/* The daemon's workflow role: the same loop in its own thread; 0 or -1 (logged). */
int workflow_role_start(const struct config *cfg, const char *conninfo);
/* Joins the thread; safe if start failed. */
void workflow_role_stop(void);

#endif
