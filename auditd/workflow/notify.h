/*
 * Notification mails: one template file per kind and locale
 * (templates/<locale>/<kind>.txt, see common/template.h) rendered into a
 * whole RFC 5322 message (UTF-8, quoted-printable, Auto-Submitted:
 * auto-generated). No database: the runner and `relayctl mail preview` fill
 * a notify_mail, the runner queues the result in the outbox and the mailer
 * delivers it byte for byte.
 */
#ifndef RELAYAUDIT_NOTIFY_H
#define RELAYAUDIT_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auditd/workflow/workflow.h"

#include "common/template.h"

struct notify_mail {
	enum wf_mail kind;
	const char *locale;        /* the customer's; NULL or unknown -> en */
	const char *from;          /* notify_from */
	const char *to;            /* customer contact */
	const char *customer_name; /* may be empty */
	uint64_t case_id;
	const char *address;
	int port;               /* 0: unknown (complaint) */
	const char *found_at;   /* time of the evidence, as shown */
	const char *opened_at;  /* time the case was opened, as shown */
	const char *trick;      /* the test that succeeded; may be NULL */
	const char *transcript; /* "C: "/"S: " lines; may be NULL */
	const char *mode;       /* "port25_inbound" or "smarthost" */
	const char *retest_link;
	int64_t link_expires;        /* unix seconds */
	int64_t retest_min_interval; /* seconds */
	bool was_blocked;            /* resolved/still open: a block was in place */
	const char *message_id;      /* "<...>" from notify_message_id() */
	int64_t date;                /* unix seconds of the Date: header */
	const struct tmpl_dirs *dirs; /* where the templates are */
	const char *verdict;          /* of the evidence's probe; may be NULL */
	const char *proof_token;      /* the attempt the sink received; may be NULL */
	const char *received_at;      /* when the sink received it, as shown */
	const char *received_from;    /* the address it came from */
	const char *isp_name, *isp_email, *isp_phone; /* phone may be empty */
	bool complaint_kept; /* a complaint block stays until an operator lifts it */
};

/*
 * Renders m: *subject (UTF-8, unencoded) and *message (the whole message,
 * CRLF line ends), both malloc'd; *text, when not NULL, gets the body as
 * plain text (LF ends) and locale the locale used. 0, or -1 with *why.
 */
int notify_render(const struct notify_mail *m, char **subject, char **message, const char **why);
int notify_render_text(const struct notify_mail *m, char **subject, char **text, char locale[8],
                       const char **why);

/*
 * The proving exchange out of a probe's transcript: the transaction whose
 * RCPT carried token (or the first that reached the end of DATA), with MAIL,
 * the accepted RCPTs, DATA, the message and the reply after the final dot,
 * each reply beside its command; indented, tokens abbreviated. With
 * greeting, the EHLO/HELO in force comes first (for tricks that greeted as
 * the target). New string.
 */
char *notify_exchange(const char *transcript, const char *token, bool greeting);

/* Every probe token in s ("rt" and 16 or more hex digits) cut to its first 8 characters and "…"
 * (new string): a reader of the evidence cannot replay one. */
char *notify_abbrev_tokens(const char *s);

/* "<relayaudit.HASH@DOMAIN>": fixed per idempotency key (malloc'd). */
char *notify_message_id(const char *idempotency_key, const char *from);

/* At most max_lines lines and max_bytes bytes of transcript, indented (malloc'd). */
char *notify_transcript_excerpt(const char *transcript, int max_lines, size_t max_bytes);

#endif
