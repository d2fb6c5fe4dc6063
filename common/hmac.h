/*
 * SHA-256 and HMAC-SHA-256 (FIPS 180-4, RFC 2104): the probe tokens, the
 * re-test links and the stored API token hashes all rest on these.
 */
#ifndef RELAYAUDIT_HMAC_H
#define RELAYAUDIT_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t total;
	uint8_t buf[64];
	size_t used;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
		 uint8_t out[SHA256_LEN]);

/* Constant-time comparison: 0 when equal. */
int memcmp_ct(const void *a, const void *b, size_t len);

#endif
