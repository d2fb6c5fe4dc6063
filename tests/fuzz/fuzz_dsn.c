/*
 * libFuzzer entry for bounce parsing: the DSN parser and the whole receipt
 * extraction (headers, DSN, token scan) over an arbitrary message.
 */
#include "probe-engine/dsn.h"
#include "probe-engine/sink.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct token_key key;
	static int init;
	const char *rcpts[1] = {"rt00000000000100aabbccddeeff0011@sink.relayaudit.test"};
	struct dsn d;
	struct sink_receipt *r;

	if (!init) {
		token_key_init(&key, "fuzz-secret-0123456789", 22);
		init = 1;
	}
	if (dsn_parse((const char *)data, size, &d) == 0) {
		if (d.original != NULL && (d.original < (const char *)data ||
		                           d.original + d.original_len > (const char *)data + size))
			abort();
		if (d.nrcpt > DSN_MAX_RECIPIENTS)
			abort();
	}
	r = sink_receipt_make(&key, "fuzz", "", rcpts, 1, (const char *)data, size, 256);
	if (r->ntokens > SINK_MAX_TOKENS || r->nreceived > SINK_MAX_RECEIVED)
		abort();
	sink_receipt_free(r);
	return 0;
}
