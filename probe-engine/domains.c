/*
 * Sender domains for the spoof-domain form. Where a name's registrable part
 * begins is the Public Suffix List's call (libpsl, with the list Debian
 * ships in the publicsuffix package), never a count of labels: "co.uk",
 * "blogspot.com" and "de" all end in different places.
 */
#include "probe-engine/domains.h"
#include "common/mail_domain.h"

#include <libpsl.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

static const psl_ctx_t *domains_psl;
static pthread_once_t domains_psl_once = PTHREAD_ONCE_INIT;

/*
 * psl_latest() loads the newer of the list compiled into libpsl and the
 * one in /usr/share/publicsuffix (the package's DAFSA); it reads a local
 * file only, once per process. The built-in list is the fallback.
 */
static void
domains_psl_load(void)
{
	domains_psl = psl_latest(NULL);
	if (domains_psl == NULL)
		domains_psl = psl_builtin();
}

size_t
domains_from_host(const char *host, char (*out)[DOMAINS_NAME_MAX], size_t max)
{
	char name[DOMAINS_NAME_MAX];
	const char *reg, *p, *why;
	size_t n = 0;

	if (max == 0 || host == NULL || mail_domain_normal(host, name, &why) < 0)
		return 0;
	pthread_once(&domains_psl_once, domains_psl_load);
	if (domains_psl == NULL)
		return 0;
	/* a pointer into name, or NULL when name is a public suffix itself */
	reg = psl_registrable_domain(domains_psl, name);
	if (reg == NULL || reg == name)
		return 0;
	memcpy(out[n++], reg, strlen(reg) + 1);
	/* the parents of host down to reg, nearest reg first: walk back from reg */
	p = reg;
	while (n < max && p > name + 1) {
		const char *q = p - 1; /* the dot before the current domain */

		while (q > name && q[-1] != '.')
			q--;
		if (q == name)
			break; /* that is host itself */
		memcpy(out[n++], q, strlen(q) + 1);
		p = q;
	}
	return n;
}

static bool
domains_have(char (*list)[DOMAINS_NAME_MAX], size_t n, const char *d)
{
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(list[i], d) == 0)
			return true;
	}
	return false;
}

static void
domains_add(char (*out)[DOMAINS_NAME_MAX], size_t *n, size_t max, const char *host, const char *d,
            size_t *dropped)
{
	if (host != NULL && strcasecmp(d, host) == 0)
		return;
	if (domains_have(out, *n, d))
		return;
	if (*n >= max) {
		(*dropped)++;
		return;
	}
	memcpy(out[*n], d, strlen(d) + 1); /* in normal form already (mail_domain_normal) */
	(*n)++;
}

size_t
domains_spoof_list(const char *host, const char *const *record, size_t nrecord,
                   char (*out)[DOMAINS_NAME_MAX], size_t max, size_t *dropped)
{
	char derived[8][DOMAINS_NAME_MAX];
	size_t nd = domains_from_host(host, derived, 8), n = 0, drop = 0;

	if (nd > 0)
		domains_add(out, &n, max, host, derived[0], &drop);
	for (size_t i = 0; i < nrecord; i++) {
		char d[DOMAINS_NAME_MAX];
		const char *why;

		if (record[i] != NULL && mail_domain_normal(record[i], d, &why) == 0)
			domains_add(out, &n, max, host, d, &drop);
	}
	for (size_t i = 1; i < nd; i++)
		domains_add(out, &n, max, host, derived[i], &drop);
	if (dropped)
		*dropped = drop;
	return n;
}
