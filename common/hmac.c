/*
 * SHA-256 and HMAC-SHA-256 (RFC 2104) from OpenSSL's libcrypto. The
 * construction is the one the hand-written version had, so tokens and
 * signed links minted before the change still verify (test_common says so).
 */
#include "common/hmac.h"
#include "common/log.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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
