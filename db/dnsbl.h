/*
 * SQL of the DNSBL checks: which addresses to look up (with the zones that
 * list them now), and the record of a new listing (which asks for a re-test)
 * or a delisting, on the target and in the active case's timeline.
 */
#ifndef RELAYAUDIT_DB_DNSBL_H
#define RELAYAUDIT_DB_DNSBL_H

#include <libpq-fe.h>
#include <stdint.h>

struct dnsbl_target {
	int64_t id;
	char address[64];
	char *listed; /* the zones listing it now, space-separated with a space at each end */
};

/*
 * Up to limit targets that are not excluded, with ids above after_id, in id
 * order: *out (free with dnsbl_targets_free) and the count, or -1.
 */
int dnsbl_targets(PGconn *conn, int64_t after_id, int limit, struct dnsbl_target **out);
void dnsbl_targets_free(struct dnsbl_target *t, int n);

/*
 * zone lists the target with code (an A record such as "127.0.0.2"): 1 when
 * this is a new listing (recorded, a re-test asked for, the case timeline
 * told), 0 when it was already known, -1 on a database error.
 */
int dnsbl_record_listed(PGconn *conn, int64_t target_id, const char *zone, const char *code);
/* zone no longer lists the target: 1 recorded, 0 it was not listed, -1. */
int dnsbl_record_delisted(PGconn *conn, int64_t target_id, const char *zone);

#endif
