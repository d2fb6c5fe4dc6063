/*
 * relayctl import [--dry-run] [-c FILE] DATAFILE: customers and targets from
 * CSV or JSON lines, all or nothing. Errors are printed as DATAFILE:LINE:
 * message, at most IMPORT_MAX_ERRORS of them.
 */
#include "auditd/ctl/ctl.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"
#include "db/import.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define IMPORT_MAX_FILE ((size_t)1 << 30)

static int
usage(FILE *out)
{
	fprintf(out, "usage: relayctl import [--dry-run] [-c FILE] DATAFILE\n"
	                "  DATAFILE  CSV with a header row, or JSON lines (.jsonl/.ndjson)\n"
	                "  --dry-run validate and count what would change; write nothing\n");
	return out == stdout ? 0 : 2;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *data;

	if (f == NULL || fstat(fileno(f), &st) < 0) {
		log_error("import_failed", "file=%s error=\"%s\"", path, strerror(errno));
		if (f)
			fclose(f);
		return NULL;
	}
	if ((size_t)st.st_size > IMPORT_MAX_FILE) {
		log_error("import_failed", "file=%s error=\"larger than 1 GiB\"", path);
		fclose(f);
		return NULL;
	}
	data = xmalloc((size_t)st.st_size + 1);
	*len = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	data[*len] = '\0';
	return data;
}

static void
print_errors(const char *path, const struct import_result *res)
{
	for (int i = 0; i < res->nerrors; i++)
		fprintf(stderr, "%s:%d: %s\n", path, res->errors[i].line, res->errors[i].msg);
	if (res->errors_total > res->nerrors)
		fprintf(stderr, "%s: ... and %d more errors\n", path,
		        res->errors_total - res->nerrors);
	log_error("import_failed", "file=%s errors=%d written=0", path, res->errors_total);
}

int
ctl_import(int argc, char **argv)
{
	const char *config_path = NULL, *path = NULL;
	bool dry_run = false;
	struct config *cfg;
	struct import_limits limits;
	struct import_result res;
	struct import_counts counts;
	char ports[96];
	size_t len = 0;
	char *data;
	PGconn *conn;
	int rc;
	int64_t t0 = now_mono_ms();

	if (ctl_help_wanted(argc, argv))
		return usage(stdout);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			dry_run = true;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config_path = argv[++i];
		else if (argv[i][0] == '-' || path != NULL)
			return usage(stderr);
		else
			path = argv[i];
	}
	if (path == NULL)
		return usage(stderr);
	if ((cfg = conf_load(config_path)) == NULL)
		return 1;
	limits.max_cidr = (uint64_t)config_int(cfg, CFG_IMPORT_MAX_CIDR);
	limits.loopback_only = config_loopback_only(cfg);
	/* probe_ports is stored normalised as "25,587"; an array literal needs braces. */
	snprintf(ports, sizeof(ports), "{%s}", config_str(cfg, CFG_PROBE_PORTS));
	if ((data = read_file(path, &len)) == NULL) {
		config_free(cfg);
		return 1;
	}
	rc = import_parse(data, len, import_detect(path, data, len), &limits, &res);
	free(data);
	if (rc != 0) {
		print_errors(path, &res);
		import_result_free(&res);
		config_free(cfg);
		return 1;
	}
	conn = ctl_db_connect(cfg);
	config_free(cfg);
	if (conn == NULL) {
		import_result_free(&res);
		return 1;
	}
	rc = import_write(conn, &res, ports, dry_run, &counts);
	db_close(conn);
	if (rc != 0) {
		if (res.errors_total > 0)
			print_errors(path, &res);
		else
			log_error("import_failed", "file=%s written=0", path);
		import_result_free(&res);
		return 1;
	}
	log_info(dry_run ? "import_checked" : "import_done",
	         "file=%s rows=%zu targets=%ld customers_new=%ld customers_changed=%ld "
	         "targets_new=%ld targets_changed=%ld dry_run=%s ms=%lld",
	         path, res.nrows, counts.targets_total, counts.customers_new,
	         counts.customers_changed, counts.targets_new, counts.targets_changed,
	         dry_run ? "yes" : "no", (long long)(now_mono_ms() - t0));
	import_result_free(&res);
	return 0;
}
