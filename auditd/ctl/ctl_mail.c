/*
 * relayctl mail preview KIND --case N [--locale L] [--raw]: renders the mail
 * the workflow would queue for case N, from the same templates and data
 * (operator overrides included), and prints it: the header section as
 * queued and the body as the customer reads it, or --raw byte for byte.
 * Nothing is queued or changed.
 */
#include "auditd/ctl/ctl.h"
#include "auditd/workflow/notify_case.h"
#include "auditd/workflow/workflow.h"
#include "common/config.h"
#include "common/util.h"
#include "db/cases.h"
#include "db/db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
mail_usage(FILE *out)
{
	fprintf(out, "usage: relayctl mail preview KIND --case N [--locale L] [--raw] [-c FILE]\n"
	                "  KIND        relay_blocked, suspicious, backscatter, complaint_blocked,\n"
	                "              reminder, escalation, still_open or resolved\n"
	                "  --case N    the case whose data fills the mail\n"
	                "  --locale L  instead of the customer's language (en, de, nl, fr, ...)\n"
	                "  --raw       the message as queued (CRLF, quoted-printable)\n");
	return out == stdout ? 0 : 2;
}

int
ctl_mail(int argc, char **argv)
{
	const char *path = NULL, *locale = NULL, *why = NULL;
	struct db_customer cu = {0};
	struct db_case c = {0};
	struct notify_case_out out;
	enum wf_mail kind;
	int64_t case_id = 0;
	bool raw = false, have_cu = false;
	struct config *cfg;
	PGconn *conn = NULL;
	int rc = 1, found;

	if (ctl_help_wanted(argc, argv))
		return mail_usage(stdout);
	if (argc < 3 || strcmp(argv[1], "preview") != 0 || wf_mail_parse(argv[2], &kind) != 0)
		return mail_usage(stderr);
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
			if (parse_i64(argv[++i], 1, INT64_MAX, &case_id) != 0)
				return mail_usage(stderr);
		} else if (strcmp(argv[i], "--locale") == 0 && i + 1 < argc) {
			locale = argv[++i];
		} else if (strcmp(argv[i], "--raw") == 0) {
			raw = true;
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else {
			return mail_usage(stderr);
		}
	}
	if (case_id == 0)
		return mail_usage(stderr);
	cfg = conf_load(path);
	if (cfg == NULL)
		return 1;
	conn = ctl_db_connect(cfg);
	if (conn == NULL)
		goto done;
	found = db_case_get(conn, case_id, &c);
	if (found <= 0) {
		fprintf(stderr, "relayctl mail: %s\n",
		        found == 0 ? "no such case" : "the database did not answer");
		goto done;
	}
	found = c.customer_id ? db_customer_get(conn, c.customer_id, &cu) : 0;
	if (found < 0)
		goto done;
	have_cu = found > 0;
	if (!have_cu) {
		/* The workflow sends nothing without a contact; a preview still shows the text. */
		cu.email = xstrdup("customer@example.invalid");
		cu.locale = xstrdup("en");
		cu.name = xstrdup("");
	}
	if (notify_case_render(conn, cfg, &c, &cu, kind, NULL, c.blocked, "preview", locale,
	                       time(NULL), &out, &why) < 0) {
		fprintf(stderr, "relayctl mail: %s\n", why);
		goto done;
	}
	if (raw) {
		fputs(out.message, stdout);
	} else {
		/* The header section as queued, then the body as plain text. */
		const char *end = strstr(out.message, "\r\n\r\n");
		size_t n = end ? (size_t)(end - out.message) : strlen(out.message);

		for (size_t i = 0; i < n; i++) {
			if (out.message[i] != '\r')
				fputc(out.message[i], stdout);
		}
		printf("\n\n%s", out.text);
	}
	notify_case_out_clear(&out);
	rc = 0;
done:
	db_customer_clear(&cu);
	db_case_clear(&c);
	db_close(conn);
	config_free(cfg);
	return rc;
}
