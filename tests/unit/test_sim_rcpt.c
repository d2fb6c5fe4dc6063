/*
 * How relaysim reads each recipient form of shared/RELAY-TESTS.md: which kind
 * it is (what the percent behaviour relays, what closed refuses) and where a
 * permissive relay would deliver it (what the open behaviour forwards).
 */
#include "tests/test.h"

#include "tests/sim/sim_rcpt.c"

#define H "sim-127-0-20-5.relaysim.test"
#define IP "[127.0.20.5]"

static const struct {
	const char *name;
	const char *arg;
	enum sim_rcpt_kind kind;
	const char *final;
} forms[] = {
    {"plain", "<rt1@sink.test>", RCPT_KIND_FOREIGN, "rt1@sink.test"},
    {"percent-ip", "<rt1%sink.test@" IP ">", RCPT_KIND_PERCENT, "rt1@sink.test"},
    {"percent-host", "<rt1%sink.test@" H ">", RCPT_KIND_PERCENT, "rt1@sink.test"},
    {"quoted", "<\"rt1@sink.test\">", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"quoted-percent", "<\"rt1%sink.test\">", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"hidden-at-ip", "<rt1@sink.test@" IP ">", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"hidden-at-host", "<rt1@sink.test@" H ">", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"quoted-local-ip", "<\"rt1@sink.test\"@" IP ">", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"quoted-local-host", "<\"rt1@sink.test\"@" H ">", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"route-ip", "<@" IP ":rt1@sink.test>", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"route-host", "<@" H ":rt1@sink.test>", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"bang", "<sink.test!rt1>", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"bang-ip", "<sink.test!rt1@" IP ">", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"bang-host", "<sink.test!rt1@" H ">", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"trailing-at", "<rt1@sink.test@>", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"trailing-dot", "<rt1@sink.test.>", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"unbracketed", "rt1@sink.test", RCPT_KIND_TRICK, "rt1@sink.test"},
    {"mixed-case", "<rt1@SiNk.TeSt>", RCPT_KIND_FOREIGN, "rt1@SiNk.TeSt"},
    {"with-params", "<rt1@sink.test> NOTIFY=NEVER", RCPT_KIND_FOREIGN, "rt1@sink.test"},
    {"local-host", "<postmaster@" H ">", RCPT_KIND_LOCAL, "postmaster@" H},
    {"local-ip", "<nobody@" IP ">", RCPT_KIND_LOCAL, "nobody@" IP},
    {"local-host-case", "<abuse@SIM-127-0-20-5.relaysim.TEST>", RCPT_KIND_LOCAL,
     "abuse@SIM-127-0-20-5.relaysim.TEST"},
    {"bare-postmaster", "<postmaster>", RCPT_KIND_LOCAL, "postmaster@" H},
    {"null", "<>", RCPT_KIND_INVALID, ""},
    {"unterminated", "<rt1@sink.test", RCPT_KIND_INVALID, ""},
    {"route-without-colon", "<@" IP ">", RCPT_KIND_INVALID, ""},
};

static const char *const kind_names[] = {"invalid", "local", "foreign", "percent", "trick"};

TEST(every_catalogue_form_reads_as_documented)
{
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct sim_rcpt r;
		sim_rcpt_parse(forms[i].arg, H, IP, &r);
		CHECK_MSG(r.kind == forms[i].kind, "%s: kind got %s, want %s", forms[i].name,
		          kind_names[r.kind], kind_names[forms[i].kind]);
		if (forms[i].kind != RCPT_KIND_INVALID)
			CHECK_MSG(strcmp(r.final, forms[i].final) == 0,
			          "%s: delivers to got '%s', want '%s'", forms[i].name, r.final,
			          forms[i].final);
	}
}

TEST(an_overlong_argument_is_cut_not_overflowed)
{
	char arg[4096];
	struct sim_rcpt r;

	arg[0] = '<';
	memset(arg + 1, 'a', sizeof(arg) - 3);
	arg[sizeof(arg) - 2] = '>';
	arg[sizeof(arg) - 1] = '\0';
	sim_rcpt_parse(arg, H, IP, &r);
	CHECK(strlen(r.final) < sizeof(r.final));
}

TEST(the_final_address_carries_no_brackets_or_spaces)
{
	struct sim_rcpt r;

	sim_rcpt_parse("<\"a b<c>\"@sink.test>", H, IP, &r);
	CHECK_MSG(strpbrk(r.final, " <>") == NULL, "got '%s'", r.final);
}

int
main(void)
{
	test_suite = "sim_rcpt";
	RUN(every_catalogue_form_reads_as_documented);
	RUN(an_overlong_argument_is_cut_not_overflowed);
	RUN(the_final_address_carries_no_brackets_or_spaces);
	return test_summary();
}
