/*
 * A tiny test harness: each test is a function, each check prints got and
 * want on failure. Output lines "PASS suite: name" / "FAIL suite: name: ..."
 * are counted by tests/run.sh.
 */
#ifndef RELAYAUDIT_TEST_H
#define RELAYAUDIT_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *test_suite = "unit";
static int test_passed, test_failed, test_current_failed;
static const char *test_current;

#define TEST(name) static void test_##name(void)
#define RUN(name) test_run(#name, test_##name)

static inline void
test_run(const char *name, void (*fn)(void))
{
	test_current = name;
	test_current_failed = 0;
	fn();
	if (test_current_failed) {
		test_failed++;
	} else {
		test_passed++;
		printf("PASS %s: %s\n", test_suite, name);
	}
	fflush(stdout);
}

#define TEST_FAIL(...)                                                                         \
	do {                                                                                   \
		if (!test_current_failed)                                                      \
			printf("FAIL %s: %s: %s:%d: ", test_suite, test_current, __FILE__,     \
			       __LINE__);                                                      \
		test_current_failed = 1;                                                       \
		printf(__VA_ARGS__);                                                           \
		printf("\n");                                                                  \
	} while (0)

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			TEST_FAIL("check failed: %s", #cond);                                  \
			return;                                                                \
		}                                                                              \
	} while (0)

#define CHECK_MSG(cond, ...)                                                                   \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			TEST_FAIL(__VA_ARGS__);                                                \
			return;                                                                \
		}                                                                              \
	} while (0)

#define CHECK_INT(got, want)                                                                   \
	do {                                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);                       \
		if (g_ != w_) {                                                                \
			TEST_FAIL("%s: got %lld, want %lld", #got, g_, w_);                    \
			return;                                                                \
		}                                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                                   \
	do {                                                                                   \
		const char *g_ = (got), *w_ = (want);                                          \
		if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) {               \
			TEST_FAIL("%s: got \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)",     \
				  w_ ? w_ : "(null)");                                         \
			return;                                                                \
		}                                                                              \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                            \
	do {                                                                                   \
		const char *h_ = (hay), *n_ = (needle);                                        \
		if (h_ == NULL || strstr(h_, n_) == NULL) {                                    \
			TEST_FAIL("%s: got \"%s\", want it to contain \"%s\"", #hay,           \
				  h_ ? h_ : "(null)", n_);                                     \
			return;                                                                \
		}                                                                              \
	} while (0)

static inline int
test_summary(void)
{
	fprintf(stderr, "%s: %d passed, %d failed\n", test_suite, test_passed, test_failed);
	return test_failed ? 1 : 0;
}

#endif
