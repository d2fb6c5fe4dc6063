/*
 * libFuzzer entry for the sink's command parser: one command line through
 * sink_cmd_parse and, for MAIL/RCPT, the path parser and domain match, the
 * way the server calls them on every line a peer sends.
 */
#include "probe-engine/sink.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const domains[] = {"sink.relayaudit.test"};
	char *line = malloc(size + 1);
	struct sink_cmd c;
	struct sink_path p;
	const char *why = NULL;

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (sink_cmd_parse(line, size, &c) == 0 && c.arg >= line &&
	    c.arg + c.arg_len <= line + size &&
	    (c.verb == SINK_CMD_MAIL || c.verb == SINK_CMD_RCPT)) {
		if (sink_path_parse(c.arg, c.arg_len, &p, &why) == 0) {
			if (strlen(p.local) >= sizeof(p.local) ||
			    strlen(p.domain) >= sizeof(p.domain))
				abort();
			(void)sink_domain_match(p.domain, domains, 1);
		} else if (why == NULL) {
			abort(); /* every refusal says why */
		}
	}
	free(line);
	return 0;
}
