/*
 * SQL of the case workflow's inputs and state: probe rounds waiting to be
 * judged, complaints, operator commands, due timers, the cases themselves,
 * their append-only event log and re-test requests. Synchronous libpq on the
 * workflow thread's own connection; the caller brackets each input in one
 * transaction (db_begin/db_commit) so an input and all it causes commit
 * together or not at all.
 */
#ifndef RELAYAUDIT_DB_CASES_H
#define RELAYAUDIT_DB_CASES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "probe-engine/probe.h"

struct db_case {
	int64_t id;
	int64_t target_id, customer_id; /* 0 = none */
	char address[64];
	char state[16];
	char finding[32];
	bool blocked;
	int reminders;
	int64_t next_timer_at; /* unix seconds; 0 = none */
	char timer_kind[16];   /* "reminder", "escalation" or "" */
	char mode[20];         /* port25_inbound | smarthost */
	int64_t opened_at;
	int64_t blocked_at; /* unix seconds; 0 = never */
	int64_t probe_id;
	char *trick;    /* NULL when none */
	char *evidence; /* jsonb text */
};

void db_case_clear(struct db_case *c);

/* Timestamps a save sets (once; later saves keep the first). */
enum db_case_stamp {
	DB_STAMP_NOTIFIED = 1 << 0,
	DB_STAMP_BLOCKED = 1 << 1,
	DB_STAMP_ESCALATED = 1 << 2,
	DB_STAMP_RESOLVED = 1 << 3,
	DB_STAMP_CLOSED = 1 << 4,
	DB_STAMP_REOPENED = 1 << 5, /* clears resolved_at and closed_at */
};

/* Serialises everything done about one address inside the transaction. */
/* Wake-ups for the workflow runner: relayaudit_workflow (API) and relayaudit_probes (results). */
int db_workflow_listen(PGconn *conn);
int db_workflow_lock_address(PGconn *conn, const char *address);

/* The active case of address, locked: 1 found, 0 none, -1 error. */
int db_case_active(PGconn *conn, const char *address, struct db_case *c);
/* Case id, locked: 1, 0 when missing, -1. */
int db_case_get(PGconn *conn, int64_t id, struct db_case *c);
/* True when another case than id is active for address. */
int db_case_other_active(PGconn *conn, const char *address, int64_t id);
/* Inserts c (state, finding, address, ...) and sets c->id; 0 or -1. */
int db_case_insert(PGconn *conn, struct db_case *c);
/* Writes state, blocked, reminders, timer and the stamps; 0 or -1. */
int db_case_save(PGconn *conn, const struct db_case *c, unsigned stamps);
/* Appends to case_events; from_state NULL for the event that opened it. Returns id or -1. */
int64_t db_case_event(PGconn *conn, int64_t case_id, const char *event, const char *from_state,
                      const char *to_state, const char *actor, const char *detail_json);
/* Appends an event that leaves the state as it is (executor news, re-test requests). */
int db_case_note_event(PGconn *conn, int64_t case_id, const char *event, const char *actor,
                       const char *detail_json);
/* Shows (error != NULL) or clears the failing-enforcer note on a case. */
int db_case_enforcement_error(PGconn *conn, int64_t case_id, const char *error);

/* A finished probe of one round. */
struct db_probe {
	int64_t id;
	int port;
	enum probe_verdict verdict; /* parsed here, at the database boundary */
	enum backscatter_result backscatter;
	int64_t started_at;
	char *trick;      /* NULL when none */
	char *transcript; /* NULL when none */
	char *finished;   /* "YYYY-MM-DD HH:MM:SS UTC" */
};

void db_probes_free(struct db_probe *p, int n);

/*
 * An address whose round of probes is complete (no probe of it still
 * running or waiting for the sink), or whose round holds a confirmed relay.
 * 1 with address set, 0 when none, -1 on error. Takes no lock.
 */
int db_probe_round_next(PGconn *conn, char *address, size_t len);
/*
 * Marks judged, in one statement, up to limit probes that cannot cause an
 * event: clean or inconclusive, no backscatter, on an address with no
 * active case and no open re-test request. Keeps a sweep of a million quiet
 * targets from costing a transaction each. Returns how many, or -1.
 */
int db_probes_skip_quiet(PGconn *conn, int limit);
/* The round's finished, unjudged probes of address, locked. *n may be 0. */
int db_probe_round_load(PGconn *conn, const char *address, struct db_probe **out, int *n);
/* Marks the loaded probes judged. */
int db_probe_round_done(PGconn *conn, const struct db_probe *p, int n);

/* The target and customer of address: 1, 0 when no target, -1. */
int db_target_of(PGconn *conn, const char *address, int64_t *target_id, int64_t *customer_id);
/* Brings the next periodic probe forward to at most seconds from now. */
int db_target_reprobe(PGconn *conn, int64_t target_id, int64_t seconds);
/*
 * Answers with probe_id the open re-test requests of target made before
 * that probe started. Returns how many (> 0: the round was a requested
 * re-test), or -1.
 */
int db_retest_answer(PGconn *conn, int64_t target_id, int64_t probe_id);

struct db_customer {
	char *email;
	char *locale;
	char *name;
	char *mode; /* NULL: the configured enforce_mode */
};
/* 1 found, 0 not, -1. */
int db_customer_get(PGconn *conn, int64_t id, struct db_customer *out);
void db_customer_clear(struct db_customer *c);

/* The oldest unprocessed complaint, locked (SKIP LOCKED): 1, 0 none, -1. */
int db_complaint_next(PGconn *conn, int64_t *id, char *address, size_t alen, char **actor);
int db_complaint_done(PGconn *conn, int64_t id, int64_t case_id);

/* The oldest unapplied operator command, locked (SKIP LOCKED): 1, 0 none, -1. */
int db_command_next(PGconn *conn, int64_t *id, int64_t *case_id, char *command, size_t clen,
                    char **note, char **actor);
int db_command_done(PGconn *conn, int64_t id, const char *result);

/* A case whose timer is due, locked (SKIP LOCKED): 1 with *case_id, 0 none, -1. */
int db_case_timer_next(PGconn *conn, int64_t *case_id);

#endif
