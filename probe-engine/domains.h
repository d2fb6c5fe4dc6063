/*
 * The mail domains a target may trust as its own: the registrable domain of
 * its host name and the domains between (found with libpsl and the Public
 * Suffix List Debian ships), merged with the customer's domains on record.
 * They are the sender domains of the spoof-domain form.
 */
#ifndef RELAYAUDIT_DOMAINS_H
#define RELAYAUDIT_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail_domain.h"

#define DOMAINS_NAME_MAX (MAIL_DOMAIN_MAX + 1) /* one name and its NUL */

/*
 * The registrable domain of host (lower-cased), then each domain between it
 * and host, nearest the registrable one first; host itself is not included.
 * Nothing for an address literal, a name without a dot, or a name that is a
 * public suffix itself. Returns how many went to out (at most max).
 */
size_t domains_from_host(const char *host, char (*out)[DOMAINS_NAME_MAX], size_t max);

/*
 * The spoof-domain list: the registrable domain of host first, then the
 * domains on record (invalid ones skipped), then the domains between host
 * and its registrable domain; lower-cased, each once, host itself left out
 * (spoof-local forges that one). At most max; *dropped (if not NULL) counts
 * what the cap left out.
 */
size_t domains_spoof_list(const char *host, const char *const *record, size_t nrecord,
                          char (*out)[DOMAINS_NAME_MAX], size_t max, size_t *dropped);

#endif
