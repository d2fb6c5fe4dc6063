/*
 * The webhook executor: POSTs each queued case event (db/webhook.h) to
 * webhook_url as JSON with an HMAC-SHA-256 signature and the event id as
 * idempotency key, through libcurl. A 2xx answer marks it delivered; any
 * other answer or error retries with backoff, up to webhook_max_attempts.
 */
#ifndef RELAYAUDIT_WEBHOOK_H
#define RELAYAUDIT_WEBHOOK_H

#include <libpq-fe.h>
#include <stdatomic.h>

struct config;

/*
 * Delivers up to max due events, one request at a time, each bounded by
 * webhook_timeout and cut short by *stop; a failure ends the pass (the
 * receiver is likely down: the rest waits for the next pass rather than
 * each timing out in turn). Returns how many were handled, or -1 on a
 * database error; 0 at once when webhook_url is empty.
 */
int webhook_run(PGconn *conn, const struct config *cfg, const char *node, const atomic_bool *stop,
                int max);

#endif
