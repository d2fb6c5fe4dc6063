/*
 * The catalogue: every sender and recipient form of shared/RELAY-TESTS.md
 * rendered exactly, for IPv4 and IPv6 targets; the attempt table's pairs
 * and their stable indices; H from greetings.
 */
#include "common/addr.h"
#include "probe-engine/catalogue.h"
#include "probe-engine/probe.h"
#include "tests/test.h"

#include <stdint.h>

#include <ctype.h>
#include <strings.h>

#define T "rt0123456789ab00cdef0123456789ab"

static const struct form_ctx v4 = {T, "sink.example", "mx.cust.example", "[192.0.2.7]",
				   "outside.example", "cust.example"};
static const struct form_ctx v6 = {T, "sink.example", "[IPv6:2001:db8::7]", "[IPv6:2001:db8::7]",
				   "outside.example", "kunde.example"};

static const struct {
	const char *form, *want4, *want6;
} forms[] = {
	{"plain", "<" T "@sink.example>", "<" T "@sink.example>"},
	{"percent-ip", "<" T "%sink.example@[192.0.2.7]>", "<" T "%sink.example@[IPv6:2001:db8::7]>"},
	{"percent-host", "<" T "%sink.example@mx.cust.example>",
	 "<" T "%sink.example@[IPv6:2001:db8::7]>"},
	{"quoted", "<\"" T "@sink.example\">", "<\"" T "@sink.example\">"},
	{"quoted-percent", "<\"" T "%sink.example\">", "<\"" T "%sink.example\">"},
	{"hidden-at-ip", "<" T "@sink.example@[192.0.2.7]>", "<" T "@sink.example@[IPv6:2001:db8::7]>"},
	{"hidden-at-host", "<" T "@sink.example@mx.cust.example>",
	 "<" T "@sink.example@[IPv6:2001:db8::7]>"},
	{"quoted-local-ip", "<\"" T "@sink.example\"@[192.0.2.7]>",
	 "<\"" T "@sink.example\"@[IPv6:2001:db8::7]>"},
	{"quoted-local-host", "<\"" T "@sink.example\"@mx.cust.example>",
	 "<\"" T "@sink.example\"@[IPv6:2001:db8::7]>"},
	{"route-ip", "<@[192.0.2.7]:" T "@sink.example>", "<@[IPv6:2001:db8::7]:" T "@sink.example>"},
	{"route-host", "<@mx.cust.example:" T "@sink.example>",
	 "<@[IPv6:2001:db8::7]:" T "@sink.example>"},
	{"bang", "<sink.example!" T ">", "<sink.example!" T ">"},
	{"bang-ip", "<sink.example!" T "@[192.0.2.7]>", "<sink.example!" T "@[IPv6:2001:db8::7]>"},
	{"bang-host", "<sink.example!" T "@mx.cust.example>",
	 "<sink.example!" T "@[IPv6:2001:db8::7]>"},
	{"trailing-at", "<" T "@sink.example@>", "<" T "@sink.example@>"},
	{"trailing-dot", "<" T "@sink.example.>", "<" T "@sink.example.>"},
	{"unbracketed", T "@sink.example", T "@sink.example"},
	{"mixed-case", "<" T "@sInK.eXaMpLe>", "<" T "@sInK.eXaMpLe>"},
};

static const struct {
	const char *sender, *want4, *want6;
} senders[] = {
	{"null", "<>", "<>"},
	{"outside", "<probe@outside.example>", "<probe@outside.example>"},
	{"spoof-local", "<postmaster@mx.cust.example>", "<postmaster@[IPv6:2001:db8::7]>"},
	{"spoof-ip", "<probe@[192.0.2.7]>", "<probe@[IPv6:2001:db8::7]>"},
	{"localhost", "<probe@localhost>", "<probe@localhost>"},
	{"unqualified", "<probe>", "<probe>"},
	{"spoof-domain", "<postmaster@cust.example>", "<postmaster@kunde.example>"},
};

TEST(every_recipient_form_of_the_catalogue_is_in_the_table)
{
	CHECK_INT(catalogue_nforms(), sizeof(forms) / sizeof(forms[0]));
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		CHECK_MSG(catalogue_form_find(forms[i].form) >= 0, "form %s missing", forms[i].form);
	CHECK_INT(catalogue_nsenders(), sizeof(senders) / sizeof(senders[0]));
}

TEST(every_recipient_form_renders_exactly_for_ipv4_and_ipv6)
{
	char out[512];

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const struct rcpt_form *f = catalogue_form((size_t)catalogue_form_find(forms[i].form));

		CHECK(catalogue_render(f->pattern, &v4, out, sizeof(out)) == 0);
		CHECK_STR(out, forms[i].want4);
		CHECK(catalogue_render(f->pattern, &v6, out, sizeof(out)) == 0);
		CHECK_STR(out, forms[i].want6);
	}
}

