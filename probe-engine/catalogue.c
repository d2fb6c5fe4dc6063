/*
 * The catalogue tables and their rendering. Every public tester's forms are
 * here (see shared/RELAY-TESTS.md); each recipient form runs with the four
 * senders relay rules most often key on, and the plain form also with the
 * localhost and unqualified senders.
 */
#include "probe-engine/catalogue.h"
#include "common/util.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

static const struct sender_form senders[] = {
	{"null", "<>"},
	{"outside", "<probe@{X}>"},
	{"spoof-local", "<postmaster@{H}>"},
	{"spoof-ip", "<probe@{L}>"},
	{"localhost", "<probe@localhost>"},
	{"unqualified", "<probe>"},
	/* appended: runs with the core recipient forms, once per sender domain (spoof[]) */
	{"spoof-domain", "<postmaster@{D}>"},
};

static const struct rcpt_form forms[] = {
	{"plain", "<{T}@{S}>", NULL},
	{"percent-ip", "<{T}%{S}@{L}>", NULL},
	{"percent-host", "<{T}%{S}@{H}>", NULL},
	{"quoted", "<\"{T}@{S}\">", NULL},
	{"quoted-percent", "<\"{T}%{S}\">", NULL},
	{"hidden-at-ip", "<{T}@{S}@{L}>", NULL},
	{"hidden-at-host", "<{T}@{S}@{H}>", NULL},
	{"quoted-local-ip", "<\"{T}@{S}\"@{L}>", NULL},
	{"quoted-local-host", "<\"{T}@{S}\"@{H}>", NULL},
	{"route-ip", "<@{L}:{T}@{S}>", NULL},
	{"route-host", "<@{H}:{T}@{S}>", NULL},
	{"bang", "<{S}!{T}>", NULL},
	{"bang-ip", "<{S}!{T}@{L}>", NULL},
	{"bang-host", "<{S}!{T}@{H}>", NULL},
	{"trailing-at", "<{T}@{S}@>", NULL},
	{"trailing-dot", "<{T}@{S}.>", NULL},
	{"unbracketed", "{T}@{S}", NULL},
	{"mixed-case", "<{T}@{s}>", NULL},
	/*
	 * Late forms (see catalogue_late): outside recipients followed by a local
	 * one. A server that runs its relay check at DATA time, on the last
	 * recipient only, relays exactly this (RELAY-TESTS.md, "Also").
	 */
	{"local-last", "<{T}@{S}>", "<postmaster@{H}>"},
};

/* Late attempts: (sender, form) by name, appended for good. */
static const struct {
	const char *sender, *form;
} late[] = {
	{"null", "local-last"},
	{"outside", "local-last"},
};

/*
 * The core recipient forms a spoof-domain sender runs with: a relay rule
 * that trusts the sender lets any recipient through, so plain alone would
 * find it; the percent and bang forms addressed to the target itself find
 * the rule that trusts the sender only for mail that looks local.
 */
static const char *const spoof_forms[] = {"plain", "percent-host", "percent-ip", "bang-host"};

#define NSENDERS ARRAY_LEN(senders)
#define NFORMS_ALL ARRAY_LEN(forms)
/* forms run with every core sender: those before the late ones */
#define NFORMS 18
/* senders every form is combined with; the next two run with the plain form only */
#define NCORE 4
#define NPLAIN_SENDERS 2
#define NRELAY (NFORMS * NCORE + NPLAIN_SENDERS)
#define NLATE ARRAY_LEN(late)
#define NSPOOF_FORMS ARRAY_LEN(spoof_forms)
#define RESEND_BASE (NRELAY + 1 + CATALOGUE_MAX_DOMAINS + NLATE)
#define SPOOF_BASE (RESEND_BASE + CATALOGUE_RESEND_MAX)
#define GREETING_BASE (SPOOF_BASE + CATALOGUE_MAX_SPOOF_DOMAINS * NSPOOF_FORMS)
#define GREETINGS 3 /* host, literal, localhost */
#define INDEX_END (GREETING_BASE + GREETINGS * NCORE)
_Static_assert(INDEX_END <= 256, "attempt indices must fit a token's attempt byte");

size_t catalogue_nsenders(void) { return NSENDERS; }
const struct sender_form *catalogue_sender(size_t i) { return i < NSENDERS ? &senders[i] : NULL; }
size_t catalogue_nforms(void) { return NFORMS; }
const struct rcpt_form *catalogue_form(size_t i) { return i < NFORMS_ALL ? &forms[i] : NULL; }

