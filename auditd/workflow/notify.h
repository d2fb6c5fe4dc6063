/*
 * Notification mails: one template per kind and locale (notify_templates.c)
 * rendered into a whole RFC 5322 message (UTF-8, quoted-printable,
 * Auto-Submitted: auto-generated). Pure: the runner queues the result in the
 * outbox and the mailer delivers it byte for byte.
 */
#ifndef RELAYAUDIT_NOTIFY_H
#define RELAYAUDIT_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auditd/workflow/workflow.h"

/* Which blocks a kind's mail carries after its intro. */
enum notify_block {
	NOTIFY_EVIDENCE = 1 << 0, /* time, address, test, transcript */
	NOTIFY_FIX = 1 << 1,      /* how to close the relay, per MTA */
	NOTIFY_FLUSH = 1 << 2,    /* empty the queue before asking for a re-test */
	NOTIFY_LINK = 1 << 3,     /* the self-service re-test link */
};

/* The texts of one locale: common blocks, and subject and intro per kind. */
struct notify_locale {
	const char *locale; /* "en", "nl", "de" */
	const char *greeting;
	const char *evidence;
	const char *fix;
	const char *flush;
	const char *link;
	const char *signature;
	const char *mode_text[2];   /* port25_inbound, smarthost */
	const char *unblocked_note; /* resolved: the block was lifted */
	const char *still_blocked;  /* still open: the block stays */
	const char *no_transcript;
	struct {
		const char *subject;
		const char *intro;
	} kinds[WF_MAIL__COUNT];
};

/* The template table, and the locale used for want (falls back to "en"). */
const struct notify_locale *notify_templates(void);
int notify_template_count(void);
const struct notify_locale *notify_locale_find(const char *want);
/* The blocks kind carries. */
unsigned notify_kind_blocks(enum wf_mail kind);

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
};

/*
 * Renders m: *subject (UTF-8, unencoded) and *message (the whole message,
 * CRLF line ends), both malloc'd. 0, or -1 with *why.
 */
int notify_render(const struct notify_mail *m, char **subject, char **message, const char **why);

/* "<relayaudit.HASH@DOMAIN>": fixed per idempotency key (malloc'd). */
char *notify_message_id(const char *idempotency_key, const char *from);

/* At most max_lines lines and max_bytes bytes of transcript, indented (malloc'd). */
char *notify_transcript_excerpt(const char *transcript, int max_lines, size_t max_bytes);

#endif
