/*
 * SHA-256 and HMAC-SHA-256 (RFC 2104) from OpenSSL's libcrypto. The
 * construction is the one the hand-written version had, so tokens and
 * signed links minted before the change still verify (test_common says so).
 */
#include "common/hmac.h"
#include "common/log.h"
#include "common/util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <string.h>

/*
 * OpenSSL 3's one-shot HMAC() looks the algorithm up and sets the key on
 * every call (some 14 us under load; a probe mints ~80 tokens). Each thread
 * keeps one keyed context for the last key it used and re-initialises it
 * with that key (about 2 us); another key re-keys it. Freed with the thread.
 */
#define HMAC_KEY_MAX 128

struct hmac_cache {
	EVP_MAC_CTX *ctx;
	uint8_t key[HMAC_KEY_MAX];
	size_t keylen;
};

static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_mac; /* fetched once; EVP_MAC objects may be shared by threads */

static void
hmac_cache_release(void *p)
{
	struct hmac_cache *c = p;

	EVP_MAC_CTX_free(c->ctx);
	OPENSSL_cleanse(c->key, sizeof(c->key));
}

static struct thread_slot hmac_slot =
	THREAD_SLOT_INIT(sizeof(struct hmac_cache), hmac_cache_release);

static void
hmac_init_once(void)
{
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* This thread's context keyed with key, or NULL (then the one-shot path is taken). */
static EVP_MAC_CTX *
hmac_keyed(const void *key, size_t keylen)
{
	struct hmac_cache *c;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};

	if (keylen == 0 || keylen > HMAC_KEY_MAX)
		return NULL;
	pthread_once(&hmac_once, hmac_init_once);
	if (hmac_mac == NULL)
		return NULL;
	if ((c = thread_slot_get(&hmac_slot)) == NULL)
		return NULL;
	if (c->ctx == NULL && (c->ctx = EVP_MAC_CTX_new(hmac_mac)) == NULL)
		return NULL;
	if (c->keylen == keylen && CRYPTO_memcmp(c->key, key, keylen) == 0)
		return EVP_MAC_init(c->ctx, NULL, 0, NULL) == 1 ? c->ctx : NULL;
	c->keylen = 0;
	if (EVP_MAC_init(c->ctx, key, keylen, params) != 1)
		return NULL;
	memcpy(c->key, key, keylen);
	c->keylen = keylen;
	return c->ctx;
}

void
sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;

	/* only fails when libcrypto itself is broken (no SHA-256 at all) */
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != SHA256_LEN)
		fatal("EVP_Digest(SHA-256) failed");
}

void
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
	    uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;
	static const uint8_t empty[1];
	EVP_MAC_CTX *ctx = hmac_keyed(key, keylen);
	size_t outlen = 0;

	if (ctx != NULL && EVP_MAC_update(ctx, msg, msglen) == 1 &&
	    EVP_MAC_final(ctx, out, &outlen, SHA256_LEN) == 1 && outlen == SHA256_LEN)
		return;
	/* HMAC() takes NULL as "no key" only in some versions: pass a real pointer */
	if (HMAC(EVP_sha256(), keylen ? key : empty, (int)keylen, msg, msglen, out, &n) == NULL ||
	    n != SHA256_LEN)
		fatal("HMAC(SHA-256) failed");
}

int
memcmp_ct(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) != 0;
}
