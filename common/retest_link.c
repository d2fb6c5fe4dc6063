/*
 * Signing and checking re-test links (see retest_link.h). The MAC is
 * compared in constant time; the numbers are parsed strictly so that one
 * link has exactly one spelling.
 */
#include "common/retest_link.h"
#include "common/hmac.h"
#include "common/util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define RETEST_LINK_CONTEXT "relayaudit-retest-v1"

static void
retest_link_mac(const char *secret, uint64_t case_id, int64_t expires,
                char hex[RETEST_LINK_MAC_HEX + 1])
{
	char msg[96];
	uint8_t mac[SHA256_LEN];
	int n;

	n = snprintf(msg, sizeof(msg), RETEST_LINK_CONTEXT "%" PRIu64 ".%" PRId64, case_id,
	             expires);
	hmac_sha256(secret, strlen(secret), msg, (size_t)n, mac);
	hex_encode(mac, RETEST_LINK_MAC_HEX / 2, hex);
}

int
retest_link_token(const char *secret, uint64_t case_id, int64_t expires, char *out, size_t outlen)
{
	char hex[RETEST_LINK_MAC_HEX + 1];

	retest_link_mac(secret, case_id, expires, hex);
	return str_fmt(out, outlen, "%" PRIu64 ".%" PRId64 ".%s", case_id, expires, hex);
}

char *
retest_link_url(const char *secret, const char *base_url, uint64_t case_id, int64_t expires)
{
	char token[RETEST_LINK_TOKEN_MAX];

	retest_link_token(secret, case_id, expires, token, sizeof(token));
	return xasprintf("%s%s", base_url, token);
}

/* Digits only, no sign, no leading zero, at most 18 digits (no overflow). */
static bool
retest_link_number(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 18 || (s[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

enum retest_link_status
retest_link_verify(const char *secret, const char *token, int64_t now, uint64_t *case_id,
                   int64_t *expires)
{
	const char *dot1, *dot2, *mac;
	char want[RETEST_LINK_MAC_HEX + 1];
	int64_t id, exp;

	if (token == NULL || strnlen(token, RETEST_LINK_TOKEN_MAX) >= RETEST_LINK_TOKEN_MAX)
		return RETEST_LINK_MALFORMED;
	dot1 = strchr(token, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (dot2 == NULL)
		return RETEST_LINK_MALFORMED;
	mac = dot2 + 1;
	if (!retest_link_number(token, (size_t)(dot1 - token), &id) || id == 0 ||
	    !retest_link_number(dot1 + 1, (size_t)(dot2 - dot1 - 1), &exp) ||
	    strlen(mac) != RETEST_LINK_MAC_HEX ||
	    strspn(mac, "0123456789abcdef") != RETEST_LINK_MAC_HEX)
		return RETEST_LINK_MALFORMED;
	retest_link_mac(secret, (uint64_t)id, exp, want);
	if (memcmp_ct(want, mac, RETEST_LINK_MAC_HEX) != 0)
		return RETEST_LINK_BAD_SIGNATURE;
	*case_id = (uint64_t)id;
	*expires = exp;
	return now >= exp ? RETEST_LINK_EXPIRED : RETEST_LINK_OK;
}

const char *
retest_link_status_name(enum retest_link_status s)
{
	static const char *const names[] = {
	    [RETEST_LINK_OK] = "ok",
	    [RETEST_LINK_MALFORMED] = "malformed",
	    [RETEST_LINK_BAD_SIGNATURE] = "bad_signature",
	    [RETEST_LINK_EXPIRED] = "expired",
	};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

int64_t
retest_link_wait(int64_t last_retest_at, int64_t now, int64_t min_interval)
{
	int64_t next;

	if (last_retest_at <= 0)
		return 0;
	next = last_retest_at + min_interval;
	return now >= next ? 0 : next - now;
}
