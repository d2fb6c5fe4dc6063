/*
 * relaysim: a scripted SMTP target simulator for tests and benchmarks. Many
 * loopback listeners, each with one behaviour from a table; the only outbound
 * traffic is forwarding accepted mail to a loopback --sink.
 */
#ifndef RELAYSIM_SIM_H
#define RELAYSIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "common/addr.h"

struct event;
struct event_base;
struct evbuffer;
struct timeval;

/* How the greeting goes. */
enum sim_greet {
	GREET_NORMAL,   /* "220 name ESMTP" at once */
	GREET_REJECT,   /* "554" greeting, then 503 to everything but QUIT */
	GREET_PREGREET, /* "220-" line, a pause, "220 "; a client that speaks early is dropped */
};

/* How replies are written. */
enum sim_output {
	OUT_NORMAL,
	OUT_TARPIT,  /* one byte every --tarpit-ms (default a second) */
	OUT_SPLIT,   /* one byte per TCP segment, --split-us apart */
	OUT_GARBAGE, /* every reply after the greeting replaced by binary noise */
};

/* The reply to EHLO. */
enum sim_ehlo {
	EHLO_NORMAL,
	EHLO_REFUSED, /* 502; HELO works */
	EHLO_ENDLESS, /* "250-" and then bytes without CRLF until the client leaves */
	EHLO_HUGE,    /* a multi-line reply of many megabytes */
	EHLO_REFUSE_SELF, /* 550 to EHLO and HELO naming it (its name, its literal, localhost) */
};

/* What RCPT TO does with a recipient outside the simulated host. */
enum sim_relay {
	RELAY_OPEN,          /* 250 to everything */
	RELAY_CLOSED,        /* 554 5.7.1 */
	RELAY_PERCENT,       /* only local%domain@[our IP] or @our-name */
	RELAY_GREYLIST,      /* 450 4.7.1 until retried after --greylist-secs, then closed */
	RELAY_GREYLIST_OPEN, /* the same, then open */
	RELAY_DEFER,         /* 454 4.7.1 for ever (Postfix defer_unauth_destination) */
	RELAY_TEMPFAIL,      /* 451 4.3.0 for ever */
	RELAY_AUTH,          /* 530 5.7.0 at MAIL and RCPT */
	RELAY_TRUST_SENDER,  /* open for senders in a --trust-domain (exactly), else closed */
	RELAY_TRUST_HELO_HOST,      /* open for a client that greeted with its name, else closed */
	RELAY_TRUST_HELO_LITERAL,   /* ... with its address literal */
	RELAY_TRUST_HELO_LOCALHOST, /* ... as localhost */
};

/* What happens to the message after DATA. */
enum sim_data {
	DATA_ACCEPT,     /* 250; forwarded to --sink when one is given */
	DATA_DROP,       /* 250 and thrown away */
	DATA_REJECT_EOD, /* 554 after the final dot */
	DATA_REJECT_CMD, /* 554 to the DATA command */
	DATA_LOG,        /* 250; envelope and first header lines logged (a final destination) */
	DATA_LAST_LOCAL, /* 554 5.7.1 to DATA unless the last recipient is local; local ones are
	                    kept here, the others forwarded (a relay check of the last one only) */
};

enum sim_drop {
	DROP_NEVER,
	DROP_AT_MAIL,       /* close without a reply when MAIL arrives */
	DROP_AT_MAIL_FIRST, /* only on a listener's first connection */
};

struct sim_behaviour {
	const char *name;
	enum sim_greet greet;
	enum sim_output output;
	enum sim_ehlo ehlo;
	enum sim_relay relay;
	enum sim_data data;
	enum sim_drop drop;
	bool error_limit; /* 421 and close once a session has had --errors refusals */
	const char *summary;
};

const struct sim_behaviour *sim_behaviour_find(const char *name);
void sim_behaviour_list(FILE *f);

/* How a RCPT TO argument reads from the simulated host's point of view. */
enum sim_rcpt_kind {
	RCPT_KIND_INVALID,
	RCPT_KIND_LOCAL,   /* plain <user@us> */
	RCPT_KIND_FOREIGN, /* plain <user@elsewhere> */
	RCPT_KIND_PERCENT, /* plain <a%b@us>: the percent hack */
	RCPT_KIND_TRICK,   /* any other form (route, quotes, bang, hidden @, ...) */
};

