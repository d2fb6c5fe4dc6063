/*
 * libFuzzer entry for the reply parser: the input is split into segments
 * at positions its first bytes choose, so every way TCP could cut a reply
 * is tried. Checks the parser's own invariants as it goes.
 */
#include "probe-engine/reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	size_t off = 0, step = 1;

	if (size > 0) {
		step = 1 + data[0] % 64;
		data++;
		size--;
	}
	reply_init(&p, text);
	while (off < size) {
		size_t chunk = size - off < step ? size - off : step;
		size_t pos = 0;

		while (pos < chunk) {
			size_t used = 0;
			enum reply_event ev = reply_feed(&p, (const char *)data + off + pos, chunk - pos, &used);

			if (used > chunk - pos)
				abort();
			pos += used;
			if (ev == REPLY_ERROR) {
				if (p.why == NULL)
					abort();
				return 0;
			}
			if (ev == REPLY_NEED_MORE) {
				if (pos != chunk)
					abort();
				break;
			}
			if (used == 0)
				abort(); /* a line event always consumes its newline */
			if (p.code < 200 || p.code > 599 || strlen(p.text) > REPLY_KEEP ||
			    p.nlines > REPLY_LINES_MAX || p.total > REPLY_TOTAL_MAX)
				abort();
			if (p.enhanced[0] != '\0' && p.enhanced[0] - '0' != p.code / 100)
				abort();
		}
		off += chunk;
	}
	return 0;
}