TEST(every_sender_form_renders_exactly_for_ipv4_and_ipv6)
{
	char out[512];

	for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		int k = catalogue_sender_find(senders[i].sender);

		CHECK_MSG(k >= 0, "sender %s missing", senders[i].sender);
		CHECK(catalogue_render(catalogue_sender((size_t)k)->pattern, &v4, out, sizeof(out)) == 0);
		CHECK_STR(out, senders[i].want4);
		CHECK(catalogue_render(catalogue_sender((size_t)k)->pattern, &v6, out, sizeof(out)) == 0);
		CHECK_STR(out, senders[i].want6);
	}
}

TEST(literal_comes_from_addr_for_both_families)
{
	struct addr a;
	char buf[ADDR_STRLEN];

	CHECK(addr_parse("2001:db8::7", &a) == 0);
	addr_literal(&a, buf, sizeof(buf));
	CHECK_STR(buf, "[IPv6:2001:db8::7]");
	CHECK(addr_parse("192.0.2.7", &a) == 0);
	addr_literal(&a, buf, sizeof(buf));
	CHECK_STR(buf, "[192.0.2.7]");
}

TEST(mixed_case_domain_differs_but_folds_to_the_sink)
{
	char out[64];

	catalogue_mixed_case("sink.relayaudit.test", out, sizeof(out));
	CHECK(strcmp(out, "sink.relayaudit.test") != 0);
	CHECK(strcasecmp(out, "sink.relayaudit.test") == 0);
}

TEST(each_form_runs_with_the_four_core_senders)
{
	static const char *const core[] = {"null", "outside", "spoof-local", "spoof-ip"};

	for (size_t f = 0; f < catalogue_nforms(); f++) {
		for (size_t s = 0; s < 4; s++) {
			int found = 0;

			for (size_t i = 0; i < catalogue_nrelay(); i++) {
				struct catalogue_attempt ca;

				CHECK(catalogue_relay(i, &ca) == 0);
				found += ca.form == (int)f &&
					 strcmp(catalogue_sender((size_t)ca.sender)->name, core[s]) == 0;
			}
			CHECK_MSG(found == 1, "form %s with sender %s: %d times, want 1",
				  catalogue_form(f)->name, core[s], found);
		}
	}
}

TEST(attempt_indices_are_stable)
{
	struct catalogue_attempt ca;

	/* tokens carry these numbers: they must never move */
	CHECK(catalogue_relay(0, &ca) == 0);
	CHECK_STR(catalogue_sender((size_t)ca.sender)->name, "null");
	CHECK_STR(catalogue_form((size_t)ca.form)->name, "plain");
	CHECK(catalogue_relay(5, &ca) == 0);
	CHECK_STR(catalogue_sender((size_t)ca.sender)->name, "outside");
	CHECK_STR(catalogue_form((size_t)ca.form)->name, "percent-ip");
	CHECK(catalogue_relay(catalogue_nrelay() - 1, &ca) == 0);
	CHECK_STR(catalogue_sender((size_t)ca.sender)->name, "unqualified");
	CHECK_INT(catalogue_nrelay(), 74);
	CHECK(catalogue_relay(catalogue_nrelay(), &ca) < 0);
	/* relay attempts + backscatter (H and up to 4 domains) fit in a token's attempt byte */
	CHECK(catalogue_nrelay() + 1 + CATALOGUE_MAX_DOMAINS <= 256);
}

TEST(backscatter_sends_from_the_token_to_a_nonexistent_user)
{
	char from[256], rcpt[256];

	CHECK(catalogue_backscatter(&v4, NULL, from, sizeof(from), rcpt, sizeof(rcpt)) == 0);
	CHECK_STR(from, "<" T "@sink.example>");
	CHECK_STR(rcpt, "<nxcdef0123456789ab@mx.cust.example>");
	CHECK(catalogue_backscatter(&v4, "cust.example", from, sizeof(from), rcpt, sizeof(rcpt)) == 0);
	CHECK_STR(rcpt, "<nxcdef0123456789ab@cust.example>");
}

TEST(render_refuses_what_does_not_fit)
{
	char out[10];

	CHECK(catalogue_render("<{T}@{S}>", &v4, out, sizeof(out)) < 0);
}

TEST(host_name_is_taken_from_greeting_text_only_when_it_is_one)
{
	char h[256];

	CHECK(catalogue_host_from_text("mx.example.org ESMTP Postfix", h, sizeof(h)) == 0);
	CHECK_STR(h, "mx.example.org");
	CHECK(catalogue_host_from_text("ESMTP ready", h, sizeof(h)) < 0);
	CHECK(catalogue_host_from_text("192.0.2.1 ready", h, sizeof(h)) < 0);
	CHECK(catalogue_host_from_text("localhost", h, sizeof(h)) < 0);
	CHECK(catalogue_host_from_text("bad<name>.org", h, sizeof(h)) < 0);
	CHECK(catalogue_host_from_text("", h, sizeof(h)) < 0);
}

