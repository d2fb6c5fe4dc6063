/*
 * What relayctl's database subcommands share: pick the conninfo (config,
 * RELAYAUDIT_DATABASE or make run's embedded cluster) and connect.
 */
#include "auditd/ctl/ctl.h"
#include "common/config.h"
#include "common/log.h"
#include "db/db.h"

#include <stdlib.h>

struct pg_conn *
ctl_db_connect(const struct config *cfg)
{
	const char *why = NULL;
	char *conninfo;
	PGconn *conn;
	enum log_level level;

	if (log_level_parse(config_str(cfg, CFG_LOG_LEVEL), &level) == 0)
		log_set_level(level);
	conninfo = db_conninfo(cfg, &why);
	if (conninfo == NULL) {
		log_error("no_database", "reason=\"%s\"", why);
		return NULL;
	}
	conn = db_connect(conninfo);
	free(conninfo);
	return conn;
}
