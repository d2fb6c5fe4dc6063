/*
 * The probe engine's public face: hand in targets and parameters, get one
 * result per target through a callback. No database, JSON or HTTP here; the
 * daemon and `relayctl probe` both sit on top of this header.
 */
#ifndef RELAYAUDIT_PROBE_H
#define RELAYAUDIT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "probe-engine/token.h"

struct event_base;
struct evdns_base;

enum probe_verdict {
	VERDICT_NO_SMTP,              /* connect refused, unreachable or timed out */
	VERDICT_REJECTED_BANNER,      /* 5xx greeting or immediate 421/close */
	VERDICT_CLOSED,               /* every relay attempt refused (5xx, or 4.7.1 after retry) */
	VERDICT_TEMPFAIL,             /* 4xx kept the test from concluding */
	VERDICT_ACCEPTED,             /* a relay attempt accepted through end of DATA */
	VERDICT_ACCEPTED_NOT_RELAYED, /* accepted, nothing reached the sink in the window */
	VERDICT_RELAY_CONFIRMED,      /* a test message reached the sink */
	VERDICT_ERROR,                /* protocol violation or dialogue cut off; inconclusive */
	VERDICT__COUNT
};

enum backscatter_result {
	BACKSCATTER_UNTESTED,
	BACKSCATTER_REFUSED,   /* unknown local user rejected at RCPT */
	BACKSCATTER_ACCEPTED,  /* accepted, no bounce seen (yet) */
	BACKSCATTER_CONFIRMED, /* a bounce carrying the token reached the sink */
	BACKSCATTER__COUNT
};

/* Where in the dialogue an attempt was decided. */
enum probe_stage {
	STAGE_NONE,
	STAGE_CONNECT,
	STAGE_BANNER,
	STAGE_EHLO,
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_DATA,
	STAGE_EOD, /* the reply after the final dot */
	STAGE_SINK,
	STAGE_TLS, /* the TLS handshake (STARTTLS or implicit TLS) */
	STAGE__COUNT
};

enum attempt_outcome {
	OUTCOME_NOT_RUN,          /* deadline or an earlier decisive reply cut it short */
	OUTCOME_REFUSED,          /* 5xx at MAIL, RCPT, DATA or end of data */
	OUTCOME_DEFERRED_REFUSAL, /* 4xx X.7.1 that persisted after the greylisting retry */
	OUTCOME_TEMPFAIL,         /* other 4xx that persisted */
	OUTCOME_ACCEPTED,         /* 250 after the final dot */
	OUTCOME_RELAYED,          /* its token reached the sink */
	OUTCOME_AUTH_REQUIRED,    /* 530 5.7.0: relay attempts end as closed */
	OUTCOME_ERROR,            /* the connection broke during this attempt */
	OUTCOME_SKIPPED,          /* could not change the result (a relay was already accepted) */
	OUTCOME__COUNT
};

/*
 * The name a session greets with (EHLO, HELO after a refused EHLO): our own
 * helo_name, or as the target itself (RELAY-TESTS.md, "Greetings").
 */
enum probe_helo {
	PROBE_HELO_OURS,
	PROBE_HELO_HOST,      /* H, when it is a name (greeting, EHLO reply, or the target's name) */
	PROBE_HELO_LITERAL,   /* [IP] */
	PROBE_HELO_LOCALHOST, /* localhost */
	PROBE_HELO__COUNT
};

/* What a verdict means for the case workflow (the class column of the verdict table). */
enum verdict_class {
	VERDICT_CLEAN,        /* nothing to act on: no_smtp, rejected_banner, closed */
	VERDICT_INCONCLUSIVE, /* test again: tempfail, error, accepted (still waiting) */
	VERDICT_FINDING,      /* a relay: accepted_not_relayed, relay_confirmed */
};

/* The verdict table (result.c) is the only place that knows verdict names. */
const char *verdict_name(enum probe_verdict v);
int verdict_parse(const char *s, enum probe_verdict *out);
int verdict_rank(enum probe_verdict v);
enum verdict_class verdict_class(enum probe_verdict v);
const char *verdict_class_name(enum verdict_class c);
/* The most significant of n verdicts (highest rank) in *out; -1 when n is 0. */
int verdict_worst(const enum probe_verdict *v, size_t n, enum probe_verdict *out);
const char *backscatter_name(enum backscatter_result b);
int backscatter_parse(const char *s, enum backscatter_result *out);
const char *stage_name(enum probe_stage s);
const char *outcome_name(enum attempt_outcome o);
/* "" for our own name, else "host", "literal", "localhost" (the trick's "+helo-" suffix). */
const char *probe_helo_name(enum probe_helo h);

