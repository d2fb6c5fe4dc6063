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
};

struct sender_form {
	const char *name;
	const char *pattern; /* placeholders: {T} {S} {s} (mixed case S) {H} {L} ([IP]) {X} */
};

struct rcpt_form {
	const char *name;
	const char *pattern;
};

struct catalogue_attempt {
	int sender; /* index for catalogue_sender() */
	int form;   /* index for catalogue_form(), or -1 for backscatter */
	bool backscatter;
};

size_t catalogue_nsenders(void);
const struct sender_form *catalogue_sender(size_t i);
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
