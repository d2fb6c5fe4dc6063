/*
 * Sender domains from a host name with the Public Suffix List (libpsl): the
 * registrable domain and the domains between it and the host, for public
 * suffixes of one and two labels, a private suffix, address literals, bare
 * names and names that are suffixes themselves; and the merged spoof list.
 */
#include "probe-engine/domains.h"
#include "tests/test.h"

static char out[8][DOMAINS_NAME_MAX];

TEST(two_label_suffix_gives_registrable_and_between)
{
	CHECK_INT(domains_from_host("mx1.mail.example.co.uk", out, 8), 2);
	CHECK_STR(out[0], "example.co.uk");
	CHECK_STR(out[1], "mail.example.co.uk");
}

TEST(one_label_suffix)
{
	CHECK_INT(domains_from_host("mail.grossefirma.de", out, 8), 1);
	CHECK_STR(out[0], "grossefirma.de");
	CHECK_INT(domains_from_host("a.b.c.example.com", out, 8), 3);
	CHECK_STR(out[0], "example.com");
	CHECK_STR(out[1], "c.example.com");
	CHECK_STR(out[2], "b.c.example.com");
}

TEST(private_suffix_is_a_suffix)
{
	/* blogspot.com and github.io are private-section suffixes of the list */
	CHECK_INT(domains_from_host("mx.shop.blogspot.com", out, 8), 1);
	CHECK_STR(out[0], "shop.blogspot.com");
	CHECK_INT(domains_from_host("shop.github.io", out, 8), 0);
}

TEST(host_that_is_registrable_gives_nothing_new)
{
	CHECK_INT(domains_from_host("grossefirma.de", out, 8), 0);
}

TEST(name_that_is_a_suffix_gives_nothing)
{
	CHECK_INT(domains_from_host("co.uk", out, 8), 0);
	CHECK_INT(domains_from_host("blogspot.com", out, 8), 0);
}

TEST(bare_tld_and_single_labels_give_nothing)
{
	CHECK_INT(domains_from_host("uk", out, 8), 0);
	CHECK_INT(domains_from_host("localhost", out, 8), 0);
}

TEST(address_literals_give_nothing)
{
	CHECK_INT(domains_from_host("127.0.0.1", out, 8), 0);
	CHECK_INT(domains_from_host("[192.0.2.7]", out, 8), 0);
	CHECK_INT(domains_from_host("[IPv6:2001:db8::7]", out, 8), 0);
	CHECK_INT(domains_from_host("2001:db8::7", out, 8), 0);
}

TEST(upper_case_host_is_folded)
{
	CHECK_INT(domains_from_host("MX.Mail.Example.CO.UK", out, 8), 2);
	CHECK_STR(out[0], "example.co.uk");
	CHECK_STR(out[1], "mail.example.co.uk");
}

TEST(unlisted_tld_is_a_suffix_by_the_default_rule)
{
	/* the list's implicit "*" rule: test and invalid are suffixes of one label */
	CHECK_INT(domains_from_host("mx.mail.grossefirma.test", out, 8), 2);
	CHECK_STR(out[0], "grossefirma.test");
	CHECK_STR(out[1], "mail.grossefirma.test");
}

TEST(cap_on_derived_domains)
{
	CHECK_INT(domains_from_host("a.b.c.d.example.com", out, 2), 2);
	CHECK_STR(out[0], "example.com");
	CHECK_STR(out[1], "d.example.com");
}

TEST(a_name_with_the_root_dot_is_the_same_name)
{
	CHECK_INT(domains_from_host("mx.Example.com.", out, 8), 1);
	CHECK_STR(out[0], "example.com");
}

TEST(invalid_names_give_nothing)
{
	CHECK_INT(domains_from_host("mx..example.com", out, 8), 0);
	CHECK_INT(domains_from_host("mx_1.example.com", out, 8), 0);
	CHECK_INT(domains_from_host("", out, 8), 0);
	CHECK_INT(domains_from_host(NULL, out, 8), 0);
}

TEST(spoof_list_skips_record_domains_that_are_no_names)
{
	const char *record[] = {"exa mple.com", "example.com>", "-example.com", "Example.COM.",
				"example.com\r\nRSET", "xn--mnchen-3ya.de"};
	size_t dropped = 9;

	CHECK_INT(domains_spoof_list(NULL, record, 6, out, 8, &dropped), 2);
	CHECK_STR(out[0], "example.com");
	CHECK_STR(out[1], "xn--mnchen-3ya.de");
	CHECK_INT(dropped, 0);
}

TEST(spoof_list_orders_registrable_record_between_and_dedupes)
{
	const char *rec[] = {"Kunde.example", "EXAMPLE.co.uk", "bad domain",
	                     "mx1.mail.example.co.uk", "kunde.example"};
	size_t dropped = 99;
	size_t n = domains_spoof_list("mx1.mail.example.co.uk", rec, 5, out, 8, &dropped);

	CHECK_INT(n, 3);
	CHECK_STR(out[0], "example.co.uk");
	CHECK_STR(out[1], "kunde.example");
	CHECK_STR(out[2], "mail.example.co.uk");
	CHECK_INT(dropped, 0);
}

TEST(spoof_list_cap_counts_what_it_drops)
{
	const char *rec[] = {"a.example", "b.example", "c.example"};
	size_t dropped = 0;

	CHECK_INT(domains_spoof_list("mx.mail.example.com", rec, 3, out, 2, &dropped), 2);
	CHECK_STR(out[0], "example.com");
	CHECK_STR(out[1], "a.example");
	CHECK_INT(dropped, 3);
}

TEST(spoof_list_for_an_address_has_record_domains_only)
{
	const char *rec[] = {"kunde.example"};

	CHECK_INT(domains_spoof_list("[192.0.2.7]", rec, 1, out, 8, NULL), 1);
	CHECK_STR(out[0], "kunde.example");
	CHECK_INT(domains_spoof_list("[192.0.2.7]", NULL, 0, out, 8, NULL), 0);
}

int
main(void)
{
	test_suite = "domains";
	RUN(two_label_suffix_gives_registrable_and_between);
	RUN(one_label_suffix);
	RUN(private_suffix_is_a_suffix);
	RUN(host_that_is_registrable_gives_nothing_new);
	RUN(name_that_is_a_suffix_gives_nothing);
	RUN(bare_tld_and_single_labels_give_nothing);
	RUN(address_literals_give_nothing);
	RUN(upper_case_host_is_folded);
	RUN(unlisted_tld_is_a_suffix_by_the_default_rule);
	RUN(cap_on_derived_domains);
	RUN(a_name_with_the_root_dot_is_the_same_name);
	RUN(invalid_names_give_nothing);
	RUN(spoof_list_skips_record_domains_that_are_no_names);
	RUN(spoof_list_orders_registrable_record_between_and_dedupes);
	RUN(spoof_list_cap_counts_what_it_drops);
	RUN(spoof_list_for_an_address_has_record_domains_only);
	return test_summary();
}
