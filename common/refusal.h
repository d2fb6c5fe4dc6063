/*
 * Which addresses the probe engine would refuse, decided from the config
 * alone (exclude, loopback_only), so the API and the customer page can
 * answer a re-test request at once instead of queueing one never run.
 */
#ifndef RELAYAUDIT_REFUSAL_H
#define RELAYAUDIT_REFUSAL_H

#include "common/config.h"

/*
 * NULL when a probe of address (text form) would run; else the reason.
 * excluded: the target's own excluded flag.
 */
const char *refusal_retest(const struct config *cfg, const char *address, bool excluded);

#endif
