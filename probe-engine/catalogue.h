/*
 * The relay-test catalogue of shared/RELAY-TESTS.md as data: sender forms,
 * recipient forms, the (sender, form) pairs a probe runs, and the rendering
 * of a form for one target. The position of a pair in the attempt table is
 * its attempt index (and so part of its token): never reorder, only append.
 */
#ifndef RELAYAUDIT_CATALOGUE_H
#define RELAYAUDIT_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/addr.h"

/* What a form is rendered with. */
struct form_ctx {
	const char *token;   /* T */
	const char *sink;    /* S */
	const char *host;    /* H: the target's name, or its bracketed address */
	const char *literal; /* [IP] or [IPv6:...] */
	const char *outside; /* X */
	const char *domain;  /* D: a spoof-domain sender's domain (NULL for other forms) */
};

struct sender_form {
	const char *name;
	const char *pattern; /* placeholders: {T} {S} {s} (mixed case S) {H} {L} ([IP]) {X} {D} */
};

struct rcpt_form {
	const char *name;
	const char *pattern;
	const char *last; /* a local recipient sent after it in the same transaction, or NULL */
};

struct catalogue_attempt {
	int sender; /* index for catalogue_sender() */
	int form;   /* index for catalogue_form(), or -1 for backscatter */
	bool backscatter;
};

size_t catalogue_nsenders(void);
const struct sender_form *catalogue_sender(size_t i);
/* Forms run with every core sender; catalogue_form() also knows the late forms after them. */
size_t catalogue_nforms(void);
const struct rcpt_form *catalogue_form(size_t i);
int catalogue_form_find(const char *name);
int catalogue_sender_find(const char *name);

/*
 * The relay attempts, in attempt-index order, then the backscatter ones:
 * index catalogue_nrelay() is the backscatter attempt to H, and the next
 * CATALOGUE_MAX_DOMAINS indices to each customer domain on record.
 */
#define CATALOGUE_MAX_DOMAINS 4
size_t catalogue_nrelay(void);
int catalogue_relay(size_t index, struct catalogue_attempt *out);

/*
 * Relay attempts added to the catalogue later, numbered after the
 * backscatter block so no earlier index moves: late attempt k has attempt
 * index catalogue_late_base() + k. Each runs in a transaction of its own.
 */
size_t catalogue_late_base(void);
size_t catalogue_nlate(void);
int catalogue_late(size_t k, struct catalogue_attempt *out);

/*
 * Re-sends alone (a form accepted in company, sent once more by itself)
 * take the CATALOGUE_RESEND_MAX indices after the late ones. The late table
 * is closed for that reason: later additions are the blocks below, numbered
 * after the re-sends.
 */
#define CATALOGUE_RESEND_MAX 3
size_t catalogue_resend_base(void);

/*
 * spoof-domain: MAIL FROM:<postmaster@D> for each sender domain D (the
 * target's registrable domain and those between, and the domains on
 * record; domains.h), each with the core recipient forms. Domain d, core
 * form f has attempt index catalogue_spoof_index(d, f).
 */
#define CATALOGUE_MAX_SPOOF_DOMAINS 8
size_t catalogue_nspoof_forms(void);
int catalogue_spoof(size_t f, struct catalogue_attempt *out);
size_t catalogue_spoof_index(size_t domain, size_t f);

/*
 * Greetings as the target (enum probe_helo, probe.h): for each greeting
 * other than our own, the core senders with the plain recipient. Greeting
 * g (1..3), core sender s has index catalogue_greeting_index(g, s).
 */
size_t catalogue_ngreeting_senders(void);
int catalogue_greeting(size_t s, struct catalogue_attempt *out);
size_t catalogue_greeting_index(int helo, size_t s);
/* The greeting an attempt index was sent with (0: our own name). */
int catalogue_greeting_of(size_t index);
/* One past the highest attempt index of the catalogue (<= TOKEN_ATTEMPT_MAX + 1). */
size_t catalogue_index_end(void);

/*
 * The attempt index of a (sender, form) pair: its place in the catalogue,
 * so "the simplest trick" is well defined (null/plain first). SIZE_MAX when
 * the pair is not in it.
 */
size_t catalogue_rank(const char *sender, const char *form);

/* Expands pattern for ctx into out; -1 if it does not fit. */
int catalogue_render(const char *pattern, const struct form_ctx *ctx, char *out, size_t len);
/* The sink domain in alternating case ("sInK.ExAmPlE"), for the mixed-case form. */
void catalogue_mixed_case(const char *domain, char *out, size_t len);

/* The backscatter pair: MAIL FROM:<T@S>, RCPT TO:<nx...@domain>. */
int catalogue_backscatter(const struct form_ctx *ctx, const char *domain, char *from,
			  size_t fromlen, char *rcpt, size_t rcptlen);

/*
 * H from a greeting or EHLO line's text ("mx.example.org ESMTP ..."): the
 * first word when it looks like a host name; 0 and out filled, else -1.
 */
int catalogue_host_from_text(const char *text, char *out, size_t len);

#endif
