/*
 * One check for mail domain names (see mail_domain.h). IDNs come as their
 * A-label (xn--...): converting U-labels would need libidn2 for a case the
 * billing exports we import do not have.
 */
#include "common/mail_domain.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int
mail_domain_normal(const char *name, char out[MAIL_DOMAIN_MAX + 1], const char **why)
{
	size_t len = name ? strlen(name) : 0, label = 0;
	bool all_digits = true;

	out[0] = '\0';
	if (len > 0 && name[len - 1] == '.')
		len--; /* the root's dot: "example.com." is example.com */
	if (len == 0) {
		*why = "empty";
		return -1;
	}
	if (len > MAIL_DOMAIN_MAX) {
		*why = "longer than 253 characters";
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)name[i] : '.';

		if (c == '.') {
			if (label == 0) {
				*why = "an empty label (a dot at the start or two dots)";
				return -1;
			}
			if (out[i - 1] == '-') {
				*why = "a label ends with '-'";
				return -1;
			}
			if (i < len) {
				label = 0;
				all_digits = true;
				out[i] = '.';
			}
			continue;
		}
		if (c >= 0x80) {
			*why = "not ASCII: give an international name as its A-label (xn--...)";
			return -1;
		}
		if (!isalnum(c) && c != '-') {
			*why = "holds a character other than letters, digits, '-' and '.'";
			return -1;
		}
		if (c == '-' && label == 0) {
			*why = "a label starts with '-'";
			return -1;
		}
		if (++label > 63) {
			*why = "a label longer than 63 characters";
			return -1;
		}
		all_digits = all_digits && isdigit(c);
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	if (strchr(out, '.') == NULL) {
		*why = "a single label: want a whole domain such as example.com";
		return -1;
	}
	if (all_digits) {
		*why = "the last label is all digits: an address, not a domain";
		return -1;
	}
	return 0;
}

int
mail_domain_add(const char **list, size_t *n, size_t max, const char *domain)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcasecmp(list[i], domain) == 0)
			return 0;
	}
	if (*n >= max)
		return -1;
	list[(*n)++] = domain;
	return 1;
}
