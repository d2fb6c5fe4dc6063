/*
 * The sink: a receive-only SMTP server for the service's own sink domain(s).
 * It accepts mail for those domains only (550 for anything else, so it can
 * never relay), bounds every byte and session, and hands each message up as
 * a receipt listing the probe tokens whose HMAC verifies. No database, JSON
 * or HTTP here.
 */
#ifndef RELAYAUDIT_SINK_H
#define RELAYAUDIT_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "probe-engine/token.h"

struct event_base;

struct sink_params {
	struct token_key key;       /* verifies the tokens of received messages */
	const char *const *domains; /* accepted recipient domains (copied) */
	size_t ndomains;
	const char *hostname; /* in the greeting and Received-style ids */
	size_t max_line;      /* command line incl. CRLF (RFC 5321: 512) */
	size_t max_message;   /* bytes after dot-unstuffing */
	int max_rcpts;        /* per message */
	int max_sessions;     /* concurrent */
	int per_peer;         /* concurrent from one address */
	int timeout_ms;       /* idle time per command or data line */
	int session_ms;       /* whole session, against slow trickling */
	int max_errors;       /* bad commands before 421 */
	int max_messages;     /* per session */
	size_t max_excerpt;   /* message bytes kept in a receipt */
	size_t max_buffered;  /* message bytes held by all sessions together (452 beyond) */
	const char *tls_cert; /* PEM files: offer STARTTLS with them; NULL/"" = no STARTTLS */
	const char *tls_key;
	int threads; /* event loops: > 1 gives each a thread and a listener of its own on the same
			port (SO_REUSEPORT; a peer's connections all go to one loop, so per_peer
			holds); max_sessions and max_buffered are shared out; 0 or 1 = the
			caller's loop */
};

void sink_params_defaults(struct sink_params *p);

/* Where a token was found in a message (bits of sink_token.where). */
enum sink_where {
	SINK_IN_RCPT = 1 << 0,   /* envelope recipient local part */
	SINK_IN_SENDER = 1 << 1, /* envelope sender */
	SINK_IN_SUBJECT = 1 << 2,
	SINK_IN_MESSAGE_ID = 1 << 3,
	SINK_IN_DSN_RECIPIENT = 1 << 4, /* a DSN's Original-/Final-Recipient */
	SINK_IN_DSN_ORIGINAL = 1 << 5,  /* the original message or headers a DSN returns */
	SINK_IN_BODY = 1 << 6,          /* anywhere else in the message */
	SINK_WHERE__LAST = SINK_IN_BODY
};
/* Name of one bit ("rcpt", "subject", ...). */
const char *sink_where_name(unsigned bit);

#define SINK_MAX_TOKENS 32
#define SINK_MAX_RECEIVED 32

struct sink_token {
	char token[TOKEN_BUFLEN]; /* lower case, as minted */
	uint64_t probe_id;
	unsigned attempt;
	unsigned where; /* enum sink_where bits */
};

/* One received message. Strings are printable ASCII ('?' replaces the rest). */
struct sink_receipt {
	char id[24]; /* the sink's queue id, also in its 250 reply */
	struct addr peer;
	int peer_port;
	char *helo;
	char *mail_from; /* reverse path without brackets; "" for <> */
	char **rcpts;    /* accepted recipients */
	size_t nrcpts;
	char *subject; /* NULL when absent */
	char *message_id;
	char **received; /* Received: values, newest first, bounded */
	size_t nreceived;
	bool null_sender;
	bool dsn;         /* a multipart/report delivery status notification */
	bool bounce;      /* dsn or null sender */
	char *dsn_action; /* of the first DSN recipient; NULL when not a DSN */
	char *dsn_status;
	char *dsn_original_rcpt;
	char *dsn_final_rcpt;
	struct sink_token tokens[SINK_MAX_TOKENS]; /* verified only */
	size_t ntokens;
	int forged;    /* token-shaped strings whose MAC failed */
	size_t size;   /* message bytes after unstuffing */
	char *excerpt; /* the first max_excerpt bytes, '\n' line ends */
	bool excerpt_truncated;
	int64_t received_ms; /* wall clock at the final dot */
	bool tls;            /* it came inside TLS (STARTTLS) */
};

void sink_receipt_free(struct sink_receipt *r);

/*
 * The receipt of one message (peer fields left zero): headers, DSN and token
 * extraction over msg[0..len) ('\n' or CRLF line ends). Pure but for the
 * clock; the server calls it at the final dot.
 */
struct sink_receipt *sink_receipt_make(const struct token_key *key, const char *helo,
                                       const char *mail_from, const char *const *rcpts,
                                       size_t nrcpts, const char *msg, size_t len,
                                       size_t max_excerpt);

/* Called for every accepted message, on the caller's loop; the callee owns r (sink_receipt_free). */
typedef void (*sink_receipt_fn)(struct sink_receipt *r, void *arg);

struct sink;

/* Listens on addr:port (port 0 = any; see sink_port). NULL with *why on failure. */
struct sink *sink_new(struct event_base *base, const struct sink_params *p, const struct addr *addr,
                      int port, sink_receipt_fn fn, void *arg, const char **why);
int sink_port(const struct sink *s);

struct sink_stats {
	uint64_t sessions, messages, refused_rcpts, refused_sessions, forged, tokens;
	size_t active;
};
/* Totals over every loop (the caller's thread; other loops' figures as they last published). */
void sink_stats(const struct sink *s, struct sink_stats *out);

/* Closes the listener and every session. Safe from inside the receipt callback. */
void sink_free(struct sink *s);

/* ---- the command parser, pure so it can be fuzzed ---- */

enum sink_verb {
	SINK_CMD_UNKNOWN,
	SINK_CMD_HELO,
	SINK_CMD_EHLO,
	SINK_CMD_MAIL,
	SINK_CMD_RCPT,
	SINK_CMD_DATA,
	SINK_CMD_RSET,
	SINK_CMD_NOOP,
	SINK_CMD_QUIT,
	SINK_CMD_VRFY,
	SINK_CMD_HELP,
	SINK_CMD_STARTTLS,
	SINK_CMD_UNSUPPORTED, /* known verbs the sink does not offer: AUTH, STARTTLS, BDAT... */
	SINK_CMD__COUNT
};

struct sink_cmd {
	enum sink_verb verb;
	const char *arg; /* points into the line; for MAIL/RCPT what follows the colon */
	size_t arg_len;
};

/* line has no line end. 0, or -1 for a syntax error (bad MAIL/RCPT form). */
int sink_cmd_parse(const char *line, size_t len, struct sink_cmd *out);

#define SINK_LOCAL_MAX 256
#define SINK_DOMAIN_MAX 256

struct sink_path {
	bool null;                    /* "<>" */
	char local[SINK_LOCAL_MAX];   /* quotes kept as sent */
	char domain[SINK_DOMAIN_MAX]; /* after the last unquoted '@'; "" when none */
	size_t size;                  /* SIZE= parameter, 0 when absent */
};

/* "<local@domain> PARAMS" (brackets optional, source route dropped). 0 or -1 with *why. */
int sink_path_parse(const char *arg, size_t len, struct sink_path *out, const char **why);
/* True when domain (case-insensitive, one trailing dot allowed) is one of domains. */
bool sink_domain_match(const char *domain, const char *const *domains, size_t n);

#endif
