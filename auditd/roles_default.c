/*
 * Placeholders for roles whose module has not landed yet (see roles.h). Each
 * module deletes its own block below when it defines the real functions.
 */
#include "roles.h"
#include "log.h"

/* ---- workflow (delete when auditd/workflow_role.c lands) ---- */
int
workflow_role_start(const struct config *cfg, const char *conninfo)
{
	log_warn("role_not_built", "role=workflow");
	return -1;
}
void
workflow_role_stop(void)
{
}
int
roles_have_workflow(void)
{
	return 0;
}

/* ---- api (delete when the API role lands) ---- */
int
api_role_start(const struct config *cfg, const char *conninfo)
{
	log_warn("role_not_built", "role=api");
	return -1;
}
void
api_role_stop(void)
{
}
int
roles_have_api(void)
{
	return 0;
}

/* ---- sink (delete when the sink role lands) ---- */
int
sink_role_start(struct event_base *base, const struct config *cfg, const char *conninfo)
{
	log_warn("role_not_built", "role=sink");
	return -1;
}
void
sink_role_stop(void)
{
}
int
roles_have_sink(void)
{
	return 0;
}
