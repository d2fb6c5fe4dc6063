/*
 * The common/ pieces the probe engine stands on: SHA-256 and HMAC test
 * vectors (FIPS 180-4, RFC 4231), tokens (round trip, case folding,
 * forgery), and address/CIDR handling.
 */
#include "common/addr.h"
#include "common/hmac.h"
#include "common/mail_domain.h"
#include "common/retest_link.h"
#include "common/util.h"
#include "probe-engine/token.h"
#include "tests/test.h"

static void
hexof(const uint8_t *b, size_t n, char *out)
{
	hex_encode(b, n, out);
}

TEST(sha256_matches_fips_vectors)
{
	uint8_t d[SHA256_LEN];
	char h[65];

	sha256("abc", 3, d);
	hexof(d, sizeof(d), h);
	CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256("", 0, d);
	hexof(d, sizeof(d), h);
	CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256(m, strlen(m), d);
	hexof(d, sizeof(d), h);
	CHECK_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(hmac_sha256_matches_rfc4231)
{
	uint8_t key[131], d[SHA256_LEN];
	char h[65];

	memset(key, 0x0b, 20);
	hmac_sha256(key, 20, "Hi There", 8, d);
	hexof(d, sizeof(d), h);
	CHECK_STR(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
	hexof(d, sizeof(d), h);
	CHECK_STR(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, sizeof(key));
	const char *m = "Test Using Larger Than Block-Size Key - Hash Key First";
	hmac_sha256(key, sizeof(key), m, strlen(m), d);
	hexof(d, sizeof(d), h);
	CHECK_STR(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/*
 * Vectors minted by the hand-written SHA-256/HMAC that OpenSSL replaced:
 * tokens in flight and re-test links already mailed keep verifying.
 */
TEST(tokens_and_retest_links_are_unchanged_since_openssl)
{
	struct token_key k;
	char t[TOKEN_BUFLEN], out[RETEST_LINK_TOKEN_MAX + 1];
	const char *longkey =
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

	token_key_init(&k, "fixed-vector-secret", 19);
	token_make(&k, 123456789, 73, t);
	CHECK_STR(t, "rt0000075bcd15493f0f7d15bd527008");
	token_key_init(&k, longkey, strlen(longkey));
	token_make(&k, 5, 2, t);
	CHECK_STR(t, "rt00000000000502ba9d922e71e1f7ab");
	CHECK(retest_link_token("link-secret", 42, 1900000000, out, sizeof(out)) == 0);
	CHECK_STR(out, "42.1900000000.8f0ba523671f4feea6410293dc9618f6");
}

TEST(memcmp_ct_tells_equal_from_different)
{
	CHECK(memcmp_ct("abcd", "abcd", 4) == 0);
	CHECK(memcmp_ct("abcd", "abce", 4) != 0);
}

static struct token_key key;

TEST(token_round_trips_and_is_lower_case)
{
	char t[TOKEN_BUFLEN];
	uint64_t id;
	unsigned att;

	token_make(&key, 123456789, 73, t);
	CHECK_INT(strlen(t), TOKEN_LEN);
	CHECK(strncmp(t, "rt", 2) == 0);
	for (int i = 0; t[i]; i++)
		CHECK(!(t[i] >= 'A' && t[i] <= 'Z'));
	CHECK(token_verify(&key, t, &id, &att) == 0);
	CHECK_INT(id, 123456789);
	CHECK_INT(att, 73);
}

/* The prober's remembered MACs give token_make's tokens, whichever key, whatever collides. */
TEST(recent_tokens_are_token_makes_also_after_the_key_changes)
{
	struct token_key a, b;
	char want[TOKEN_BUFLEN], got[TOKEN_BUFLEN];

	token_key_init(&a, "fixed-vector-secret", 19);
	token_key_init(&b, "another-secret", 14);
	token_make_recent(&a, 123456789, 73, got);
	CHECK_STR(got, "rt0000075bcd15493f0f7d15bd527008");
	token_make_recent(&b, 123456789, 73, got); /* remembered under a; b's is another */
	token_make(&b, 123456789, 73, want);
	CHECK_STR(got, want);
	/* more tokens than the table holds, twice: every one right whether remembered or not */
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t id = 1; id <= 400; id++) { /* 5,600 tokens */
			for (unsigned att = 0; att < 100; att += 7) {
				token_make_recent(&a, id << 20, att, got);
				token_make(&a, id << 20, att, want);
				if (strcmp(got, want) != 0) {
					CHECK_STR(got, want);
					return;
				}
			}
		}
	}
}

TEST(token_verifies_after_a_relay_folds_its_case)
{
	char t[TOKEN_BUFLEN];
	uint64_t id;
	unsigned att;

	token_make(&key, 5, 2, t);
	for (int i = 0; t[i]; i++)
		t[i] = (char)((t[i] >= 'a' && t[i] <= 'z') ? t[i] - 32 : t[i]);
	CHECK(token_verify(&key, t, &id, &att) == 0);
	CHECK_INT(att, 2);
}

TEST(forged_or_altered_tokens_fail)
{
	char t[TOKEN_BUFLEN], t2[TOKEN_BUFLEN];
	uint64_t id;
	unsigned att;
	struct token_key other;

	token_make(&key, 77, 1, t);
	memcpy(t2, t, sizeof(t));
	t2[TOKEN_LEN - 1] = t2[TOKEN_LEN - 1] == '0' ? '1' : '0';
	CHECK(token_verify(&key, t2, &id, &att) < 0);
	/* another probe's id with this MAC */
	memcpy(t2, t, sizeof(t));
	t2[13] = t2[13] == '0' ? '1' : '0';
	CHECK(token_verify(&key, t2, &id, &att) < 0);
	token_key_init(&other, "another secret!!", 16);
	CHECK(token_verify(&other, t, &id, &att) < 0);
	CHECK(token_verify(&key, "rtzz", &id, &att) < 0);
}

static void
found(void *arg, uint64_t id, unsigned att)
{
	int *n = arg;

	(*n)++;
	(void)id;
	(void)att;
}

TEST(token_scan_finds_each_token_once_and_counts_forgeries)
{
	char t[TOKEN_BUFLEN], text[512];
	int n = 0, forged = 0;

	token_make(&key, 99, 4, t);
	snprintf(text, sizeof(text),
		 "To: <%s@sink>\r\nSubject: test %s\r\nX: rt000000000000000000000000000000\r\n", t, t);
	CHECK_INT(token_scan(&key, text, strlen(text), found, &n, &forged), 1);
	CHECK_INT(n, 1);
	CHECK_INT(forged, 1);
}

TEST(addresses_parse_and_format_both_families)
{
	struct addr a;
	char buf[ADDR_STRLEN];
	int port;

	CHECK(addr_parse("192.0.2.1", &a) == 0);
	CHECK_INT(a.family, AF_INET);
	addr_format(&a, buf, sizeof(buf));
	CHECK_STR(buf, "192.0.2.1");
	CHECK(addr_parse("2001:DB8::1", &a) == 0);
	addr_format(&a, buf, sizeof(buf));
	CHECK_STR(buf, "2001:db8::1");
	CHECK(addr_parse("999.1.1.1", &a) < 0);
	CHECK(addr_parse("host.example", &a) < 0);
	CHECK(addr_port_parse("[::1]:2525", 25, &a, &port) == 0);
	CHECK_INT(port, 2525);
	CHECK(addr_port_parse("127.0.10.1", 25, &a, &port) == 0);
	CHECK_INT(port, 25);
	CHECK(addr_port_parse("127.0.10.1:99999", 25, &a, &port) < 0);
}

TEST(cidr_containment_and_host_bits)
{
	struct cidr c;
	struct addr a;
	const char *why;

	CHECK(cidr_parse("192.0.2.0/24", &c, &why) == 0);
	CHECK(addr_parse("192.0.2.200", &a) == 0);
	CHECK(cidr_contains(&c, &a));
	CHECK(addr_parse("192.0.3.1", &a) == 0);
	CHECK(!cidr_contains(&c, &a));
	CHECK(cidr_parse("192.0.2.1/24", &c, &why) < 0);
	CHECK(cidr_parse("2001:db8::/32", &c, &why) == 0);
	CHECK(addr_parse("2001:db8:1::5", &a) == 0);
	CHECK(cidr_contains(&c, &a));
	CHECK(addr_parse("192.0.2.1", &a) == 0);
	CHECK(!cidr_contains(&c, &a));
	CHECK(cidr_parse("10.0.0.0/30", &c, &why) == 0);
	CHECK_INT(cidr_size(&c), 4);
}

TEST(net_key_groups_by_24_and_64)
{
	struct addr a, b;

	addr_parse("192.0.2.1", &a);
	addr_parse("192.0.2.254", &b);
	CHECK(addr_net_key(&a) == addr_net_key(&b));
	addr_parse("192.0.3.1", &b);
	CHECK(addr_net_key(&a) != addr_net_key(&b));
	addr_parse("2001:db8:0:1::1", &a);
	addr_parse("2001:db8:0:1:ffff::9", &b);
	CHECK(addr_net_key(&a) == addr_net_key(&b));
	addr_parse("2001:db8:0:2::1", &b);
	CHECK(addr_net_key(&a) != addr_net_key(&b));
	addr_parse("127.0.10.3", &a);
	CHECK(addr_is_loopback(&a));
}

TEST(ipv4_mapped_ipv6_parses_as_ipv4)
{
	struct addr a, b;
	struct cidr c;
	const char *why = NULL;
	char buf[ADDR_STRLEN];
	int port;

	CHECK(addr_parse("::ffff:192.0.2.15", &a) == 0);
	CHECK(addr_parse("192.0.2.15", &b) == 0);
	CHECK_INT(a.family, AF_INET);
	CHECK(addr_equal(&a, &b));
	addr_format(&a, buf, sizeof(buf));
	CHECK_STR(buf, "192.0.2.15");
	CHECK(addr_port_parse("[::ffff:127.0.0.5]:25", 0, &a, &port) == 0);
	addr_format(&a, buf, sizeof(buf));
	CHECK_STR(buf, "127.0.0.5");
	CHECK(cidr_parse("::ffff:192.0.2.0/120", &c, &why) == 0);
	cidr_format(&c, buf, sizeof(buf));
	CHECK_STR(buf, "192.0.2.0/24");
	CHECK(addr_parse("::ffff:192.0.2.15", &a) == 0 && cidr_contains(&c, &a));
	/* a range wider than the mapped block stays IPv6 */
	CHECK(cidr_parse("::/64", &c, &why) == 0);
	CHECK_INT(c.base.family, AF_INET6);
}

TEST(non_targets_are_refused_with_the_range_named)
{
	static const struct {
		const char *s;
		bool lab;
		const char *want; /* NULL: accepted */
	} cases[] = {
	    {"0.0.0.0", false, "unspecified"},
	    {"255.255.255.255", false, "broadcast"},
	    {"224.0.0.1", false, "multicast"},
	    {"239.255.255.250", true, "multicast"},
	    {"127.0.0.1", false, "loopback"},
	    {"127.0.0.1", true, NULL},
	    {"169.254.1.1", true, "link-local"},
	    {"192.0.2.15", false, "documentation"},
	    {"192.0.2.15", true, NULL},
	    {"198.51.100.0/24", false, "documentation"},
	    {"198.51.0.0/16", false, "documentation"}, /* overlaps */
	    {"::", false, "unspecified"},
	    {"::", true, "unspecified"},
	    {"::1", false, "loopback"},
	    {"::1", true, NULL},
	    {"ff02::1", false, "multicast"},
	    {"fe80::1", false, "link-local"},
	    {"2001:db8::25", false, "documentation"},
	    {"::ffff:0.0.0.0", false, "unspecified"},
	    {"::ffff:224.0.0.1", false, "multicast"},
	    {"8.8.0.0/16", false, NULL},
	    {"2a00:1450::1", false, NULL},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct cidr c;
		const char *why = NULL;
		int rc;

		CHECK(cidr_parse(cases[i].s, &c, &why) == 0);
		rc = cidr_target_check(&c, cases[i].lab, &why);
		if (cases[i].want == NULL && rc != 0)
			TEST_FAIL("%s lab=%d: got refused (%s), want accepted", cases[i].s,
			          cases[i].lab, why);
		if (cases[i].want != NULL && (rc == 0 || strstr(why, cases[i].want) == NULL))
			TEST_FAIL("%s lab=%d: got %s, want refused as %s", cases[i].s, cases[i].lab,
			          rc == 0 ? "accepted" : why, cases[i].want);
	}
}

TEST(mail_domains_are_checked_and_lower_cased)
{
	static const struct {
		const char *in, *want, *why; /* want NULL: refused with a reason containing why */
	} cases[] = {
	    {"GrosseFirma.DE", "grossefirma.de", NULL},
	    {"mail.example.co.uk.", "mail.example.co.uk", NULL},
	    {"xn--bcher-kva.example", "xn--bcher-kva.example", NULL},
	    {"a-b.c1.example", "a-b.c1.example", NULL},
	    {"", NULL, "empty"},
	    {".", NULL, "empty"},
	    {"example", NULL, "single label"},
	    {"192.0.2.1", NULL, "all digits"},
	    {"a..example", NULL, "empty label"},
	    {".example.com", NULL, "empty label"},
	    {"-a.example", NULL, "starts with '-'"},
	    {"a-.example", NULL, "ends with '-'"},
	    {"a b.example", NULL, "character other than"},
	    {"a_b.example", NULL, "character other than"},
	    {"b\xc3\xbc" "cher.example", NULL, "A-label"},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", NULL,
	     "longer than 63"},
	};
	char out[MAIL_DOMAIN_MAX + 1];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *why = NULL;
		int rc = mail_domain_normal(cases[i].in, out, &why);

		if (cases[i].want != NULL && (rc != 0 || strcmp(out, cases[i].want) != 0))
			TEST_FAIL("'%s': got %s '%s', want '%s'", cases[i].in, rc ? "refused" : "ok",
			          rc ? why : out, cases[i].want);
		if (cases[i].want == NULL && (rc == 0 || strstr(why, cases[i].why) == NULL))
			TEST_FAIL("'%s': got %s, want refused as %s", cases[i].in,
			          rc == 0 ? "accepted" : why, cases[i].why);
	}
	{
		char longname[300];
		const char *why = NULL;

		memset(longname, 'a', sizeof(longname));
		for (size_t i = 60; i < sizeof(longname); i += 61)
			longname[i] = '.';
		longname[sizeof(longname) - 1] = '\0';
		CHECK_INT(mail_domain_normal(longname, out, &why), -1);
		CHECK_STR(why, "longer than 253 characters");
	}
}

