/*
 * Notification mail submission through libcurl's SMTP (STARTTLS, implicit
 * TLS on smtps://, AUTH PLAIN/LOGIN). One message per transfer, bounded by
 * connect and total timeouts; the owner is called once the smarthost has
 * said 354, before any byte of the message, so it can record the hand-off:
 * after that point a lost connection leaves the delivery uncertain, never
 * failed. Runs on the workflow thread (it blocks for at most the timeouts).
 */
#ifndef RELAYAUDIT_SMTP_CLIENT_H
#define RELAYAUDIT_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

enum smtpc_result {
	SMTPC_SENT,      /* 250 after the final dot */
	SMTPC_TEMPFAIL,  /* try again later */
	SMTPC_PERMFAIL,  /* 5xx for this message: never again */
	SMTPC_UNCERTAIN, /* the dot went out and no answer came (RFC 1047) */
};

struct smtpc_msg {
	const char *mail_from;
	const char *rcpt_to;
	const char *data; /* the whole message, CRLF lines, not dot-stuffed */
	void *user;
	/* Filled in: */
	enum smtpc_result result;
	char reply[256]; /* the deciding reply or why, censored */
};

enum smtpc_tls {
	SMTPC_TLS_NONE,     /* plain SMTP (smtps:// still speaks TLS) */
	SMTPC_TLS_STARTTLS, /* STARTTLS when offered */
	SMTPC_TLS_REQUIRED, /* STARTTLS or smtps, else no delivery */
};

/* The smarthost option: smtp://HOST:PORT, smtps://HOST:PORT or HOST:PORT. */
struct smtpc_target {
	bool smtps;
	char host[256]; /* without brackets for an IPv6 literal */
	int port;
};
/* Pure (fuzzed): 0, or -1 with *why. */
int smtpc_target_parse(const char *s, struct smtpc_target *out, const char **why);

struct smtpc_params {
	struct smtpc_target target;
	const char *helo;
	const char *user;     /* NULL or "": no AUTH */
	const char *password; /* with user */
	enum smtpc_tls tls;
	const char *ca_file;  /* verify the smarthost against this CA; NULL: system CAs */
	int timeout_ms;       /* connect, and each transfer as a whole */
};

/* Before the message's first byte; nonzero stops the transfer (tempfail) without sending it. */
typedef int (*smtpc_handoff_fn)(void *arg, struct smtpc_msg *m);

/*
 * Delivers n messages one after the other, each bounded by p->timeout_ms.
 * Credentials never travel without TLS: with a user, TLS is required
 * whatever p->tls says, and smarthost_tls = none with a user on smtp:// is
 * refused before connecting.
 */
void smtpc_deliver(const struct smtpc_params *p, struct smtpc_msg *msgs, size_t n,
                   smtpc_handoff_fn handoff, void *arg);

const char *smtpc_result_name(enum smtpc_result r);

#endif
