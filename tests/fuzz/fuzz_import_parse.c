/*
 * libFuzzer entry point: the import parser on arbitrary bytes, as CSV and as
 * JSON lines. Customer files come from other systems; no input may crash
 * the parser, overrun a bound or leak.
 */
#include "db/import_parse.h"

#include <stddef.h>
#include <stdint.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_limits limits = {.max_cidr = 256};
	struct import_result res;

	for (int f = 0; f < 2; f++) {
		import_parse((const char *)data, size, f ? IMPORT_JSONL : IMPORT_CSV, &limits, &res);
		import_result_free(&res);
	}
	return 0;
}