TEST(mail_domain_lists_keep_each_once_in_order_up_to_their_room)
{
	const char *list[3];
	size_t n = 0;

	CHECK_INT(mail_domain_add(list, &n, 3, "a.example"), 1);
	CHECK_INT(mail_domain_add(list, &n, 3, "A.Example"), 0);
	CHECK_INT(mail_domain_add(list, &n, 3, "b.example"), 1);
	CHECK_INT(mail_domain_add(list, &n, 3, "c.example"), 1);
	CHECK_INT(mail_domain_add(list, &n, 3, "d.example"), -1);
	CHECK_INT(mail_domain_add(list, &n, 3, "b.example"), 0);
	CHECK_INT((int)n, 3);
	CHECK_STR(list[0], "a.example");
	CHECK_STR(list[2], "c.example");
}

int
main(void)
{
	test_suite = "common";
	token_key_init(&key, "0123456789abcdef-secret", 23);
	RUN(sha256_matches_fips_vectors);
	RUN(hmac_sha256_matches_rfc4231);
	RUN(tokens_and_retest_links_are_unchanged_since_openssl);
	RUN(memcmp_ct_tells_equal_from_different);
	RUN(token_round_trips_and_is_lower_case);
	RUN(recent_tokens_are_token_makes_also_after_the_key_changes);
	RUN(token_verifies_after_a_relay_folds_its_case);
	RUN(forged_or_altered_tokens_fail);
	RUN(token_scan_finds_each_token_once_and_counts_forgeries);
	RUN(addresses_parse_and_format_both_families);
	RUN(cidr_containment_and_host_bits);
	RUN(net_key_groups_by_24_and_64);
	RUN(ipv4_mapped_ipv6_parses_as_ipv4);
	RUN(non_targets_are_refused_with_the_range_named);
	RUN(mail_domains_are_checked_and_lower_cased);
	RUN(mail_domain_lists_keep_each_once_in_order_up_to_their_room);
	return test_summary();
}
