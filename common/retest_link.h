/*
 * Customers' self-service re-test links: "CASE.EXPIRES.MAC" appended to
 * retest_url, where MAC is 32 hex digits of HMAC-SHA-256(secret,
 * "relayaudit-retest-v1" CASE "." EXPIRES). Only holders of the secret can
 * mint one; each names exactly one case and stops working at EXPIRES (unix
 * seconds). Pure: the API verifies a link without any other state, and the
 * per-case rate limit is checked against cases.last_retest_at.
 */
#ifndef RELAYAUDIT_RETEST_LINK_H
#define RELAYAUDIT_RETEST_LINK_H

#include <stddef.h>
#include <stdint.h>

#define RETEST_LINK_MAC_HEX 32
/* Longest token: 20 digits, '.', 20 digits, '.', 32 hex. */
#define RETEST_LINK_TOKEN_MAX 80

enum retest_link_status {
	RETEST_LINK_OK,
	RETEST_LINK_MALFORMED,     /* not CASE.EXPIRES.MAC */
	RETEST_LINK_BAD_SIGNATURE, /* the MAC does not verify: forged or altered */
	RETEST_LINK_EXPIRED,       /* valid, but past its expiry */
};

/* The token for case_id valid until expires; 0, or -1 when out is too small. */
int retest_link_token(const char *secret, uint64_t case_id, int64_t expires, char *out,
		      size_t outlen);

/* The whole link: base_url + token (malloc'd). */
char *retest_link_url(const char *secret, const char *base_url, uint64_t case_id,
		      int64_t expires);

/*
 * Checks a token (as found in the link's last path segment) at time now.
 * On RETEST_LINK_OK and RETEST_LINK_EXPIRED, *case_id and *expires are set.
 */
enum retest_link_status retest_link_verify(const char *secret, const char *token, int64_t now,
					   uint64_t *case_id, int64_t *expires);

/* Stable name ("ok", "malformed", "bad_signature", "expired"). */
const char *retest_link_status_name(enum retest_link_status s);

/*
 * Rate limit per case: 0 when a re-test may start now, else the seconds
 * left before the next one ("too soon, try again in N minutes").
 * last_retest_at == 0 means never.
 */
int64_t retest_link_wait(int64_t last_retest_at, int64_t now, int64_t min_interval);

#endif
