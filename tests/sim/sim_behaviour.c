/*
 * The behaviour table: every simulated target is one row, described by a few
 * orthogonal policies that sim_session.c interprets.
 */
#include <string.h>

#include "common/util.h"
#include "tests/sim/sim.h"

static const struct sim_behaviour behaviours[] = {
    /* name, greet, output, ehlo, relay, data, drop, error_limit, summary */
    {"open", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_OPEN, DATA_ACCEPT, DROP_NEVER, false,
     "relays anything; forwards to --sink when given"},
    {"mailbox", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_OPEN, DATA_LOG, DROP_NEVER, false,
     "a final destination: accepts everything, logs envelope and headers, never forwards"},
    {"closed", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER, false,
     "554 5.7.1 at RCPT for foreign domains"},
    {"datareject", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_OPEN, DATA_REJECT_EOD, DROP_NEVER,
     false, "250 at RCPT, 554 after the final dot"},
    {"datareject-cmd", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_OPEN, DATA_REJECT_CMD,
     DROP_NEVER, false, "250 at RCPT, 554 to the DATA command"},
    {"lastlocal", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_OPEN, DATA_LAST_LOCAL, DROP_NEVER,
     false, "relays only when the last recipient is local (relay check at DATA, last one only)"},
    {"drop", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_OPEN, DATA_DROP, DROP_NEVER, false,
     "accepts through end of data, never forwards"},
    {"percent", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_PERCENT, DATA_ACCEPT, DROP_NEVER,
     false, "relays only local%domain@[its IP] or @its-name"},
    {"greylist", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_GREYLIST, DATA_ACCEPT, DROP_NEVER,
     false, "450 4.7.1 until retried after --greylist-secs, then closed"},
    {"greylist-open", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_GREYLIST_OPEN, DATA_ACCEPT,
     DROP_NEVER, false, "450 4.7.1 until retried after --greylist-secs, then open"},
    {"defer", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_DEFER, DATA_ACCEPT, DROP_NEVER, false,
     "454 4.7.1 Relay access denied for ever (defer_unauth_destination)"},
    {"tempfail", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_TEMPFAIL, DATA_ACCEPT, DROP_NEVER,
     false, "451 4.3.0 at RCPT for ever"},
    {"tarpit", GREET_NORMAL, OUT_TARPIT, EHLO_NORMAL, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER, false,
     "closed, every reply written one byte per --tarpit-ms"},
    {"banner-reject", GREET_REJECT, OUT_NORMAL, EHLO_NORMAL, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER,
     false, "554 greeting"},
    {"errors421", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER,
     true, "closed; 421 and close after --errors refusals in a session"},
    {"drop-mid", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_CLOSED, DATA_ACCEPT, DROP_AT_MAIL,
     false, "closes the connection when MAIL arrives"},
    {"drop-once", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_CLOSED, DATA_ACCEPT,
     DROP_AT_MAIL_FIRST, false, "closes at MAIL on its first connection, then closed"},
    {"garbage", GREET_NORMAL, OUT_GARBAGE, EHLO_NORMAL, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER,
     false, "binary noise instead of every reply after the greeting"},
    {"endless", GREET_NORMAL, OUT_NORMAL, EHLO_ENDLESS, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER,
     false, "answers EHLO with an endless line without CRLF"},
    {"hugereply", GREET_NORMAL, OUT_NORMAL, EHLO_HUGE, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER, false,
     "answers EHLO with a multi-line reply of many megabytes"},
    {"split", GREET_NORMAL, OUT_SPLIT, EHLO_NORMAL, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER, false,
     "closed, every reply byte in its own TCP segment"},
    {"split-open", GREET_NORMAL, OUT_SPLIT, EHLO_NORMAL, RELAY_OPEN, DATA_ACCEPT, DROP_NEVER, false,
     "open, every reply byte in its own TCP segment"},
    {"noehlo", GREET_NORMAL, OUT_NORMAL, EHLO_REFUSED, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER, false,
     "502 to EHLO, HELO works; closed"},
    {"auth", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_AUTH, DATA_ACCEPT, DROP_NEVER, false,
     "530 5.7.0 to MAIL and RCPT without AUTH"},
    {"trust-sender", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_TRUST_SENDER, DATA_ACCEPT,
     DROP_NEVER, false, "relays for senders in a --trust-domain (default relaysim.test), else closed"},
    {"trust-helo-host", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_TRUST_HELO_HOST, DATA_ACCEPT,
     DROP_NEVER, false, "relays for a client that greets with its host name, else closed"},
    {"trust-helo-literal", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_TRUST_HELO_LITERAL,
     DATA_ACCEPT, DROP_NEVER, false,
     "relays for a client that greets with its address literal, else closed"},
    {"trust-helo-localhost", GREET_NORMAL, OUT_NORMAL, EHLO_NORMAL, RELAY_TRUST_HELO_LOCALHOST,
     DATA_ACCEPT, DROP_NEVER, false, "relays for a client that greets as localhost, else closed"},
    {"refuse-helo-self", GREET_NORMAL, OUT_NORMAL, EHLO_REFUSE_SELF, RELAY_CLOSED, DATA_ACCEPT,
     DROP_NEVER, false, "550 to EHLO/HELO with its own name, literal or localhost; closed"},
    {"pregreet", GREET_PREGREET, OUT_NORMAL, EHLO_NORMAL, RELAY_CLOSED, DATA_ACCEPT, DROP_NEVER,
     false, "multi-line greeting with a pause; drops a client that speaks early"},
};

const struct sim_behaviour *
sim_behaviour_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(behaviours); i++)
		if (strcmp(behaviours[i].name, name) == 0)
			return &behaviours[i];
	return NULL;
}

void
sim_behaviour_list(FILE *f)
{
	for (size_t i = 0; i < ARRAY_LEN(behaviours); i++)
		fprintf(f, "  %-15s %s\n", behaviours[i].name, behaviours[i].summary);
}
