/*
 * The outbox executor: claims queued notifications and delivers them to the
 * smarthost (smtp_client.c), or, with no smarthost configured, writes each
 * to outbox_dir/ID-KIND.eml. Exactly once: the outbox row is claimed with a
 * lease; the hand-off (the final dot) is recorded before it is sent; a row
 * whose earlier attempt reached the hand-off and then died is marked sent
 * with a note instead of being sent again. Writing a file is idempotent by
 * itself (same name, atomic rename).
 */
#ifndef RELAYAUDIT_MAILER_H
#define RELAYAUDIT_MAILER_H

#include <libpq-fe.h>

struct config;
struct event_base;
struct evdns_base;

/*
 * Delivers up to max due messages; returns how many were handled, or -1 on
 * a database error. base/dns: the workflow thread's own loop (never the
 * probe loop); dns may be NULL when the smarthost is an address.
 */
int mailer_run(PGconn *conn, const struct config *cfg, const char *node, struct event_base *base,
               struct evdns_base *dns, int max);

#endif