/* What the caller hands in. The engine copies everything it keeps. */
struct probe_target {
	struct addr addr;
	int port;           /* 0 = each of params.ports */
	const char *name;   /* optional host name, used as H in address forms */
	const char *const *domains; /* the customer's mail domains on record: backscatter
				       recipients and spoof-domain senders */
	size_t ndomains;
	uint64_t probe_id;  /* 0 = the engine picks a random one; <= TOKEN_PROBE_ID_MAX */
	void *user;         /* handed back untouched in the result */
};

struct probe_params {
	struct token_key key;        /* HMAC key for tokens */
	const char *helo_name;       /* our EHLO name */
	const char *sink_domain;     /* S: every relay test addresses only this domain */
	const char *outside_domain;  /* X: domain of the "outside" sender */
	const char *contact;         /* named in the test message */
	const int *ports;            /* default ports when a target names none */
	size_t nports;
	const int *tls_ports;        /* ports that speak TLS from the first byte (465) */
	size_t ntls_ports;
	int concurrency;             /* probes in flight (further capped by the fd budget) */
	int rate;                    /* new connections per second; 0 = unlimited */
	int per_net;                 /* concurrent connections per /24 or /64; 0 = unlimited */
	int timeout_ms;              /* one connect or one reply */
	int deadline_ms;             /* whole probe of one target */
	int greylist_wait_ms;        /* before a 4xx attempt is retried */
	const struct cidr *exclude;  /* never probed */
	size_t nexclude;
	int fd_reserve;              /* descriptors kept back for the caller */
	bool test_backscatter;       /* run the backscatter attempt */
	bool loopback_only;          /* refuse targets outside 127.0.0.0/8 and ::1 */
	size_t max_transcript;       /* bytes of transcript kept per target */
	int threads;                 /* event loops (threads); 0 = one per online core; 1 = the
					caller's loop only */
	/*
	 * The caller's resolver for reverse DNS (NULL: none). A target without
	 * a name waits for its PTR answer (bounded by the base's own timeout)
	 * before the first connection; the name serves as H when the greeting
	 * and EHLO reply name no host. Asked on the caller's loop when the
	 * target is submitted, before it goes to its event loop.
	 */
	struct evdns_base *rdns;
};

#define PROBE_THREADS_MAX 64
/* The event loops probe_threads asks for: 0 = one per online core; at most PROBE_THREADS_MAX. */
int probe_threads_count(int want);

/* Defaults polite enough for production; callers override fields. */
void probe_params_defaults(struct probe_params *p);

/* Field order keeps these small: a target holds some 80 attempts while it runs. */
struct smtp_reply_rec {
	char *text;          /* censored, bounded text of the last line */
	int code;            /* 0 = no reply (not sent, or connection lost) */
	char enhanced[12];   /* "4.7.1" or "" (RFC 3463: at most "X.YYY.ZZZ") */
};

struct probe_attempt {
	const char *sender;        /* sender form name ("null", "outside", ...) */
	const char *form;          /* recipient form name ("plain", "percent-ip", ...) */
	char *mail_from;           /* the exact argument sent */
	char *rcpt_to;
	char *rcpt_last;           /* a local recipient sent after rcpt_to (local-last), or NULL */
	const char *helo;          /* the name greeted with (the result's helo_names[helo_kind]) */
	struct smtp_reply_rec mail, rcpt, data, eod;
	struct smtp_reply_rec helo_reply; /* a refused greeting's last reply (code 0: none) */
	unsigned index;            /* attempt number, also in the token */
	enum probe_stage stage;    /* where it was decided */
	enum attempt_outcome outcome;
	int tries;                 /* > 1 after greylisting retries or reconnects */
	int rcpts;                 /* recipients accepted in its transaction (1: sent alone) */
	int resend_of;             /* a re-send alone of this attempt index, or -1 */
	enum probe_helo helo_kind; /* the greeting of its connections */
	char token[TOKEN_BUFLEN];
	bool backscatter;          /* the backscatter attempt, not a relay attempt */
	bool tls;                  /* its last try ran inside TLS (STARTTLS or implicit) */
	bool alone;                /* runs in a transaction of its own (late forms, re-sends) */
};

/* The TLS a target spoke (latest connection): evidence only, never verified. */
struct probe_tls {
	char *version;   /* "TLSv1.3" */
	char *cipher;
	char *subject;   /* RFC 2253, censored, bounded; NULL without a certificate */
	char *issuer;
	char *not_after; /* RFC 3339 UTC */
};

/*
 * "sender/form", with "+helo-host" (-literal, -localhost) when it greeted as
 * the target and "+tls" when it ran inside TLS (malloc'd).
 */
char *probe_attempt_trick(const struct probe_attempt *a);

