/*
 * One target's probe as it goes: the attempts (from the catalogue), which of
 * them are still to run, the rules that turn one reply into an attempt's
 * outcome, and the bounded transcript. Sessions (one per connection) read
 * and write it; the engine owns it. Pure bookkeeping, no I/O.
 */
#ifndef RELAYAUDIT_RUN_H
#define RELAYAUDIT_RUN_H

#include "probe-engine/catalogue.h"
#include "probe-engine/domains.h"
#include "probe-engine/probe.h"
#include "probe-engine/txbuf.h"

#define RUN_HOST_MAX 256
#define RUN_BREAKS_MAX 3   /* connection losses one attempt may suffer before it is an error */
#define RUN_ERR_BUDGET 9   /* 4xx/5xx replies per connection: under Postfix's soft limit of 10 */
#define RUN_TEXT_KEEP 200  /* bytes of reply text kept per reply in the evidence */
/*
 * Forms accepted in company (several recipients in one transaction) sent
 * again alone, so the trick named is one that relays on its own.
 */
#define RUN_RESEND_MAX CATALOGUE_RESEND_MAX
#define RUN_DOMAINS_MAX 16 /* domains on record a run keeps (backscatter, spoof-domain) */

enum att_state {
	ATT_PENDING,    /* to run as soon as a connection has room */
	ATT_RUNNING,    /* its commands are on the wire */
	ATT_WAIT_RETRY, /* got a 4xx; runs again at retry_at */
	ATT_DONE,
};

/*
 * The replies an attempt keeps while it runs (probe_attempt's mail, rcpt,
 * data, eod). MAIL and RCPT in the attempt; DATA and end of data, which
 * only the few attempts a server accepted get, in the run's late table.
 */
enum run_reply_slot { RUN_REPLY_MAIL, RUN_REPLY_RCPT, RUN_REPLY_DATA, RUN_REPLY_EOD, RUN_REPLY__COUNT };

struct run_late_reply {
	uint16_t pos;       /* the attempt's position */
	uint16_t data, eod; /* 1 + position in run->replies; 0: none */
	uint16_t mail, rcpt; /* the MAIL and RCPT replies of an attempt whose byte says RUN_REPLY_FAR */
};

/* st->reply[]: the reply's position is beyond a byte, it is in the attempt's late entry */
#define RUN_REPLY_FAR 255

#define RUN_ADDR_MAX 512 /* a rendered MAIL FROM or RCPT TO argument */

/*
 * One attempt while the probe runs, in 10 bytes: what it is (the
 * catalogue's sender and form, its sender domain, its index) and how it
 * went. Its token is made again when it is needed (token_make_recent
 * remembers the MACs of the last few thousand), its addresses are rendered
 * when they are sent, and its replies are positions in the run's table of
 * distinct replies (a closed server gives three or four; past 254, in the
 * late table). What few attempts have is kept beside: the retry time of
 * those a 4xx made wait (run->retry_at), the original of a re-send alone
 * (run->resend_of). run_finish builds the probe_attempt records (some 200
 * bytes each, with every address and reply text) only for the result.
 * 10,000 probes in flight each hold about a hundred of these.
 */
struct run_att {
	uint8_t reply[2];    /* MAIL, RCPT: 1 + position in run->replies, RUN_REPLY_FAR; 0: none */
	uint8_t index;       /* attempt number (the token's) */
	int8_t sender;       /* catalogue_sender(), -1 for the backscatter attempts */
	int8_t form;         /* catalogue_form(), -1 for the backscatter attempts */
	uint8_t dom;         /* 1 + position in run->spoof (spoof-domain) or run->domains
				(backscatter); 0: none (backscatter: H) */
	/* 16-bit units (a GCC and Clang extension to C11) keep the struct at 10 bytes */
	uint16_t state : 2;     /* enum att_state */
	uint16_t outcome : 4;   /* enum attempt_outcome */
	uint16_t stage : 4;     /* enum probe_stage */
	uint16_t helo_kind : 2; /* enum probe_helo */
	uint16_t breaks : 2;    /* connection lost while running (< RUN_BREAKS_MAX) */
	uint16_t temps : 2;     /* 4xx replies seen (a second one decides) */
	uint16_t rcpt_ok : 1;   /* RCPT accepted in the current transaction (PENDING: put back, runs first) */
	uint16_t tls : 1;       /* its last try ran inside TLS */
	uint16_t alone : 1;     /* a transaction of its own (late forms, re-sends) */
	uint16_t backscatter : 1;
	uint16_t tries : 4;     /* > 1 after greylisting retries or reconnects (at most RUN_TRIES_MAX) */
	uint16_t rcpts : 6;     /* recipients accepted in its transaction (at most RUN_RCPTS_MAX) */
};