TEST(late_form_local_last_is_numbered_after_the_backscatter_block)
{
	struct catalogue_attempt ca;

	CHECK_INT(catalogue_late_base(), catalogue_nrelay() + 1 + CATALOGUE_MAX_DOMAINS);
	CHECK(catalogue_nlate() >= 1);
	CHECK(catalogue_late(0, &ca) == 0);
	CHECK_STR(catalogue_form((size_t)ca.form)->name, "local-last");
	CHECK_STR(catalogue_form((size_t)ca.form)->last, "<postmaster@{H}>");
	CHECK(catalogue_late(catalogue_nlate(), &ca) < 0);
	CHECK(catalogue_late_base() + catalogue_nlate() + 3 <= 256);
}

TEST(spoof_domain_without_a_domain_does_not_render)
{
	struct form_ctx none = v4;
	char out[512];

	none.domain = NULL;
	CHECK(catalogue_render("<postmaster@{D}>", &none, out, sizeof(out)) < 0);
}

TEST(new_blocks_are_numbered_after_the_resends_and_fit_a_token)
{
	struct catalogue_attempt ca;

	/* the numbers of main's catalogue stay where they were */
	CHECK_INT(catalogue_late_base(), 79);
	CHECK_INT(catalogue_nlate(), 2);
	CHECK_INT(catalogue_resend_base(), 81);
	CHECK_INT(catalogue_spoof_index(0, 0), 81 + CATALOGUE_RESEND_MAX);
	CHECK_INT(catalogue_spoof_index(1, 0), catalogue_spoof_index(0, 0) + catalogue_nspoof_forms());
	CHECK_INT(catalogue_greeting_index(PROBE_HELO_HOST, 0),
		  catalogue_spoof_index(CATALOGUE_MAX_SPOOF_DOMAINS, 0));
	CHECK_INT(catalogue_greeting_index(PROBE_HELO_LOCALHOST, 3) + 1, catalogue_index_end());
	CHECK(catalogue_index_end() <= TOKEN_ATTEMPT_MAX + 1);
	CHECK(catalogue_spoof(0, &ca) == 0);
	CHECK_STR(catalogue_sender((size_t)ca.sender)->name, "spoof-domain");
	CHECK_STR(catalogue_form((size_t)ca.form)->name, "plain");
	CHECK(catalogue_spoof(catalogue_nspoof_forms(), &ca) < 0);
}

TEST(greetings_run_the_core_senders_with_the_plain_form)
{
	static const char *const core[] = {"null", "outside", "spoof-local", "spoof-ip"};
	struct catalogue_attempt ca;

	CHECK_INT(catalogue_ngreeting_senders(), 4);
	for (size_t s = 0; s < 4; s++) {
		CHECK(catalogue_greeting(s, &ca) == 0);
		CHECK_STR(catalogue_sender((size_t)ca.sender)->name, core[s]);
		CHECK_STR(catalogue_form((size_t)ca.form)->name, "plain");
	}
	CHECK_INT(catalogue_greeting_of(catalogue_greeting_index(PROBE_HELO_LITERAL, 2)),
		  PROBE_HELO_LITERAL);
	CHECK_INT(catalogue_greeting_of(0), PROBE_HELO_OURS);
	CHECK_INT(catalogue_greeting_of(catalogue_spoof_index(0, 0)), PROBE_HELO_OURS);
}

TEST(rank_puts_the_simplest_trick_first)
{
	CHECK_INT(catalogue_rank("null", "plain"), 0);
	CHECK_INT(catalogue_rank("outside", "percent-ip"), 5);
	CHECK(catalogue_rank("localhost", "plain") > catalogue_rank("spoof-ip", "mixed-case"));
	CHECK_INT(catalogue_rank("null", "local-last"), catalogue_late_base());
	CHECK(catalogue_rank("null", "no-such-form") == SIZE_MAX);
	CHECK_INT(catalogue_rank("spoof-domain", "plain"), catalogue_spoof_index(0, 0));
	CHECK_INT(catalogue_rank("spoof-domain", "bang-host"), catalogue_spoof_index(0, 3));
	CHECK(catalogue_rank("spoof-domain", "quoted") == SIZE_MAX);
}

int
main(void)
{
	test_suite = "catalogue";
	RUN(every_recipient_form_of_the_catalogue_is_in_the_table);
	RUN(every_recipient_form_renders_exactly_for_ipv4_and_ipv6);
	RUN(every_sender_form_renders_exactly_for_ipv4_and_ipv6);
	RUN(literal_comes_from_addr_for_both_families);
	RUN(mixed_case_domain_differs_but_folds_to_the_sink);
	RUN(each_form_runs_with_the_four_core_senders);
	RUN(attempt_indices_are_stable);
	RUN(late_form_local_last_is_numbered_after_the_backscatter_block);
	RUN(spoof_domain_without_a_domain_does_not_render);
	RUN(new_blocks_are_numbered_after_the_resends_and_fit_a_token);
	RUN(greetings_run_the_core_senders_with_the_plain_form);
	RUN(rank_puts_the_simplest_trick_first);
	RUN(backscatter_sends_from_the_token_to_a_nonexistent_user);
	RUN(render_refuses_what_does_not_fit);
	RUN(host_name_is_taken_from_greeting_text_only_when_it_is_one);
	return test_summary();
}
