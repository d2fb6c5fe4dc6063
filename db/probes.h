/*
 * SQL for probe results: a batch of finished targets is written in one
 * transaction (probe rows, the attempts that got past RCPT, each target's
 * last_* columns with its lease released and next probe time set, sweep
 * counters, answered re-test requests). Probe ids are reserved at claim
 * time, so re-running a batch after a lost connection writes nothing twice.
 */
#ifndef RELAYAUDIT_DB_PROBES_H
#define RELAYAUDIT_DB_PROBES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe-engine/probe.h"

struct attempt_row {
	int idx;
	char *sender, *form;
	bool backscatter;
	char *mail_from, *rcpt_to, *token;
	int mail_code, rcpt_code, data_code, eod_code; /* 0 = none */
	char *stage, *outcome;
	int rcpts; /* recipients accepted in its transaction */
	bool tls;  /* its connection spoke TLS (STARTTLS or port 465) */
};

/* One probe of one address and port; every string owned (NULL = SQL NULL). */
struct probe_row {
	int64_t id;
	int64_t target_id;
	char *address;
	int port;
	int64_t sweep_id;          /* 0 = none */
	int64_t started_ms;        /* wall clock */
	int64_t duration_ms;
	enum probe_verdict verdict;     /* named by db/probes.c on the way in */
	enum backscatter_result backscatter;
	char *trick, *stage, *error, *banner;
	char *evidence;            /* JSON text */
	bool trick_alone;          /* the trick's form was sent in a transaction of its own */
	int64_t confirm_deadline_ms; /* 0 = not waiting for the sink */
	struct attempt_row *attempts;
	size_t nattempts;
};

void probe_row_clear(struct probe_row *p);

/* One finished target: the update of its row. */
struct target_done {
	int64_t target_id;
	int claimed_priority;
	int64_t claimed_sweep;     /* 0 = none */
	int64_t last_probe_id;     /* 0 = nothing probed (excluded, skipped) */
	enum probe_verdict last_verdict;     /* meaningful when last_probe_id != 0 */
	enum backscatter_result last_backscatter;
	int64_t next_in_s;         /* next periodic probe, seconds from now */
	int64_t started_ms;
};

int probes_write_batch(PGconn *c, const char *node, const struct probe_row *const *rows,
		       size_t nrows, const struct target_done *targets, size_t ntargets);

/*
 * Accepted probes past confirm_deadline become accepted_not_relayed; count or
 * -1. fn (may be NULL) hears each one: its final verdict, for the log.
 */
typedef void (*probes_expired_fn)(void *arg, int64_t probe_id, const char *address, int port);
int64_t probes_expire_confirm(PGconn *c, int limit, probes_expired_fn fn, void *arg);
/* Deletes up to limit probes started more than retention_s ago; count or -1. */
int64_t probes_prune(PGconn *c, int64_t retention_s, int limit);

#endif