#define RUN_TRIES_MAX 15
#define RUN_RCPTS_MAX 63

struct reply_view {
	int code;
	const char *enhanced;
	const char *text;
};

struct probe_run {
	struct probe_result *res;
	const struct probe_params *params; /* the engine's; outlives the run */
	struct run_att *st;                /* the attempts while the probe runs (res->attempts
					      is built from them by run_finish) */
	uint32_t natt, att_cap;            /* attempts in st, room for */
	uint16_t *retry_at;                /* by attempt (made when one first waits): when an
					      ATT_WAIT_RETRY one runs again, in retry_unit ms
					      after start_mono, rounded up */
	uint32_t retry_unit;               /* ms: so that a day fits 16 bits */
	uint32_t resend_base;              /* st[resend_base..natt): the re-sends alone */
	uint8_t resend_of[RUN_RESEND_MAX]; /* 1 + position of the attempt each re-sends */
	struct smtp_reply_rec *replies;    /* the distinct replies seen (texts in res->strings) */
	struct run_late_reply *late;       /* DATA and end-of-data replies, by attempt */
	uint32_t nlate, late_cap;
	uint32_t nreplies, replies_cap;
	uint16_t helo_reply[PROBE_HELO__COUNT]; /* a refused greeting's reply (1 + position) */
	uint32_t nrelay;                   /* st[0..nrelay): the combined relay attempts */
	uint32_t nback;                    /* then the backscatter ones; then late forms, re-sends */
	uint32_t nresend;                  /* re-sends alone added so far */
	const char *const *domains;        /* customer domains, copied */
	uint32_t ndomains;
	char *spoof;                       /* spoof-domain sender domains (run_prepare), one
					      after the other, each NUL-terminated */
	uint32_t nspoof;
	enum probe_helo helo_kind;         /* this connection's greeting (set by the session) */
	bool relay_accepted; /* a relay attempt was accepted: optional attempts are skipped */
	char literal[ADDR_STRLEN];
	char token_id[TOKEN_ID_DIGITS + 1]; /* the probe id as its tokens spell it */
	bool prepared;       /* attempts rendered (H known) */
	bool relay_stop;     /* 530: no more attempts */
	bool pipelining;
	bool starttls_offered; /* this connection's EHLO offered STARTTLS */
	bool in_tls;         /* this connection speaks TLS now */
	bool tls_wanted;     /* a refusal asked for TLS: later attempts run inside it */
	bool rcpt_ok_seen;   /* some RCPT was accepted: the server looks open */
	bool mail_refused_seen; /* some MAIL FROM was refused: no more speculative groups */
	/* errors and transactions before the put-back transaction on its connection (session.c) */
	int replay_errors, replay_tx;
	int err_budget;      /* learned from 421s: errors one connection may make */
	int64_t start_mono, deadline_mono;
	int64_t end_mono;    /* when the engine was done with it (run_take_result) */
	int decided;         /* attempts decided so far, to tell progress */
	int no_progress;     /* consecutive connections that decided nothing */
	uint32_t transcript_cap; /* bytes of the transcript as shown (res->transcript_len counts them) */
	struct txbuf tx;         /* the transcript while the probe runs, packed (run_log) */
	bool banner_seen;    /* a whole greeting arrived once */
	bool bytes_seen;     /* any byte arrived once */
	enum probe_verdict conn_verdict; /* when no attempt could run */
	enum probe_stage conn_stage;
	char *conn_reason;
};

/* res is filled from t; the run takes no reference to t. */
struct probe_run *run_new(const struct probe_params *p, const struct probe_target *t, int port,
			  uint64_t probe_id, int64_t now_mono);
void run_free(struct probe_run *r); /* frees res too unless taken */

/*
 * Renders every attempt once H is known (greeting/EHLO name, target name or
 * [IP]). H may come from the peer: when a form does not fit with it, nothing
 * is kept and -1 returns with *why (the caller tries the address literal).
 */
int run_prepare(struct probe_run *r, const char *host, const char **why);

