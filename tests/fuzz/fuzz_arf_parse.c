/*
 * libFuzzer entry point: the complaint report parser (GMime underneath) on
 * arbitrary bytes. Reports come from anyone who can send mail to the abuse
 * mailbox; no input may crash the parser, overrun a field or leak.
 */
#include "db/arf_parse.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arf_report r;
	const char *why = NULL;

	if (arf_parse((const char *)data, size, &r, &why) == 0) {
		/* Every field is a terminated string within its buffer. */
		if (strlen(r.source_ip) >= sizeof(r.source_ip) || r.source_ip[0] == '\0' ||
		    strlen(r.reporter) >= sizeof(r.reporter))
			abort();
	} else if (why == NULL) {
		abort();
	}
	free(arf_evidence_text((const char *)data, size));
	return 0;
}
