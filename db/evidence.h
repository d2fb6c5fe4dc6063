/*
 * The proof behind a probe, as a customer's mail shows it: which attempt's
 * test message the sink received, when and from which address.
 */
#ifndef RELAYAUDIT_DB_EVIDENCE_H
#define RELAYAUDIT_DB_EVIDENCE_H

#include <libpq-fe.h>
#include <stdint.h>

struct db_proof {
	char *token;       /* the attempt's token (the mail abbreviates it) */
	char *received_at; /* "YYYY-MM-DD HH:MM:SS UTC" */
	char *peer;        /* the address the message came from */
};

/* The first receipt matched to probe_id: 1 found, 0 none, -1 error. */
int db_probe_proof(PGconn *conn, int64_t probe_id, struct db_proof *out);
void db_proof_clear(struct db_proof *p);

#endif
