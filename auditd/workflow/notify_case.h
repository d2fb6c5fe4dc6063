/*
 * A case's notification mail from what the database and the config know:
 * the customer, the evidence (this round's probe or the case's), the sink's
 * receipt that proves it, the ISP's contact and the templates. Shared by
 * the runner (which queues it) and `relayctl mail preview` (which prints it).
 */
#ifndef RELAYAUDIT_NOTIFY_CASE_H
#define RELAYAUDIT_NOTIFY_CASE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "auditd/workflow/workflow.h"
#include "common/config.h"
#include "db/cases.h"

/* One probe's result as a mail shows it. */
struct notify_round {
	int64_t probe_id;
	int port;
	const char *verdict, *trick, *transcript, *found_at;
};

struct notify_case_out {
	char *subject;
	char *message; /* the whole RFC 5322 message, as queued */
	char *text;    /* its body as plain text */
	char *message_id;
	char locale[8];
};

/*
 * Renders kind for case c and customer cu. round is this round's evidence
 * or NULL for the case's own; key names the mail (Message-ID); locale
 * overrides the customer's when not NULL. 0, or -1 with *why.
 */
int notify_case_render(PGconn *conn, const struct config *cfg, const struct db_case *c,
                       const struct db_customer *cu, enum wf_mail kind,
                       const struct notify_round *round, bool was_blocked, const char *key,
                       const char *locale, int64_t now, struct notify_case_out *out,
                       const char **why);
void notify_case_out_clear(struct notify_case_out *out);

#endif
