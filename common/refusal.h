/*
 * Which addresses the probe engine would refuse, decided from the config
 * alone (exclude, loopback_only), so the API and the customer page can
 * answer a re-test request at once instead of queueing one never run.
 */
#ifndef RELAYAUDIT_REFUSAL_H
#define RELAYAUDIT_REFUSAL_H

#include "common/config.h"

/* A refusal: code names it for words.txt ("refusal.<code>"), text says it in English. */
struct refusal {
	const char *code;
	const char *text;
};

/*
 * NULL when a probe of address (text form) would run; else why not.
 * excluded: the target's own excluded flag.
 */
const struct refusal *refusal_of_retest(const struct config *cfg, const char *address,
					bool excluded);
/* The same, as its English text (the API's error messages). */
const char *refusal_retest(const struct config *cfg, const char *address, bool excluded);

#endif
