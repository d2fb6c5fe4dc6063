/*
 * SHA-256 and HMAC-SHA-256 through OpenSSL's libcrypto: the probe tokens,
 * the re-test links and the stored API token hashes all rest on these.
 */
#ifndef RELAYAUDIT_HMAC_H
#define RELAYAUDIT_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
		 uint8_t out[SHA256_LEN]);

/* Constant-time comparison: 0 when equal. */
int memcmp_ct(const void *a, const void *b, size_t len);

#endif
