/*
 * libFuzzer entry for the smarthost option's parser (smtpc_target_parse):
 * whatever an operator writes, the result is a bounded host of safe
 * characters and a port in range, or a refusal with a reason.
 */
#include "auditd/workflow/smtp_client.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct smtpc_target t;
	const char *why = NULL;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (smtpc_target_parse(s, &t, &why) == 0) {
		if (t.port < 1 || t.port > 65535 || strlen(t.host) == 0 ||
		    strlen(t.host) >= sizeof(t.host) || strpbrk(t.host, "/@?#[] ") != NULL)
			abort();
	} else if (why == NULL) {
		abort();
	}
	free(s);
	return 0;
}
