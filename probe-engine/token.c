/*
 * Mints and verifies the per-attempt tokens carried in relay-test recipients,
 * Subjects and Message-IDs, and finds them again in whatever comes back.
 */
#include "probe-engine/token.h"
#include "common/hmac.h"
#include "common/util.h"

#include <ctype.h>
#include <stdbool.h>
#include <strings.h>
#include <string.h>

void
token_key_init(struct token_key *k, const void *secret, size_t len)
{
	/* Keys longer than a block are hashed, as HMAC itself would. */
	if (len > sizeof(k->key)) {
		sha256(secret, len, k->key);
		k->len = SHA256_LEN;
	} else {
		memcpy(k->key, secret, len);
		k->len = len;
	}
}

static void
token_mac(const struct token_key *k, uint64_t probe_id, unsigned attempt,
	  uint8_t mac[SHA256_LEN])
{
	uint8_t msg[19 + 7];

	memcpy(msg, "relayaudit-token-v1", 19);
	for (int i = 0; i < 6; i++)
		msg[19 + i] = (uint8_t)(probe_id >> (40 - 8 * i));
	msg[25] = (uint8_t)attempt;
	hmac_sha256(k->key, k->len, msg, sizeof(msg), mac);
}

static void
token_mac_part(const struct token_key *k, uint64_t probe_id, unsigned attempt,
	       uint8_t out[TOKEN_MAC_BYTES])
{
	uint8_t mac[SHA256_LEN];

	token_mac(k, probe_id & TOKEN_PROBE_ID_MAX, attempt & TOKEN_ATTEMPT_MAX, mac);
	memcpy(out, mac, TOKEN_MAC_BYTES);
}

void
token_id_digits(uint64_t probe_id, char out[TOKEN_ID_DIGITS + 1])
{
	uint8_t id[TOKEN_ID_DIGITS / 2];

	probe_id &= TOKEN_PROBE_ID_MAX;
	for (int i = 0; i < 6; i++)
		id[i] = (uint8_t)(probe_id >> (40 - 8 * i));
	hex_encode(id, sizeof(id), out);
}

static void
token_format(uint64_t probe_id, unsigned attempt, const uint8_t mac[TOKEN_MAC_BYTES],
	     char out[TOKEN_BUFLEN])
{
	uint8_t a = (uint8_t)(attempt & TOKEN_ATTEMPT_MAX);

	memcpy(out, TOKEN_PREFIX, 2);
	token_id_digits(probe_id, out + 2);
	hex_encode(&a, 1, out + 2 + TOKEN_ID_DIGITS);
	hex_encode(mac, TOKEN_MAC_BYTES, out + 4 + TOKEN_ID_DIGITS);
}

void
token_make(const struct token_key *k, uint64_t probe_id, unsigned attempt,
	   char out[TOKEN_BUFLEN])
{
	uint8_t mac[TOKEN_MAC_BYTES];

	token_mac_part(k, probe_id, attempt, mac);
	token_format(probe_id, attempt, mac, out);
}

/*
 * The recent MACs: direct-mapped by probe id and attempt. 4,096 entries
 * hold what a loop renders between sending a command and reading the
 * reply that echoes it; a probe's last pass over its tokens (the result)
 * mostly misses and computes them again.
 */
#define RECENT_SLOTS 4096

struct token_recent {
	struct token_key key; /* the key the entries were made with */
	struct {
		uint64_t tag; /* 1 + (probe id << 8 | attempt); 0: empty */
		uint8_t mac[TOKEN_MAC_BYTES];
	} slot[RECENT_SLOTS];
};

static struct thread_slot recent_slot = THREAD_SLOT_INIT(sizeof(struct token_recent), NULL);

/* This thread's table for key k (emptied when the key is another), or NULL. */
static struct token_recent *
recent_table(const struct token_key *k)
{
	struct token_recent *t = thread_slot_get(&recent_slot);

	if (t != NULL && (t->key.len != k->len || memcmp(t->key.key, k->key, k->len) != 0)) {
		memset(t->slot, 0, sizeof(t->slot));
		t->key = *k;
	}
	return t;
}

void
token_make_recent(const struct token_key *k, uint64_t probe_id, unsigned attempt,
		  char out[TOKEN_BUFLEN])
{
	struct token_recent *t = recent_table(k);
	uint64_t tag;
	size_t at;

	probe_id &= TOKEN_PROBE_ID_MAX;
	attempt &= TOKEN_ATTEMPT_MAX;
	if (t == NULL) {
		token_make(k, probe_id, attempt, out);
		return;
	}
	tag = (probe_id << 8 | attempt) + 1;
	at = (size_t)((tag * UINT64_C(0x9e3779b97f4a7c15)) >> 52) % RECENT_SLOTS;
	if (t->slot[at].tag != tag) {
		token_mac_part(k, probe_id, attempt, t->slot[at].mac);
		t->slot[at].tag = tag;
	}
	token_format(probe_id, attempt, t->slot[at].mac, out);
}