struct probe_result {
	struct addr addr;
	int port;
	char *name;
	uint64_t probe_id;
	void *user;
	enum probe_verdict verdict;
	enum backscatter_result backscatter;
	char *trick;               /* "sender/form" of the first success (by index), or NULL */
	enum probe_stage stage;    /* the stage that decided the verdict */
	char *banner;              /* censored greeting (last line) */
	char *ehlo;                /* censored EHLO reply, lines joined by '\n' */
	struct probe_attempt *attempts;
	size_t nattempts;
	char *transcript;          /* bounded, censored; "C: " / "S: " lines */
	size_t transcript_len;
	bool transcript_truncated;
	int64_t started_ms;        /* wall clock */
	int64_t duration_ms;
	int connections;           /* connections opened for this target */
	char *error;               /* reason when inconclusive (error, tempfail, no_smtp) */
	char *reason;              /* why this verdict, for every verdict ("relay access denied
				      deferred (4.7.1)", "authentication required", ...) */
	char *host;                /* H as used in the address forms */
	char *helo_names[PROBE_HELO__COUNT]; /* each greeting's name as sent (NULL: not used) */
	size_t spoof_domains_dropped; /* sender domains beyond the spoof-domain cap */
	bool pipelining;           /* the server advertised PIPELINING */
	bool starttls;             /* the server advertised STARTTLS */
	bool implicit_tls;         /* probed on a TLS port (465) */
	struct probe_tls *tls;     /* NULL when no TLS handshake completed */
	/* Set by the sink correlation (confirm.c) when a receipt upgrades the result. */
	int64_t relay_delay_ms;       /* receipt time - end of probe, when relay_confirmed */
	int64_t backscatter_delay_ms; /* bounce time - end of probe, when backscatter confirmed */
	bool trick_alone;             /* the trick's form relayed in a transaction of its own */
	int64_t confirm_deadline_ms;  /* wall clock: later receipts are anomalies (0: none yet) */
	/*
	 * The engine's results keep the attempts' strings (mail_from, rcpt_to,
	 * rcpt_last, reply texts) in this arena, identical ones once; NULL: each
	 * is its own malloc (results built elsewhere). probe_result_free knows both.
	 */
	struct probe_strings *strings;
};

/* A copy of s in *arena (made on first use); an identical recent string is shared. */
char *probe_strings_dup(struct probe_strings **arena, const char *s);
void probe_strings_free(struct probe_strings *arena);

void probe_result_free(struct probe_result *r);

struct probe_engine;

/*
 * Called once per submitted target and port, from the caller's event loop
 * (never from inside probe_engine_submit, never from another thread, also
 * when the engine runs several loops); the callee owns res (probe_result_free).
 * With threads > 1 the engine's loops run in threads of their own: targets
 * go to a loop by their /24 (/64), so per_net holds; concurrency and rate
 * are global (shared atomically). Submit, set_limits, stats, busy and free
 * belong to the caller's thread.
 */
typedef void (*probe_done_fn)(struct probe_result *res, void *arg);

struct probe_engine *probe_engine_new(struct event_base *base, const struct probe_params *p,
				      probe_done_fn done, void *arg);
/* Queues one target (and port). -1 with *why when excluded or invalid; no callback then. */
int probe_engine_submit(struct probe_engine *e, const struct probe_target *t, const char **why);
/* Applies new limits and exclusions (SIGHUP); in-flight probes keep running. */
void probe_engine_set_limits(struct probe_engine *e, int concurrency, int rate, int per_net,
			     const struct cidr *exclude, size_t nexclude);

struct probe_stats {
	size_t queued, in_flight, peak_in_flight, done;
	uint64_t connects, attempts;
	int fd_budget;
	int threads; /* event loops the engine runs */
};
/* Totals over every event loop (thread); safe to call from the caller's thread at any time. */
void probe_engine_stats(const struct probe_engine *e, struct probe_stats *out);
/* How many event loops (threads) the engine runs, and one's own figures (-1: no such loop). */
size_t probe_engine_threads(const struct probe_engine *e);
int probe_engine_thread_stats(const struct probe_engine *e, size_t i, struct probe_stats *out);
/* True while anything is queued, in flight or waiting for a greylisting retry. */
bool probe_engine_busy(const struct probe_engine *e);
/* Finishes everything queued and in flight, then frees; callbacks may still fire until it returns. */
void probe_engine_free(struct probe_engine *e);
/*
 * For a shutdown that will not wait: stops the engine's own loops where they
 * are (their threads joined, nothing freed, no more callbacks), so that no
 * probe runs while the process exits. The engine is then only for the exit.
 */
void probe_engine_abandon(struct probe_engine *e);

/*
 * Raises RLIMIT_NOFILE's soft limit to the hard one and returns how many
 * descriptors probes may use after reserve.
 */
int probe_fd_budget(int reserve);

#endif
