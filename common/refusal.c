/*
 * The engine's refusals of an address as the config states them (see
 * refusal.h); the engine itself checks the same rules in
 * probe_engine_submit, this is the answer for a caller without an engine.
 */
#include "common/refusal.h"
#include "common/addr.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* True when one of the exclude ranges (spaces or commas between them) holds a. */
static bool
refusal_in_exclude(const char *list, const struct addr *a)
{
	char *copy = xstrdup(list), *save = NULL;
	bool in = false;

	for (char *w = strtok_r(copy, ", ", &save); w != NULL && !in;
	     w = strtok_r(NULL, ", ", &save)) {
		struct cidr c;
		const char *why;

		in = cidr_parse(w, &c, &why) == 0 && cidr_contains(&c, a);
	}
	free(copy);
	return in;
}

static const struct refusal refusal_excluded = {"excluded", "the target is excluded from probing"},
			     refusal_no_address = {"not_an_address", "not an IPv4 or IPv6 address"},
			     refusal_range = {"exclude", "the address is in a range never probed (exclude)"},
			     refusal_loopback = {"loopback_only",
						 "the prober only tests loopback addresses (loopback_only)"};

const struct refusal *
refusal_of_retest(const struct config *cfg, const char *address, bool excluded)
{
	struct addr a;

	if (excluded)
		return &refusal_excluded;
	if (addr_parse(address, &a) != 0)
		return &refusal_no_address;
	if (refusal_in_exclude(config_str(cfg, CFG_EXCLUDE), &a))
		return &refusal_range;
	if (config_bool(cfg, CFG_LOOPBACK_ONLY) && !addr_is_loopback(&a))
		return &refusal_loopback;
	return NULL;
}

const char *
refusal_retest(const struct config *cfg, const char *address, bool excluded)
{
	const struct refusal *r = refusal_of_retest(cfg, address, excluded);

	return r != NULL ? r->text : NULL;
}