int
token_verify(const struct token_key *k, const char *s, uint64_t *probe_id, unsigned *attempt)
{
	char copy[TOKEN_BUFLEN];
	uint8_t id[7], mac[TOKEN_MAC_BYTES], want[SHA256_LEN];
	uint64_t pid = 0;

	if (strncasecmp(s, TOKEN_PREFIX, 2) != 0)
		return -1;
	for (int i = 2; i < TOKEN_LEN; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
	}
	memcpy(copy, s + 2, 14);
	copy[14] = '\0';
	if (hex_decode(copy, id, 7) < 0)
		return -1;
	memcpy(copy, s + 16, 16);
	copy[16] = '\0';
	if (hex_decode(copy, mac, TOKEN_MAC_BYTES) < 0)
		return -1;
	for (int i = 0; i < 6; i++)
		pid = pid << 8 | id[i];
	token_mac(k, pid, id[6], want);
	if (memcmp_ct(mac, want, TOKEN_MAC_BYTES) != 0)
		return -1;
	*probe_id = pid;
	*attempt = id[6];
	return 0;
}

int
token_scan(const struct token_key *k, const char *text, size_t len, token_found_fn fn,
	   void *arg, int *forged)
{
	uint64_t seen_id[64];
	unsigned seen_attempt[64];
	int nseen = 0, found = 0;

	if (forged)
		*forged = 0;
	for (size_t i = 0; i + TOKEN_LEN <= len; i++) {
		size_t j;
		uint64_t pid;
		unsigned att;
		bool dup = false;

		if ((text[i] != 'r' && text[i] != 'R') || (text[i + 1] != 't' && text[i + 1] != 'T'))
			continue;
		/* A token is bounded by non-hex-word characters on both sides. */
		if (i > 0 && isalnum((unsigned char)text[i - 1]))
			continue;
		for (j = 2; j < TOKEN_LEN && isxdigit((unsigned char)text[i + j]); j++)
			;
		if (j < TOKEN_LEN)
			continue;
		if (i + TOKEN_LEN < len && isalnum((unsigned char)text[i + TOKEN_LEN]))
			continue;
		char tok[TOKEN_BUFLEN];

		memcpy(tok, text + i, TOKEN_LEN);
		tok[TOKEN_LEN] = '\0';
		if (token_verify(k, tok, &pid, &att) < 0) {
			if (forged)
				(*forged)++;
			continue;
		}
		for (int n = 0; n < nseen; n++)
			dup |= seen_id[n] == pid && seen_attempt[n] == att;
		if (dup)
			continue;
		if (nseen < 64) {
			seen_id[nseen] = pid;
			seen_attempt[nseen++] = att;
		}
		found++;
		if (fn)
			fn(arg, pid, att);
		i += TOKEN_LEN - 1;
	}
	return found;
}

/* A whole token-shaped word at s; prev is the character before it (0 at the start). */
static bool
token_shaped(char prev, const char *s)
{
	if (strnlen(s, TOKEN_LEN) < TOKEN_LEN || isalnum((unsigned char)prev))
		return false;
	if ((s[0] != 'r' && s[0] != 'R') || (s[1] != 't' && s[1] != 'T'))
		return false;
	for (int j = 2; j < TOKEN_LEN; j++) {
		if (!isxdigit((unsigned char)s[j]))
			return false;
	}
	return !isalnum((unsigned char)s[TOKEN_LEN]);
}

void
token_redact(char *s)
{
	char *w = s, prev = '\0';

	if (s == NULL)
		return;
	/* w never passes r, and prev keeps the original character before r. */
	for (const char *r = s; *r != '\0';) {
		if (token_shaped(prev, r)) {
			prev = r[TOKEN_LEN - 1];
			memmove(w, r, TOKEN_SHOWN);
			memcpy(w + TOKEN_SHOWN, "...", 3);
			w += TOKEN_SHOWN + 3;
			r += TOKEN_LEN;
			continue;
		}
		prev = *r;
		*w++ = *r++;
	}
	*w = '\0';
}

char *
token_redact_dup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = xstrdup(s);
	token_redact(d);
	return d;
}
