/*
 * relayctl migrate [--status] [--dir DIR] [-c FILE]: brings the database
 * schema up to date, or lists which migrations are applied and pending.
 */
#include "auditd/ctl/ctl.h"
#include "common/config.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/util.h"
#include "db/db.h"
#include "db/migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
usage(FILE *out)
{
	fprintf(out, "usage: relayctl migrate [--status] [--dir DIR] [-c FILE]\n"
	                "  --dir DIR  migrations directory (default: migrations/ of the build "
	                "tree, or PREFIX/share/relayaudit/migrations)\n"
	                "  --status   list applied and pending migrations; exit 1 when any "
	                "is pending\n");
	return out == stdout ? 0 : 2;
}

char *
ctl_migrations_dir(void)
{
	static const char *const rels[] = {"migrations", "share/relayaudit/migrations", NULL};
	char *root = paths_exe_root();
	char *dir = paths_find_dir(root, rels);

	free(root);
	return dir;
}

int
ctl_migrate(int argc, char **argv)
{
	const char *config_path = NULL;
	char *dir = NULL;
	bool status = false;
	struct config *cfg;
	PGconn *conn;
	int rc;

	if (ctl_help_wanted(argc, argv))
		return usage(stdout);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--status") == 0)
			status = true;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = xstrdup(argv[++i]);
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config_path = argv[++i];
		else
			return usage(stderr);
	}
	if (dir == NULL && (dir = ctl_migrations_dir()) == NULL) {
		log_error("migrate_failed", "error=\"no migrations directory found; use --dir\"");
		return 1;
	}
	cfg = conf_load(config_path);
	conn = cfg ? ctl_db_connect(cfg) : NULL;
	config_free(cfg);
	if (conn == NULL) {
		free(dir);
		return 1;
	}
	if (status) {
		rc = migrate_status(conn, dir, stdout);
		rc = rc < 0 ? 1 : (rc > 0 ? 1 : 0);
	} else {
		rc = migrate_apply(conn, dir) < 0 ? 1 : 0;
	}
	db_close(conn);
	free(dir);
	return rc;
}
