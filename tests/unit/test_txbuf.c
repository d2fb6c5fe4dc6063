/*
 * The in-flight transcript buffer: what goes in comes out byte for byte,
 * in blocks deflated as it grows, and it holds less than it was given.
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

TEST(an_eight_kilobyte_transcript_is_held_in_under_half)
{
	static char in[8192];
	struct txbuf b = {0};
	size_t n = dialogue(in, sizeof(in), 400), len;
	char *out;

	for (size_t off = 0; off < n; off += 64) {
		txbuf_put(&b, in + off, n - off < 64 ? n - off : 64);
		txbuf_seal(&b);
	}
	CHECK_MSG(b.tail_size + b.z_size < n / 2, "held %u + %u bytes of %zu", b.tail_size,
		  b.z_size, n);
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
	RUN(an_eight_kilobyte_transcript_is_held_in_under_half);
	RUN(closed_buffer_holds_no_raw_tail);
	RUN(nothing_put_is_an_empty_string);
	return test_summary();
}