#define SIM_ADDR_MAX 512

struct sim_rcpt {
	enum sim_rcpt_kind kind;
	char local[SIM_ADDR_MAX]; /* local part of the normalised address */
	char final[SIM_ADDR_MAX]; /* where a permissive relay would deliver: user@domain */
};

/* arg is what follows "RCPT TO:"; myname and myliteral ("[a.b.c.d]") say who we are. */
void sim_rcpt_parse(const char *arg, const char *myname, const char *myliteral,
                    struct sim_rcpt *out);

/* Greylisting triplets: bounded table, oldest entries overwritten when full. */
struct sim_greylist;
struct sim_greylist *sim_greylist_new(int delay_secs);
void sim_greylist_free(struct sim_greylist *g);
/* true once the same key has been seen at least delay_secs ago. */
bool sim_greylist_pass(struct sim_greylist *g, const char *key, size_t keylen, int64_t now_ms);

/* Asynchronous, bounded forwarding of accepted messages to the sink. */
struct sim_forward;
struct sim_forward *sim_forward_new(struct event_base *base, const struct addr *sink, int port,
                                    const char *helo);
void sim_forward_free(struct sim_forward *f);
/*
 * Queues one message: body holds the dot-stuffed message (without the final
 * dot) and is taken over. Returns -1 (and frees body) when the queue is full.
 */
int sim_forward_submit(struct sim_forward *f, const char *from, char *const *rcpts, size_t nrcpt,
                       struct evbuffer *body);
void sim_forward_stats(struct sim_forward *f, uint64_t *sent, uint64_t *failed);

struct sim_opts {
	int greylist_secs;
	int errors;
	int pregreet_ms;
	int split_us;
	int tarpit_ms;
	int idle_secs;
	size_t max_size;
	size_t max_rcpts;
	int max_sessions;
	int tls_port; /* listeners on this port speak TLS from the first byte (0: none) */
	const char *trust_domains[8]; /* --trust-domain: the sender domains trust-sender relays for */
	size_t ntrust_domains;
	bool anonymous; /* --anonymous: greeting and EHLO reply name no host */
	int delay_ms; /* every reply line leaves this long after its cause (0: at once) */
};

/* Concurrent sessions per listening /24 (/64), for --peaks: politeness seen from the server. */
struct sim_net_count {
	uint64_t key;
	struct addr net; /* the listener address the key was first seen with */
	int cur, peak;
};

struct sim_listener;
struct sim_session;

struct sim {
	struct event_base *base;
	const struct timeval *idle_tv; /* --idle-secs as a libevent common timeout (first session) */
	struct ssl_ctx_st *tls; /* --tls-cert/--tls-key: the implicit-TLS listeners' context */
	struct sim_opts opts;
	struct sim_forward *fwd; /* NULL without --sink */
	struct sim_greylist *grey;
	struct sim_listener *listeners;
	size_t nlisteners;
	struct sim_session *sessions; /* list of live sessions */
	int epfd;                     /* plain sessions' epoll set, one libevent event for all */
	struct event *ep_ev, *idle_ev;
	struct sim_session *idle_head, *idle_tail; /* plain sessions by last read, oldest first */
	int nsessions;
	uint64_t accepted_total;
	uint64_t refused_total; /* connections closed at once: max_sessions reached */
	uint64_t accept_errors; /* accept() failures (EMFILE and the like) */
	struct sim_net_count *nets; /* only with --peaks */
	size_t nnets, nets_cap;
	bool count_nets;
};

struct sim_listener {
	struct sim *sim;
	int fd;           /* the listening socket */
	struct event *ev; /* readable: one connection to accept */
	struct addr addr;
	int port;
	const struct sim_behaviour *b;
	char name[96];    /* host name in greeting and EHLO */
	char literal[64]; /* "[a.b.c.d]" */
	uint64_t connections;
};

/* Called by the listener for each accepted socket. */
void sim_session_start(struct sim_listener *l, int fd, const struct sockaddr *peer);
void sim_session_free_all(struct sim *sim);
/* --peaks: one session more (+1) or less (-1) on a listener's /24 (/64). */
void sim_net_count(struct sim *sim, const struct addr *listener, int delta);

#endif
