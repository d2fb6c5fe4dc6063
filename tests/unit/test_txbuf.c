/*
 * The in-flight transcript buffer: what goes in comes out byte for byte,
 * in segments deflated as it grows, and it holds less than it was given.
 */
#include "probe-engine/txbuf.h"
#include "tests/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A closed server's dialogue as run_log packs it: control bytes stand for tokens and names. */
static size_t
dialogue(char *out, size_t cap, int lines)
{
	size_t n = 0;

	for (int i = 0; i < lines && n + 200 < cap; i++) {
		int w = snprintf(out + n, cap - n,
				 i % 3 == 0   ? "C: RCPT TO:<\001%c@\002>\n"
				 : i % 3 == 1 ? "S: 554 5.7.1 <\001%c%%\002@\003>: Relay access denied\n"
					      : "S: 250 2.1.0 Ok%c\n",
				 (char)(2 + i % 200));
		n += (size_t)w;
	}
	return n;
}

TEST(what_goes_in_comes_out_byte_for_byte)
{
	static char in[64 * 1024];
	struct txbuf b = {0};
	size_t n = dialogue(in, sizeof(in), 1500), len = 0, off = 0;
	char *out;

	/* line by line, sealed at each line's end as run_log does */
	while (off < n) {
		const char *nl = memchr(in + off, '\n', n - off);
		size_t l = (size_t)(nl - (in + off)) + 1;

		txbuf_put(&b, in + off, l);
		txbuf_seal(&b);
		off += l;
	}
	CHECK(b.z_used > 0);             /* blocks were deflated on the way */
	CHECK(b.tail_used < TXBUF_BLOCK); /* and only the last stays raw */
	out = txbuf_take(&b, &len);
	CHECK_INT(len, n);
	CHECK(memcmp(out, in, n) == 0);
	CHECK_INT(out[len], '\0');
	CHECK(b.tail == NULL && b.z == NULL && b.total == 0);
	free(out);
}

TEST(an_eight_kilobyte_transcript_is_held_in_under_a_quarter)
{
	static char in[8192];
	struct txbuf b = {0};
	size_t n = dialogue(in, sizeof(in), 400), len;
	char *out;

	for (size_t off = 0; off < n; off += 64) {
		txbuf_put(&b, in + off, n - off < 64 ? n - off : 64);
		txbuf_seal(&b);
	}
	CHECK_MSG(b.tail_size + b.z_size < n / 4, "held %u + %u bytes of %zu", b.tail_size,
		  b.z_size, n);
	out = txbuf_take(&b, &len);
	CHECK_INT(len, n);
	CHECK(memcmp(out, in, n) == 0);
	free(out);
}

/* The next connection's dialogue repeats the last one's: its segment refers back to it. */
TEST(a_segment_repeating_the_chain_costs_a_few_bytes)
{
	static char in[2 * TXBUF_BLOCK];
	struct txbuf b = {0};
	size_t n = dialogue(in, sizeof(in), 20), len;
	uint32_t first;
	char *out;

	CHECK(n >= TXBUF_BLOCK);
	txbuf_put(&b, in, n);
	txbuf_seal(&b);
	first = b.z_used;
	CHECK(first > 0 && b.tail_used == 0);
	txbuf_put(&b, in, n);
	txbuf_seal(&b);
	CHECK_MSG(b.z_used - first < 24, "the repeat took %u bytes (the first %u)", b.z_used - first,
		  first);
	out = txbuf_take(&b, &len);
	CHECK_INT(len, 2 * n);
	CHECK(memcmp(out, in, n) == 0 && memcmp(out + n, in, n) == 0);
	free(out);
}

/* A chain ends after TXBUF_CHAIN raw bytes: what a segment re-reads stays bounded. */
TEST(chains_restart_and_each_comes_back)
{
	static char in[6 * TXBUF_CHAIN];
	struct txbuf b = {0};
	size_t n = dialogue(in, sizeof(in), 1000), len, chains = 0;
	char *out;

	for (size_t off = 0; off < n; off += 100) {
		txbuf_put(&b, in + off, n - off < 100 ? n - off : 100);
		txbuf_seal(&b);
	}
	for (uint32_t i = 0; i + 4 <= b.z_used; chains++) {
		uint16_t zlen, raw;

		memcpy(&zlen, b.z + i, 2);
		memcpy(&raw, b.z + i + 2, 2);
		CHECK_MSG(raw < TXBUF_CHAIN + 4 * TXBUF_BLOCK, "chain of %u raw bytes", raw);
		i += 4 + zlen;
	}
	CHECK_MSG(chains >= n / (TXBUF_CHAIN + TXBUF_BLOCK), "%zu chains for %zu bytes", chains, n);
	out = txbuf_take(&b, &len);
	CHECK_INT(len, n);
	CHECK(memcmp(out, in, n) == 0);
	free(out);
}

TEST(closed_buffer_holds_no_raw_tail)
{
	struct txbuf b = {0};
	size_t len;
	char *out;

	txbuf_put(&b, "S: 250 ok\n", 10);
	txbuf_seal(&b);
	CHECK_INT(b.tail_used, 10); /* under a block: kept raw */
	txbuf_close(&b);
	CHECK(b.tail == NULL && b.z_used > 0);
	out = txbuf_take(&b, &len);
	CHECK_STR(out, "S: 250 ok\n");
	free(out);
}

TEST(nothing_put_is_an_empty_string)
{
	struct txbuf b = {0};
	size_t len = 1;
	char *out = txbuf_take(&b, &len);

	CHECK_INT(len, 0);
	CHECK_STR(out, "");
	free(out);
	txbuf_free(&b);
}

int
main(void)
{
	test_suite = "txbuf";
	RUN(what_goes_in_comes_out_byte_for_byte);
	RUN(an_eight_kilobyte_transcript_is_held_in_under_a_quarter);
	RUN(a_segment_repeating_the_chain_costs_a_few_bytes);
	RUN(chains_restart_and_each_comes_back);
	RUN(closed_buffer_holds_no_raw_tail);
	RUN(nothing_put_is_an_empty_string);
	return test_summary();
}
