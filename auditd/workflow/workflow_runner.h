/*
 * The case runner: reads the workflow's inputs from PostgreSQL (probe
 * rounds, complaints, operator commands, due timers), runs each through the
 * state machine and writes the case, its event and the resulting outbox and
 * enforcement rows in the same transaction as it consumes the input. So an
 * input is acted on exactly once, on whichever node, whatever crashes.
 */
#ifndef RELAYAUDIT_WORKFLOW_RUNNER_H
#define RELAYAUDIT_WORKFLOW_RUNNER_H

#include <libpq-fe.h>

struct config;
struct wf_runner;

/* cfg and conn must outlive the runner. */
struct wf_runner *wf_runner_new(const struct config *cfg, PGconn *conn);
void wf_runner_free(struct wf_runner *r);

/*
 * Handles every waiting input (at most limit); returns how many were
 * handled, or -1 when the database failed (the input is left for later).
 */
int wf_runner_step(struct wf_runner *r, int limit);

#endif
