/*
 * Hooks through which relayauditd starts the roles other modules own. Until
 * a module lands, auditd/roles_default.c holds a placeholder for it that
 * logs "role_not_built" and returns 0; the module replaces its block there
 * by deleting it and defining the same functions in its own file.
 *
 *   workflow: case runner, outbox mailer, enforcer executor (own threads)
 *   api:      HTTP API (libmicrohttpd, own threads)
 *   sink:     SMTP sink server, runs on the daemon's event loop
 */
#ifndef RELAYAUDIT_ROLES_H
#define RELAYAUDIT_ROLES_H

struct config;
struct event_base;

/* The workflow role: auditd/workflow/workflow_role.h. */
/* Start in own threads; 0 or -1 (logged). stop joins the threads; safe if start failed. */
int api_role_start(const struct config *cfg, const char *conninfo);
void api_role_stop(void);

/*
 * The sink listens on the daemon's loop and writes its receipts (and applies
 * them to their probes) through its own database access; 0 or -1 (logged).
 */
int sink_role_start(struct event_base *base, const struct config *cfg, const char *conninfo);
void sink_role_stop(void);

#endif
