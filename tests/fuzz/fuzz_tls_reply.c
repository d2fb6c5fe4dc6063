/*
 * libFuzzer entry for the reply rules that decide whether a refusal asks
 * for TLS: bytes through the bounded reply parser, each final reply into
 * run_reply for a running attempt, with STARTTLS offered or TLS already on
 * (first byte). The attempt must end up decided, waiting, or back in line
 * for TLS, never anything else; a TLS demand is honoured only where
 * STARTTLS is offered and TLS is not yet on.
 */
#include "probe-engine/reply.h"
#include "probe-engine/run.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct probe_params p;
	static bool init;
	struct probe_target t = {0};
	struct reply_parser rp;
	char rtext[REPLY_KEEP + 1];
	struct probe_run *r;
	size_t off = 1;

	if (size < 1)
		return 0;
	if (!init) {
		probe_params_defaults(&p);
		token_key_init(&p.key, "0123456789abcdef", 16);
		init = true;
	}
	addr_parse("127.0.0.9", &t.addr);
	r = run_new(&p, &t, 25, 7, 0);
	const char *why = NULL;

	if (run_prepare(r, "mx.example.org", &why) != 0)
		abort();
	r->starttls_offered = data[0] & 1;
	r->in_tls = data[0] & 2;
	reply_init(&rp, rtext);
	while (off < size) {
		size_t used = 0;
		enum reply_event ev = reply_feed(&rp, (const char *)data + off, size - off, &used);

		off += used;
		if (ev == REPLY_ERROR || ev == REPLY_NEED_MORE)
			break;
		if (ev != REPLY_FINAL)
			continue;
		struct reply_view rv = {rp.code, rp.enhanced, rp.text};
		bool was_wanted = r->tls_wanted;

		r->st[0].state = ATT_RUNNING;
		run_reply(r, 0, STAGE_RCPT, &rv, 0);
		if (r->tls_wanted && !was_wanted && (!r->starttls_offered || r->in_tls))
			abort();
		if (r->st[0].state == ATT_PENDING && !r->tls_wanted)
			abort();
		if (used == 0)
			break;
	}
	run_free(r);
	return 0;
}
