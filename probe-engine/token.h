/*
 * Probe tokens: "rt" + 12 hex digits of probe id + 2 of attempt + 16 of
 * HMAC-SHA-256(secret, "relayaudit-token-v1" probe_id attempt), all lower
 * case so a relay that folds case still delivers a verifiable token. Only
 * holders of the secret can mint one, and each names exactly one attempt of
 * one probe, so a receipt cannot be forged or replayed onto another probe.
 */
#ifndef RELAYAUDIT_TOKEN_H
#define RELAYAUDIT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_PREFIX "rt"
#define TOKEN_LEN 32 /* "rt" + 12 + 2 + 16 */
#define TOKEN_BUFLEN (TOKEN_LEN + 1)
#define TOKEN_PROBE_ID_MAX ((UINT64_C(1) << 48) - 1)
#define TOKEN_ATTEMPT_MAX 255
#define TOKEN_MAC_BYTES 8 /* the MAC part: 16 hex digits */
#define TOKEN_ID_DIGITS 12 /* the probe id part, after "rt" */

struct token_key {
	uint8_t key[64];
	size_t len;
};

void token_key_init(struct token_key *k, const void *secret, size_t len);
/* probe_id <= TOKEN_PROBE_ID_MAX, attempt <= TOKEN_ATTEMPT_MAX. */
void token_make(const struct token_key *k, uint64_t probe_id, unsigned attempt,
		char out[TOKEN_BUFLEN]);
/*
 * token_make for a prober that renders each token several times within
 * moments (the command, the reply that echoes it, the transcript) and
 * keeps none: this thread remembers the MACs (the HMAC, the costly part)
 * of the last few thousand tokens it made.
 */
void token_make_recent(const struct token_key *k, uint64_t probe_id, unsigned attempt,
		       char out[TOKEN_BUFLEN]);
/* The probe id as its tokens spell it: TOKEN_ID_DIGITS hex digits and a NUL. */
void token_id_digits(uint64_t probe_id, char out[TOKEN_ID_DIGITS + 1]);
/* s must start with a whole token (case-insensitive); 0 when its MAC verifies. */
int token_verify(const struct token_key *k, const char *s, uint64_t *probe_id,
		 unsigned *attempt);

/*
 * Calls fn for each distinct token-shaped substring of text[0..len) whose MAC
 * verifies; *forged (if not NULL) counts the token-shaped ones that did not.
 * Returns the number of verified tokens passed to fn.
 */
typedef void (*token_found_fn)(void *arg, uint64_t probe_id, unsigned attempt);
int token_scan(const struct token_key *k, const char *text, size_t len, token_found_fn fn,
	       void *arg, int *forged);

/*
 * Outside the probe and the sink a token is shown without its MAC: "rt",
 * the probe id and the attempt (TOKEN_SHOWN characters). A reader of
 * evidence, mails or logs can tell the attempts apart but cannot replay one.
 */
#define TOKEN_SHOWN 16
/* Shortens every token-shaped word of s in place to TOKEN_SHOWN chars + "..."; s shrinks. */
void token_redact(char *s);
/* A copy of s with every token shortened (malloc'd; NULL for NULL). */
char *token_redact_dup(const char *s);

#endif