/*
 * Picks the next transaction: ready attempts sharing the first ready one's
 * MAIL FROM, at most max, or one attempt that runs alone; marks them
 * running. Attempts put back with their RCPT accepted come first, alone
 * among themselves. Returns how many went to idx.
 */
size_t run_next_batch(struct probe_run *r, int64_t now, size_t *idx, size_t max);
/*
 * Attempts not done; *next_retry = the latest retry time among those waiting
 * (or 0): the first pass sets them within seconds of each other, so waiting
 * for the last lets one connection retry them all.
 */
size_t run_unfinished(const struct probe_run *r, int64_t now, size_t *ready, int64_t *next_retry);

/*
 * The greeting the next connection should use: that of the first attempt
 * ready to run (our own name before run_prepare). Batches are only ever
 * taken from attempts of r->helo_kind.
 */
enum probe_helo run_next_helo(const struct probe_run *r, int64_t now);
/*
 * The server refused the greeting h (EHLO and HELO, or 421/closed at the
 * greeting): every attempt of h still to run is refused at STAGE_EHLO with
 * rv (NULL: closed) recorded. Our own greeting is never "refused" this way.
 */
void run_greeting_refused(struct probe_run *r, enum probe_helo h, const struct reply_view *rv);

/* A reply to one attempt's command at stage (MAIL, RCPT, DATA, EOD); applies the rules. */
void run_reply(struct probe_run *r, size_t i, enum probe_stage stage, const struct reply_view *rv,
	       int64_t now);
/* Attempt i got a reply that makes no sense at stage (protocol error). */
void run_error(struct probe_run *r, size_t i, enum probe_stage stage);
/* The connection was lost (or 421) while attempt i was running: run it again later. */
void run_interrupted(struct probe_run *r, size_t i);
/*
 * Attempt i ran in a pipelined group sent before any RCPT had been accepted
 * and its RCPT was accepted (no DATA followed), or the group was cut short
 * before its turn: it runs again as if this try had not been made. Those
 * accepted run first (run_next_batch, run_next_helo), together as they were.
 */
void run_put_back(struct probe_run *r, size_t i);
/* Some attempt was put back with its RCPT accepted: the next transaction is theirs. */
bool run_replay_pending(const struct probe_run *r);
/* Ends everything not yet done with outcome (NOT_RUN after 530/deadline, ERROR otherwise). */
void run_abandon(struct probe_run *r, enum attempt_outcome outcome);
/* The same, recording where they were cut short (STAGE_TLS after a failed handshake). */
void run_abandon_at(struct probe_run *r, enum attempt_outcome outcome, enum probe_stage stage);

/* Connection-level end before any attempt could run (no_smtp, rejected_banner, error). */
void run_set_conn(struct probe_run *r, enum probe_verdict v, enum probe_stage stage,
		  const char *reason);

/* "C: ..." / "S: ..." into the bounded transcript (text censored here); packed while the
 * probe runs, res->transcript holds it from run_finish on. */
void run_log(struct probe_run *r, char dir, const char *text, size_t len);

/* Sets verdict, backscatter, trick, stage, reason from the attempts; order-independent.
 * Builds res->attempts from the run's compact attempts. */
void run_finish(struct probe_run *r, int64_t now_mono);

/* What session.c sends for the attempt at position i (prepared runs only). */
enum run_addr { RUN_ADDR_FROM, RUN_ADDR_RCPT, RUN_ADDR_LAST };
/* MAIL FROM, RCPT TO or the local recipient after it into out (RUN_ADDR_MAX); "" when none. */
void run_att_addr(const struct probe_run *r, size_t i, enum run_addr which, char *out);
/* The attempt's token (TOKEN_BUFLEN). */
void run_att_token(const struct probe_run *r, size_t i, char *out);
/*
 * The finished result for the caller: run_finish as of r->end_mono, then r
 * is freed. The engine calls it as late as it can, when the result is handed
 * over, so that finished probes waiting for delivery stay compact.
 */
struct probe_result *run_take_result(struct probe_run *r);
/* Attempts that went on the wire (not "not run", not skipped). */
size_t run_attempts_made(const struct probe_run *r);
/* The record attempt i gets in the result (run_finish), strings in res's arena. */
void run_att_record(struct probe_run *r, size_t i, struct probe_attempt *a);
/* Whether a local recipient follows the attempt's own (the local-last forms). */
bool run_att_has_last(const struct probe_run *r, size_t i);

#endif
