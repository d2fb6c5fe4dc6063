/*
 * Re-test links: a signed link verifies for its own case only, until it
 * expires; any change to it is refused; the per-case rate limit answers
 * "too soon" with the wait.
 */
#include "common/retest_link.h"
#include "tests/test.h"

#include <stdint.h>

static const char *secret = "0123456789abcdef-test-secret";

TEST(signed_link_verifies_for_its_case)
{
	char tok[RETEST_LINK_TOKEN_MAX];
	uint64_t id = 0;
	int64_t exp = 0;

	CHECK_INT(retest_link_token(secret, 42, 2000, tok, sizeof(tok)), 0);
	CHECK_INT(retest_link_verify(secret, tok, 1000, &id, &exp), RETEST_LINK_OK);
	CHECK_INT(id, 42);
	CHECK_INT(exp, 2000);
}

TEST(link_expires)
{
	char tok[RETEST_LINK_TOKEN_MAX];
	uint64_t id;
	int64_t exp;

	retest_link_token(secret, 42, 2000, tok, sizeof(tok));
	CHECK_INT(retest_link_verify(secret, tok, 2000, &id, &exp), RETEST_LINK_EXPIRED);
	CHECK_INT(retest_link_verify(secret, tok, 1999, &id, &exp), RETEST_LINK_OK);
}

TEST(link_is_bound_to_one_case)
{
	char tok[RETEST_LINK_TOKEN_MAX], other[RETEST_LINK_TOKEN_MAX];
	uint64_t id;
	int64_t exp;

	retest_link_token(secret, 42, 2000, tok, sizeof(tok));
	/* Same MAC with another case id. */
	snprintf(other, sizeof(other), "43%s", tok + 2);
	CHECK_INT(retest_link_verify(secret, other, 1000, &id, &exp), RETEST_LINK_BAD_SIGNATURE);
}

TEST(extended_expiry_is_refused)
{
	char tok[RETEST_LINK_TOKEN_MAX], other[RETEST_LINK_TOKEN_MAX];
	uint64_t id;
	int64_t exp;

	retest_link_token(secret, 42, 2000, tok, sizeof(tok));
	snprintf(other, sizeof(other), "42.9000%s", tok + 7);
	CHECK_INT(retest_link_verify(secret, other, 1000, &id, &exp), RETEST_LINK_BAD_SIGNATURE);
}

TEST(other_secret_is_refused)
{
	char tok[RETEST_LINK_TOKEN_MAX];
	uint64_t id;
	int64_t exp;

	retest_link_token(secret, 42, 2000, tok, sizeof(tok));
	CHECK_INT(retest_link_verify("another-secret-of-16", tok, 1000, &id, &exp),
	          RETEST_LINK_BAD_SIGNATURE);
}

TEST(malformed_tokens)
{
	static const char *const bad[] = {
	    "",
	    "42",
	    "42.2000",
	    "42.2000.",
	    "x.2000.00000000000000000000000000000000",
	    "042.2000.00000000000000000000000000000000",
	    "42.-1.00000000000000000000000000000000",
	    "42.2000.0000000000000000000000000000000", /* 31 hex */
	    "42.2000.0000000000000000000000000000000G",
	    "0.2000.00000000000000000000000000000000",
	    "42.2000.00000000000000000000000000000000.extra",
	    "99999999999999999999.2000.00000000000000000000000000000000",
	};
	uint64_t id;
	int64_t exp;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(
		    retest_link_verify(secret, bad[i], 1000, &id, &exp) == RETEST_LINK_MALFORMED,
		    "token \"%s\": got %s, want malformed", bad[i],
		    retest_link_status_name(retest_link_verify(secret, bad[i], 1000, &id, &exp)));
	CHECK_INT(retest_link_verify(secret, NULL, 1000, &id, &exp), RETEST_LINK_MALFORMED);
}

TEST(url_is_base_plus_token)
{
	char tok[RETEST_LINK_TOKEN_MAX];
	char *url = retest_link_url(secret, "https://isp.example/r/", 7, 5000);

	retest_link_token(secret, 7, 5000, tok, sizeof(tok));
	CHECK_CONTAINS(url, "https://isp.example/r/7.5000.");
	CHECK_STR(url + strlen("https://isp.example/r/"), tok);
	free(url);
}

TEST(rate_limit_says_how_long_to_wait)
{
	CHECK_INT(retest_link_wait(0, 1000, 900), 0);
	CHECK_INT(retest_link_wait(1000, 1100, 900), 800);
	CHECK_INT(retest_link_wait(1000, 1900, 900), 0);
	CHECK_INT(retest_link_wait(1000, 1000, 0), 0);
}

int
main(void)
{
	test_suite = "retest_link";
	RUN(signed_link_verifies_for_its_case);
	RUN(link_expires);
	RUN(link_is_bound_to_one_case);
	RUN(extended_expiry_is_refused);
	RUN(other_secret_is_refused);
	RUN(malformed_tokens);
	RUN(url_is_base_plus_token);
	RUN(rate_limit_says_how_long_to_wait);
	return test_summary();
}
