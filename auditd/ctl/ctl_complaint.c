/*
 * relayctl complaint --mail FILE|-: files one complaint report that arrived
 * by mail (ARF or X-ARF), so an MTA can pipe an abuse mailbox into it. A
 * report that cannot be filed is kept in complaint_quarantine_dir, never lost.
 */
#include "auditd/ctl/ctl.h"
#include "common/config.h"
#include "common/quarantine.h"
#include "common/util.h"
#include "db/arf_parse.h"
#include "db/complaints.h"
#include "db/db.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sysexits.h values an MTA understands: refused for good, or try again later. */
#define COMPLAINT_EX_REFUSED 65  /* EX_DATAERR: the report is kept in quarantine */
#define COMPLAINT_EX_TEMPFAIL 75 /* EX_TEMPFAIL: nothing was kept or filed; deliver again */

static int
complaint_usage(FILE *out)
{
	fprintf(out,
		"usage: relayctl complaint [-c FILE] --mail FILE|-\n"
		"  --mail FILE   an ARF (RFC 5965) or X-ARF report, '-' for standard input\n"
		"exit: 0 filed, %d refused (kept in complaint_quarantine_dir), %d try again later\n",
		COMPLAINT_EX_REFUSED, COMPLAINT_EX_TEMPFAIL);
	return out == stdout ? 0 : 2;
}

/* Refuses the report: keeps it (and whatever is left of in) with the reason. */
static int
complaint_refuse(const struct config *cfg, const char *data, size_t len, FILE *rest,
		 const char *reason)
{
	const char *why = NULL;
	char *path = NULL;

	if (quarantine_keep(config_str(cfg, CFG_COMPLAINT_QUARANTINE_DIR), data, len, rest, reason,
			    &path, &why) != 0) {
		fprintf(stderr, "relayctl complaint: refused: %s; and not kept: %s\n", reason, why);
		return COMPLAINT_EX_TEMPFAIL;
	}
	fprintf(stderr, "relayctl complaint: refused: %s; kept in %s\n", reason, path);
	free(path);
	return COMPLAINT_EX_REFUSED;
}

static int
complaint_file(const struct config *cfg, const char *data, size_t len)
{
	struct arf_report rep;
	struct complaint_in in = {.actor = "relayctl"};
	const char *why = NULL;
	char *conninfo, *source, *raw, *json = NULL, err[256];
	struct pstmt *db;
	int s;

	if (arf_parse(data, len, &rep, &why) != 0)
		return complaint_refuse(cfg, data, len, NULL, why);
	conninfo = db_conninfo(cfg, &why);
	if (conninfo == NULL) {
		fprintf(stderr, "relayctl complaint: %s\n", why);
		return COMPLAINT_EX_TEMPFAIL;
	}
	db = pstmt_connect_cli(conninfo);
	free(conninfo);
	if (db == NULL)
		return COMPLAINT_EX_TEMPFAIL;
	source = xasprintf("%s %s from %s (%s)", arf_format_name(rep.format),
			   *rep.feedback_type ? rep.feedback_type : "report",
			   *rep.reporter ? rep.reporter : "unknown sender", rep.ip_from);
	raw = arf_evidence_text(data, len);
	in.address = rep.source_ip;
	in.source = source;
	in.raw = raw;
	s = complaints_file(db, &in, &json, err, sizeof(err));
	pstmt_close(db);
	free(source);
	free(raw);
	if (s == PSTMT_INVALID) {
		free(json);
		return complaint_refuse(cfg, data, len, NULL, err);
	}
	if (s != PSTMT_OK) {
		fprintf(stderr, "relayctl complaint: not filed: %s\n", err);
		return COMPLAINT_EX_TEMPFAIL;
	}
	printf("%s\n", json);
	free(json);
	return 0;
}

int
ctl_complaint(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"mail", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *mail = NULL;
	struct config *cfg;
	FILE *in;
	char *data;
	size_t len;
	int opt, rc;

	if (ctl_help_wanted(argc, argv))
		return complaint_usage(stdout);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'm': mail = optarg; break;
		default: return complaint_usage(stderr);
		}
	}
	if (mail == NULL || optind != argc)
		return complaint_usage(stderr);
	cfg = conf_load(path);
	if (cfg == NULL)
		return COMPLAINT_EX_TEMPFAIL;
	in = strcmp(mail, "-") == 0 ? stdin : fopen(mail, "rb");
	if (in == NULL) {
		fprintf(stderr, "relayctl complaint: cannot open %s\n", mail);
		config_free(cfg);
		return 1;
	}
	/* One byte past the bound tells a report that is too large. */
	data = xmalloc(ARF_MAX_REPORT + 1);
	len = fread(data, 1, ARF_MAX_REPORT + 1, in);
	if (ferror(in)) {
		fprintf(stderr, "relayctl complaint: cannot read %s\n", mail);
		rc = COMPLAINT_EX_TEMPFAIL;
	} else if (len > ARF_MAX_REPORT) {
		rc = complaint_refuse(cfg, data, len, in, "the report is larger than 1 MiB");
	} else {
		rc = complaint_file(cfg, data, len);
	}
	if (in != stdin)
		fclose(in);
	free(data);
	config_free(cfg);
	return rc;
}