int
catalogue_form_find(const char *name)
{
	for (size_t i = 0; i < NFORMS_ALL; i++) {
		if (strcmp(forms[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

int
catalogue_sender_find(const char *name)
{
	for (size_t i = 0; i < NSENDERS; i++) {
		if (strcmp(senders[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

size_t
catalogue_nrelay(void)
{
	return NRELAY;
}

int
catalogue_relay(size_t index, struct catalogue_attempt *out)
{
	/* forms x core senders first, form-major; then the other senders with "plain" */
	if (index < NFORMS * NCORE)
		*out = (struct catalogue_attempt){(int)(index % NCORE), (int)(index / NCORE), false};
	else if (index < NRELAY)
		*out = (struct catalogue_attempt){(int)(NCORE + index - NFORMS * NCORE), 0, false};
	else
		return -1;
	return 0;
}

size_t
catalogue_late_base(void)
{
	return NRELAY + 1 + CATALOGUE_MAX_DOMAINS;
}

size_t
catalogue_nlate(void)
{
	return ARRAY_LEN(late);
}

int
catalogue_late(size_t k, struct catalogue_attempt *out)
{
	if (k >= ARRAY_LEN(late))
		return -1;
	*out = (struct catalogue_attempt){catalogue_sender_find(late[k].sender),
					  catalogue_form_find(late[k].form), false};
	return 0;
}

size_t
catalogue_resend_base(void)
{
	return RESEND_BASE;
}

size_t
catalogue_nspoof_forms(void)
{
	return NSPOOF_FORMS;
}

int
catalogue_spoof(size_t f, struct catalogue_attempt *out)
{
	if (f >= NSPOOF_FORMS)
		return -1;
	*out = (struct catalogue_attempt){catalogue_sender_find("spoof-domain"),
					  catalogue_form_find(spoof_forms[f]), false};
	return 0;
}

size_t
catalogue_spoof_index(size_t domain, size_t f)
{
	return SPOOF_BASE + domain * NSPOOF_FORMS + f;
}

size_t
catalogue_ngreeting_senders(void)
{
	return NCORE;
}

int
catalogue_greeting(size_t s, struct catalogue_attempt *out)
{
	if (s >= NCORE)
		return -1;
	*out = (struct catalogue_attempt){(int)s, 0, false};
	return 0;
}

size_t
catalogue_greeting_index(int helo, size_t s)
{
	return GREETING_BASE + (size_t)(helo - 1) * NCORE + s;
}

int
catalogue_greeting_of(size_t index)
{
	if (index < GREETING_BASE || index >= INDEX_END)
		return 0;
	return 1 + (int)((index - GREETING_BASE) / NCORE);
}

size_t
catalogue_index_end(void)
{
	return INDEX_END;
}

size_t
catalogue_rank(const char *sender, const char *form)
{
	int si = sender ? catalogue_sender_find(sender) : -1;
	int fi = form ? catalogue_form_find(form) : -1;
	struct catalogue_attempt ca;

	if (si < 0 || fi < 0)
		return SIZE_MAX;
	for (size_t i = 0; catalogue_relay(i, &ca) == 0; i++) {
		if (ca.sender == si && ca.form == fi)
			return i;
	}
	for (size_t k = 0; catalogue_late(k, &ca) == 0; k++) {
		if (ca.sender == si && ca.form == fi)
			return catalogue_late_base() + k;
	}
	for (size_t f = 0; catalogue_spoof(f, &ca) == 0; f++) {
		if (ca.sender == si && ca.form == fi)
			return catalogue_spoof_index(0, f);
	}
	return SIZE_MAX;
}

void
catalogue_mixed_case(const char *domain, char *out, size_t len)
{
	size_t i, letters = 0;

	if (len == 0)
		return;
	for (i = 0; domain[i] != '\0' && i + 1 < len; i++) {
		unsigned char c = (unsigned char)domain[i];

		if (isalpha(c))
			c = (unsigned char)(letters++ % 2 ? toupper(c) : tolower(c));
		out[i] = (char)c;
	}
	out[i] = '\0';
}

int
catalogue_render(const char *pattern, const struct form_ctx *ctx, char *out, size_t len)
{
	char mixed[256];
	size_t n = 0;

	for (const char *p = pattern; *p != '\0'; p++) {
		const char *val = NULL;

		if (p[0] == '{' && p[1] != '\0' && p[2] == '}') {
			switch (p[1]) {
			case 'T': val = ctx->token; break;
			case 'S': val = ctx->sink; break;
			case 's':
				catalogue_mixed_case(ctx->sink, mixed, sizeof(mixed));
				val = mixed;
				break;
			case 'H': val = ctx->host; break;
			case 'L': val = ctx->literal; break;
			case 'X': val = ctx->outside; break;
			case 'D':
				if (ctx->domain == NULL)
					return -1;
				val = ctx->domain;
				break;
			default: break;
			}
		}
		if (val != NULL) {
			size_t vl = strlen(val);

			if (n + vl >= len)
				return -1;
			memcpy(out + n, val, vl);
			n += vl;
			p += 2;
		} else {
			if (n + 1 >= len)
				return -1;
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return 0;
}

int
catalogue_backscatter(const struct form_ctx *ctx, const char *domain, char *from, size_t fromlen,
		      char *rcpt, size_t rcptlen)
{
	/* The recipient must not exist: "nx" and the token's MAC part. */
	const char *mac = strlen(ctx->token) > 16 ? ctx->token + 16 : ctx->token;

	if (str_fmt(from, fromlen, "<%s@%s>", ctx->token, ctx->sink) < 0)
		return -1;
	return str_fmt(rcpt, rcptlen, "<nx%s@%s>", mac, domain ? domain : ctx->host);
}

int
catalogue_host_from_text(const char *text, char *out, size_t len)
{
	size_t n = 0;
	bool dot = false, alpha = false;

	while (text[n] != '\0' && text[n] != ' ' && text[n] != '\t') {
		unsigned char c = (unsigned char)text[n];

		if (!isalnum(c) && c != '-' && c != '.')
			return -1;
		dot |= c == '.';
		alpha |= isalpha(c) != 0;
		n++;
	}
	/* a host name has a dot and a letter; bare words and addresses are not names */
	if (n == 0 || n >= len || n > 253 || !dot || !alpha || text[0] == '.' || text[0] == '-' ||
	    text[n - 1] == '.')
		return -1;
	memcpy(out, text, n);
	out[n] = '\0';
	return 0;
}
