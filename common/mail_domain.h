/*
 * Mail domain names as customers' records hold them: THE check and normal
 * form (lower case, no trailing dot) that the import, the API and the
 * daemon share, so a domain refused in one place is refused in all.
 */
#ifndef RELAYAUDIT_MAIL_DOMAIN_H
#define RELAYAUDIT_MAIL_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>

#define MAIL_DOMAIN_MAX 253 /* characters of a domain name (RFC 1035) */
#define MAIL_DOMAINS_MAX 32 /* domains per customer or target: the schema's CHECKs */

/*
 * Checks name (letters, digits, '-' and '.'; labels of 1..63 not starting
 * or ending in '-'; at least two labels; a last label that is not all
 * digits; one trailing dot allowed) and writes its normal form to out
 * (MAIL_DOMAIN_MAX + 1 bytes). 0, or -1 with *why saying what is wrong.
 */
int mail_domain_normal(const char *name, char out[MAIL_DOMAIN_MAX + 1], const char **why);

/*
 * Appends domain to list (n entries, room for max) unless it is there
 * already, compared without regard to case. 1 when added, 0 when already
 * there, -1 when the list is full. Pointers are stored, not copied.
 */
int mail_domain_add(const char **list, size_t *n, size_t max, const char *domain);

#endif
