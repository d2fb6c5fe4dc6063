/*
 * A small asynchronous SMTP client for notification mail: one session per
 * message to the smarthost on the caller's event_base, replies read with
 * the probe engine's bounded parser (probe-engine/reply.h). The owner is
 * called just before the final "." so it can record the hand-off: after
 * that point a lost connection leaves the delivery uncertain, never failed.
 */
#ifndef RELAYAUDIT_SMTP_CLIENT_H
#define RELAYAUDIT_SMTP_CLIENT_H

#include <stddef.h>

struct event_base;
struct evdns_base;

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

struct smtpc_params {
	const char *host;
	const char *port;
	const char *helo;
	int timeout_ms; /* connect and each reply */
};

/* Before the final dot; nonzero stops the session (tempfail) without sending it. */
typedef int (*smtpc_handoff_fn)(void *arg, struct smtpc_msg *m);

/*
 * Delivers n messages concurrently and returns when every session ended
 * (each bounded by its timeouts). dns may be NULL for a literal address.
 */
void smtpc_deliver(struct event_base *base, struct evdns_base *dns, const struct smtpc_params *p,
                   struct smtpc_msg *msgs, size_t n, smtpc_handoff_fn handoff, void *arg);

const char *smtpc_result_name(enum smtpc_result r);

#endif
