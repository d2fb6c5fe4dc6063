/*
 * Placeholders for roles whose module has not landed yet (see roles.h). Each
 * module deletes its own block below when it defines the real functions.
 * They only warn, so a default roles list still starts the roles that exist.
 */
#include "roles.h"
#include "log.h"

/* ---- sink (delete when the sink role lands) ---- */
int
sink_role_start(struct event_base *base, const struct config *cfg, const char *conninfo)
{
	log_warn("role_not_built", "role=sink");
	return 0;
}
void
sink_role_stop(void)
{
}
