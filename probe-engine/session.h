/*
 * One SMTP connection of a probe, as an explicit state machine: connect,
 * (on a TLS port the handshake,) wait for the final greeting line, EHLO
 * (HELO on 500/502), then transactions of attempts taken from the run until
 * the run has nothing ready or this connection's error budget is spent,
 * then QUIT; with PIPELINING, until a RCPT is accepted, all of them and QUIT
 * in one write. Once a refusal asked for TLS, STARTTLS, the handshake and a
 * fresh EHLO come before the next transaction. The session records replies
 * into the run; the engine decides whether to reconnect.
 */
#ifndef RELAYAUDIT_SESSION_H
#define RELAYAUDIT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "probe-engine/run.h"

struct event_base;
typedef struct ssl_ctx_st SSL_CTX;

enum session_state {
	SS_CONNECT,
	SS_BANNER,
	SS_EHLO,
	SS_HELO,
	SS_STARTTLS, /* STARTTLS sent, waiting for its 220 */
	SS_TLS,      /* the TLS handshake (after STARTTLS, or first thing on a TLS port) */
	SS_RSET,
	SS_MAIL,
	SS_RCPT,
	SS_DATA,
	SS_EOD,
	SS_QUIT,
	SS_DONE,
	SS__COUNT
};

/* Why a connection ended; the engine maps this to reconnect, retry or verdict. */
enum session_end {
	SE_NONE,
	SE_FINISHED,       /* nothing ready to run now */
	SE_BUDGET,         /* this connection's error budget is spent; more is ready */
	SE_CONNECT_FAILED, /* refused, unreachable, or connect timed out */
	SE_REJECTED,       /* 5xx or 421 greeting, close before the greeting, EHLO+HELO refused */
	SE_DROPPED,        /* 421 or close after the greeting */
	SE_TIMEOUT,        /* a reply did not complete in its state's time */
	SE_PROTOCOL,       /* malformed or oversized reply */
	SE_DEADLINE,       /* the probe's overall deadline passed */
	SE_RESOURCE,       /* no descriptor or socket for now */
	SE_TLS,            /* STARTTLS refused or the TLS handshake failed */
	SE__COUNT
};

const char *session_state_name(enum session_state s);
const char *session_end_name(enum session_end e);
/* "timeout while waiting for RCPT TO reply" and the like. */
const char *session_state_label(enum session_state s);
/* Per-state timeout in ms for a base timeout (one row of the table each). */
int session_state_timeout(enum session_state s, int base_ms);

struct session;
typedef void (*session_end_fn)(struct session *s, void *arg);

/*
 * Starts connecting for run. end is called once, from a deferred event,
 * never from inside session_start; the owner then frees the session with
 * session_free (also outside the session's own callbacks). tls is the
 * engine's client context; implicit_tls starts the handshake before the
 * greeting (port 465), otherwise STARTTLS is used when the run wants TLS.
 */
struct session *session_start(struct event_base *base, struct probe_run *run, int port,
			      SSL_CTX *tls, bool implicit_tls, session_end_fn end, void *arg);
void session_free(struct session *s);

enum session_end session_end_reason(const struct session *s);
enum session_state session_end_state(const struct session *s);
const char *session_end_detail(const struct session *s);
int session_errors(const struct session *s); /* 4xx/5xx replies on this connection */
bool session_greeted(const struct session *s); /* the final greeting line arrived */

#endif
