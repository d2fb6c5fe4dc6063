/*
 * The common helpers every layer leans on: checked number and duration
 * parsing, log censoring of peer text, addresses and CIDR ranges.
 */
#include "common/addr.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/test.h"

#include <pthread.h>

TEST(parse_i64_checks_range_and_whole_string)
{
	int64_t v;

	CHECK_INT(parse_i64("42", 0, 100, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(parse_i64("101", 0, 100, &v), -1);
	CHECK_INT(parse_i64("4x", 0, 100, &v), -1);
	CHECK_INT(parse_i64("", 0, 100, &v), -1);
	CHECK_INT(parse_i64("99999999999999999999", 0, INT64_MAX, &v), -1);
}

TEST(parse_duration_takes_units)
{
	int64_t s;

	CHECK_INT(parse_duration("90", &s), 0);
	CHECK_INT(s, 90);
	CHECK_INT(parse_duration("15m", &s), 0);
	CHECK_INT(s, 900);
	CHECK_INT(parse_duration("3d", &s), 0);
	CHECK_INT(s, 3 * 86400);
	CHECK_INT(parse_duration("soon", &s), -1);
	CHECK_INT(parse_duration("5y", &s), -1);
}

TEST(log_censor_replaces_what_could_forge_fields)
{
	char out[32];
	const char peer[] = "250 ok\r\nlevel=error \"x\"\\";

	log_censor(out, sizeof(out), peer, sizeof(peer) - 1);
	CHECK_STR(out, "250 ok??level=error ?x??");
	log_censor(out, 5, "abcdefgh", 8);
	CHECK_STR(out, "abcd");
}

TEST(addresses_parse_and_format_both_families)
{
	struct addr a;
	char buf[ADDR_STRLEN];

	CHECK_INT(addr_parse("192.0.2.1", &a), 0);
	CHECK_INT(a.family, AF_INET);
	CHECK_INT(addr_parse("2001:db8::1", &a), 0);
	addr_format(&a, buf, sizeof(buf));
	CHECK_STR(buf, "2001:db8::1");
	CHECK_INT(addr_parse("192.0.2.256", &a), -1);
	CHECK_INT(addr_parse("example.com", &a), -1);
}

TEST(cidr_refuses_host_bits_and_bad_prefixes)
{
	struct cidr c;
	const char *why = NULL;

	CHECK_INT(cidr_parse("10.0.0.0/8", &c, &why), 0);
	CHECK_INT(cidr_size(&c), 1 << 24);
	CHECK_INT(cidr_parse("10.1.0.0/8", &c, &why), -1);
	CHECK_CONTAINS(why, "host bits");
	CHECK_INT(cidr_parse("10.0.0.0/33", &c, &why), -1);
	CHECK_INT(cidr_parse("2001:db8::/129", &c, &why), -1);
	CHECK_INT(cidr_parse("2001:db8::1", &c, &why), 0);
	CHECK_INT(c.prefix, 128);
	CHECK_INT(cidr_size(&c), 1);
}

TEST(cidr_nth_walks_the_range_with_carry)
{
	struct cidr c;
	struct addr a;
	const char *why;
	char buf[ADDR_STRLEN];

	CHECK_INT(cidr_parse("10.0.0.0/16", &c, &why), 0);
	cidr_nth(&c, 256 + 7, &a);
	addr_format(&a, buf, sizeof(buf));
	CHECK_STR(buf, "10.0.1.7");
	CHECK(cidr_contains(&c, &a));
	CHECK_INT(cidr_parse("2001:db8::ff00/120", &c, &why), 0);
	cidr_nth(&c, 255, &a);
	addr_format(&a, buf, sizeof(buf));
	CHECK_STR(buf, "2001:db8::ffff");
}

TEST(loopback_is_recognised)
{
	struct addr a;

	addr_parse("127.0.70.10", &a);
	CHECK(addr_is_loopback(&a));
	addr_parse("::1", &a);
	CHECK(addr_is_loopback(&a));
	addr_parse("192.0.2.1", &a);
	CHECK(!addr_is_loopback(&a));
}

TEST(hex_round_trips)
{
	uint8_t in[3] = {0x00, 0xab, 0xff}, out[3];
	char hex[7];

	hex_encode(in, 3, hex);
	CHECK_STR(hex, "00abff");
	CHECK_INT(hex_decode("00ABff", out, 3), 0);
	CHECK(memcmp(in, out, 3) == 0);
	CHECK_INT(hex_decode("00abf", out, 3), -1);
}

TEST(str_fmt_copies_and_says_when_it_cut)
{
	char buf[6];

	/* "%s" takes a copy path of its own: the same result as the printf one */
	CHECK_INT(str_fmt(buf, sizeof(buf), "%s", "4.7.1"), 0);
	CHECK_STR(buf, "4.7.1");
	CHECK_INT(str_fmt(buf, sizeof(buf), "%s", "5.7.1x"), -1);
	CHECK_STR(buf, "5.7.1");
	CHECK_INT(str_fmt(buf, sizeof(buf), "%s", ""), 0);
	CHECK_STR(buf, "");
	CHECK_INT(str_fmt(buf, sizeof(buf), "%s%s", "ab", "cdefg"), -1);
	CHECK_STR(buf, "abcde");
}

static atomic_int slot_released;

static void
slot_release(void *obj)
{
	if (*(int *)obj == 7)
		atomic_fetch_add(&slot_released, 1);
}

static struct thread_slot test_slot = THREAD_SLOT_INIT(sizeof(int) * 16, slot_release);
static pthread_barrier_t slot_barrier; /* both threads hold their objects at once */

static void *
slot_thread(void *arg)
{
	int *a = thread_slot_get(&test_slot), *b = thread_slot_get(&test_slot);
	bool zero = true;

	for (int i = 0; i < 16; i++)
		zero = zero && a[i] == 0;
	*(int **)arg = zero && a == b ? a : NULL;
	a[0] = 7; /* released at the thread's exit */
	pthread_barrier_wait(&slot_barrier);
	pthread_barrier_wait(&slot_barrier);
	return NULL;
}

TEST(thread_slot_gives_each_thread_its_own_object_and_releases_it)
{
	pthread_t t[2];
	int *seen[2] = {NULL, NULL}, *mine = thread_slot_get(&test_slot);

	CHECK(mine != NULL);
	pthread_barrier_init(&slot_barrier, NULL, 3);
	for (int i = 0; i < 2; i++)
		CHECK_INT(pthread_create(&t[i], NULL, slot_thread, &seen[i]), 0);
	pthread_barrier_wait(&slot_barrier);
	/* each thread got a zeroed object of its own, the same one on every call */
	CHECK(seen[0] != NULL && seen[1] != NULL);
	CHECK(seen[0] != seen[1] && seen[0] != mine && seen[1] != mine);
	CHECK_INT(atomic_load(&slot_released), 0);
	pthread_barrier_wait(&slot_barrier);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&slot_barrier);
	CHECK(thread_slot_get(&test_slot) == mine);
	CHECK_INT(atomic_load(&slot_released), 2);
}

int
main(void)
{
	test_suite = "util";
	RUN(parse_i64_checks_range_and_whole_string);
	RUN(parse_duration_takes_units);
	RUN(log_censor_replaces_what_could_forge_fields);
	RUN(addresses_parse_and_format_both_families);
	RUN(cidr_refuses_host_bits_and_bad_prefixes);
	RUN(cidr_nth_walks_the_range_with_carry);
	RUN(loopback_is_recognised);
	RUN(hex_round_trips);
	RUN(str_fmt_copies_and_says_when_it_cut);
	RUN(thread_slot_gives_each_thread_its_own_object_and_releases_it);
	return test_summary();
}
