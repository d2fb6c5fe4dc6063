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
	int64_t started_ms, duration_ms;
	bool have_attempt; /* the attempt got past RCPT, so it is a row */
	char sender[40], form[40], token[48];
	bool backscatter_attempt;
	int eod_code;
	char address[64]; /* the probe's, for its verdict line */
	int port;
	bool applied_relay; /* the caller's: this receipt confirmed the relay */
};

/* Up to max unapplied receipts with a token from the last max_age_s seconds; count or -1. */
int receipts_pending(PGconn *c, int64_t max_age_s, struct receipt_match *out, int max);

/*
 * Writes the upgrade of one probe by one receipt in a transaction: the
 * probe's verdict, backscatter, trick, stage and confirmed_at, the attempt's
 * outcome (relayed), its target's last_* columns, and the receipt applied. A
 * probe the workflow already consumed is handed back to it. 0 or -1.
 */
int receipts_apply(PGconn *c, int64_t receipt_id, int64_t probe_id, int attempt,
                   const char *verdict, const char *backscatter, const char *trick, bool relayed);
/* Marks a receipt applied without changing its probe (refused, or nothing to do). */
int receipts_done(PGconn *c, int64_t receipt_id);

#endif
