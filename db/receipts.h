/*
 * SQL for the sink's receipts: each received message is stored (one row per
 * verified token it carried, or one row when it carried none), and unapplied
 * rows are read back joined to their probe and attempt so the sink role can
 * apply the correlation rules (confirm_apply) and write the upgrade.
 */
#ifndef RELAYAUDIT_DB_RECEIPTS_H
#define RELAYAUDIT_DB_RECEIPTS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One stored receipt row; strings owned by the caller, NULL = empty. */
struct receipt_row {
	const char *peer;
	const char *helo, *mail_from;
	const char *const *rcpts;
	size_t nrcpts;
	bool is_bounce;
	int64_t probe_id; /* 0 = no verified token */
	int attempt;
	const char *token_where; /* "rcpt,subject,..." plus "report" for a DSN */
	int forged;
	const char *received_chain;
	const char *excerpt;
	int64_t size;
	int64_t received_ms;
};

/* Inserts rows in one transaction; 0 or -1. */
int receipts_insert(PGconn *c, const char *node, const struct receipt_row *rows, size_t n);

/* An unapplied receipt with its probe and attempt, as far as they exist yet. */
struct receipt_match {
	int64_t receipt_id, probe_id;
	int attempt;
	bool is_bounce;
	char token_where[160];
	int64_t received_ms;
	bool have_probe; /* the probe row exists and has a verdict */
	char verdict[32], backscatter[32];
	char trick[96];
	bool trick_alone;
	char address[64];          /* the probed address, for the Received: check */
	char *received_chain;      /* malloc'd; receipts_match_free */
	int64_t started_ms, duration_ms;
	int64_t confirm_deadline_ms; /* 0 = none stored */
	bool have_attempt; /* the attempt got past RCPT, so it is a row */
	char sender[40], form[40], token[48];
	bool backscatter_attempt;
	bool attempt_used; /* an earlier receipt already confirmed it */
	int eod_code;
	int rcpts;
	int port; /* the probe's, for its verdict line */
	bool tls; /* the attempt's connection spoke TLS: the trick keeps its +tls */
};

/*
 * Up to max unapplied receipts with a token from the last max_age_s
 * seconds, oldest first; count or -1. orphans = false: receipts not yet
 * looked at (a receipt without its probe row is then marked with
 * receipts_orphan, which moves the scan past it); true: marked orphans whose
 * probe row has appeared since.
 */
int receipts_pending(PGconn *c, bool orphans, int64_t max_age_s, struct receipt_match *out,
                     int max);
void receipts_match_free(struct receipt_match *m, int n);
/* Marks receipts whose probe row does not exist yet (orphan_at = now()). */
int receipts_orphan(PGconn *c, const int64_t *ids, size_t n);
/*
 * Settles what never can match: receipts with no verified token (anomaly
 * "forged token" when they carried a token whose MAC failed) and orphans
 * older than orphan_max_s (anomaly "its probe was never written"). Count or -1.
 */
int64_t receipts_settle(PGconn *c, int64_t orphan_max_s);

/*
 * Writes the upgrade of one probe by one receipt in a transaction: the
 * probe's verdict, backscatter, trick (NULL: unchanged) and trick_alone,
 * stage and confirmed_at, the attempt's outcome (relayed: its token is now
 * used), its target's last_* columns, an active case's trick, and the
 * receipt applied with its Received: check. A probe the workflow already
 * consumed is handed back to it when its verdict changed. 0 or -1.
 */
int receipts_apply(PGconn *c, const struct receipt_match *m, const char *verdict,
                   const char *backscatter, const char *trick, bool trick_alone, bool used,
                   bool via_target);
/*
 * The receipts of a batch that change no probe row, settled in one
 * statement: accepted tokens (their attempt becomes relayed, the token used)
 * and anomalies with their reasons. Most receipts of an open relay are the
 * former: one round trip for a batch instead of a transaction each.
 */
struct receipt_settled {
	int64_t receipt_id, probe_id;
	int attempt;
	bool used;           /* else an anomaly */
	const char *anomaly; /* static reason */
	int via_target;      /* 0, 1, or -1 unknown */
};
int receipts_settle_many(PGconn *c, const struct receipt_settled *s, size_t n);

#endif
