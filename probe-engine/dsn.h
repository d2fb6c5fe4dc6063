/*
 * Reads a delivery status notification (RFC 3464 inside an RFC 6522
 * multipart/report): the per-recipient fields and where the returned
 * original message or headers sit, so the sink can find the token of the
 * probe that caused the bounce. A pure function over a bounded buffer.
 */
#ifndef RELAYAUDIT_DSN_H
#define RELAYAUDIT_DSN_H

#include <stdbool.h>
#include <stddef.h>

#define DSN_MAX_RECIPIENTS 8
#define DSN_FIELD_MAX 256

struct dsn_recipient {
	char original[DSN_FIELD_MAX]; /* Original-Recipient address, "rfc822;" removed */
	char final[DSN_FIELD_MAX];    /* Final-Recipient address */
	char action[32];              /* failed, delayed, delivered, relayed, expanded */
	char status[32];              /* "5.1.1" */
	char diagnostic[DSN_FIELD_MAX];
};

struct dsn {
	char reporting_mta[DSN_FIELD_MAX];
	struct dsn_recipient rcpt[DSN_MAX_RECIPIENTS];
	size_t nrcpt;
	bool rcpt_truncated;  /* more recipient blocks than DSN_MAX_RECIPIENTS */
	const char *original; /* the returned message or headers, pointing into the input */
	size_t original_len;
	bool headers_only; /* text/rfc822-headers rather than message/rfc822 */
};

/*
 * 0 when msg[0..len) (headers and body) is a multipart/report carrying a
 * message/delivery-status part; -1 otherwise. *out is always initialised.
 */
int dsn_parse(const char *msg, size_t len, struct dsn *out);

#endif
