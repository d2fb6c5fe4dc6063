/*
 * The reply parser: whole replies, multi-line replies however they are
 * split, enhanced status codes, and every bound.
 */
#include "probe-engine/reply.h"
#include "tests/test.h"

struct events {
	int lines, finals, errors;
	int code;
	char enhanced[REPLY_ENH_LEN];
	char text[REPLY_KEEP + 1];
	char first_line[REPLY_KEEP + 1];
	const char *why;
};

/* Feeds buf in chunks of step bytes (0 = all at once) and counts events. */
static void
feed(struct reply_parser *p, const char *buf, size_t len, size_t step, struct events *ev)
{
	size_t off = 0;

	memset(ev, 0, sizeof(*ev));
	while (off < len) {
		size_t chunk = step ? (len - off < step ? len - off : step) : len - off;
		size_t pos = 0;

		while (pos < chunk) {
			size_t used;
			enum reply_event e = reply_feed(p, buf + off + pos, chunk - pos, &used);

			pos += used;
			if (e == REPLY_NEED_MORE)
				break;
			if (e == REPLY_ERROR) {
				ev->errors++;
				ev->why = p->why;
				return;
			}
			if (ev->lines + ev->finals == 0)
				snprintf(ev->first_line, sizeof(ev->first_line), "%s", p->text);
			if (e == REPLY_LINE)
				ev->lines++;
			if (e == REPLY_FINAL) {
				ev->finals++;
				ev->code = p->code;
				snprintf(ev->enhanced, sizeof(ev->enhanced), "%s", p->enhanced);
				snprintf(ev->text, sizeof(ev->text), "%s", p->text);
			}
		}
		off += chunk;
	}
}

TEST(single_line_reply_gives_code_enhanced_and_text)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	struct events ev;
	const char *r = "250 2.1.0 Sender ok\r\n";

	reply_init(&p, text);
	feed(&p, r, strlen(r), 0, &ev);
	CHECK_INT(ev.finals, 1);
	CHECK_INT(ev.lines, 0);
	CHECK_INT(ev.code, 250);
	CHECK_STR(ev.enhanced, "2.1.0");
	CHECK_STR(ev.text, "2.1.0 Sender ok");
}

static const char ehlo[] = "250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
			   "250-8BITMIME\r\n250 DSN\r\n";

TEST(multi_line_reply_ends_only_at_final_line)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	struct events ev;

	reply_init(&p, text);
	feed(&p, ehlo, strlen(ehlo), 0, &ev);
	CHECK_INT(ev.lines, 4);
	CHECK_INT(ev.finals, 1);
	CHECK_STR(ev.first_line, "mx.example.org Hello");
	CHECK_STR(ev.text, "DSN");
}

TEST(multi_line_reply_split_byte_by_byte_gives_same_events)
{
	for (size_t step = 1; step <= 7; step++) {
		struct reply_parser p;
		char text[REPLY_KEEP + 1];
		struct events ev;

		reply_init(&p, text);
		feed(&p, ehlo, strlen(ehlo), step, &ev);
		CHECK_MSG(ev.lines == 4 && ev.finals == 1 && ev.code == 250,
			  "step %zu: got %d lines %d finals code %d, want 4 1 250", step, ev.lines,
			  ev.finals, ev.code);
		CHECK_STR(ev.text, "DSN");
	}
}

TEST(pipelined_replies_in_one_segment_are_read_one_by_one)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	const char *buf = "250 2.1.0 ok\r\n554 5.7.1 Relay access denied\r\n250 ok\r\n";
	size_t off = 0, used;
	int codes[3], n = 0;

	reply_init(&p, text);
	while (off < strlen(buf) && n < 3) {
		enum reply_event e = reply_feed(&p, buf + off, strlen(buf) - off, &used);

		off += used;
		CHECK_MSG(e == REPLY_FINAL, "got event %d, want FINAL", e);
		codes[n++] = p.code;
	}
	CHECK_INT(n, 3);
	CHECK_INT(codes[0], 250);
	CHECK_INT(codes[1], 554);
	CHECK_STR(p.enhanced, "");
	CHECK_INT(codes[2], 250);
}

TEST(enhanced_code_from_final_line_and_class_must_match)
{
	char out[REPLY_ENH_LEN];

	reply_enhanced_parse("4.7.1 Relay access denied", 454, out);
	CHECK_STR(out, "4.7.1");
	reply_enhanced_parse("5.7.1 denied", 454, out);
	CHECK_STR(out, "");
	reply_enhanced_parse("4.7.1000 x", 454, out);
	CHECK_STR(out, "");
	reply_enhanced_parse("4.7.", 454, out);
	CHECK_STR(out, "");
	reply_enhanced_parse("5.5.2", 502, out);
	CHECK_STR(out, "5.5.2");
	reply_enhanced_parse("Relay access denied 5.7.1", 554, out);
	CHECK_STR(out, "");
}

TEST(bare_code_and_bare_lf_are_accepted)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	struct events ev;

	reply_init(&p, text);
	feed(&p, "250\n", 4, 0, &ev);
	CHECK_INT(ev.finals, 1);
	CHECK_INT(ev.code, 250);
	CHECK_STR(ev.text, "");
	feed(&p, "220 x\r\n", 7, 1, &ev);
	CHECK_INT(ev.code, 220);
	CHECK_STR(ev.text, "x");
}

TEST(overlong_line_is_an_error)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	struct events ev;
	static char buf[REPLY_LINE_MAX + 100];

	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "220 ", 4);
	reply_init(&p, text);
	feed(&p, buf, sizeof(buf), 100, &ev);
	CHECK_INT(ev.errors, 1);
	CHECK_STR(ev.why, "reply line too long");
}

TEST(too_many_lines_is_an_error)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	struct events ev;
	static char buf[(REPLY_LINES_MAX + 2) * 8];
	size_t n = 0;

	for (int i = 0; i < REPLY_LINES_MAX + 1; i++) {
		memcpy(buf + n, "250-ab\r\n", 8);
		n += 8;
	}
	reply_init(&p, text);
	feed(&p, buf, n, 0, &ev);
	CHECK_INT(ev.errors, 1);
	CHECK_STR(ev.why, "too many lines in one reply");
}

TEST(huge_multi_line_total_is_an_error)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	struct events ev;
	static char buf[REPLY_TOTAL_MAX + 2048];
	size_t n = 0;

	/* 100 lines of ~200 bytes: under the line count, over the byte total */
	while (n + 204 < sizeof(buf)) {
		memcpy(buf + n, "250-", 4);
		memset(buf + n + 4, 'y', 198);
		memcpy(buf + n + 202, "\r\n", 2);
		n += 204;
	}
	reply_init(&p, text);
	feed(&p, buf, n, 0, &ev);
	CHECK_INT(ev.errors, 1);
	CHECK_STR(ev.why, "multi-line reply too long");
}

TEST(garbage_is_an_error)
{
	static const char *const bad[] = {
		"hello\r\n", "25\r\n", "2500 x\r\n", "250x\r\n", "\x01\x02\x03\r\n",
		"099 x\r\n", "650 x\r\n", "\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct reply_parser p;
		char text[REPLY_KEEP + 1];
		struct events ev;

		reply_init(&p, text);
		feed(&p, bad[i], strlen(bad[i]), 0, &ev);
		CHECK_MSG(ev.errors == 1 && ev.finals == 0, "case %zu: got %d errors %d finals", i,
			  ev.errors, ev.finals);
	}
}

TEST(code_change_within_multi_line_is_an_error)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	struct events ev;
	const char *r = "250-a\r\n550 b\r\n";

	reply_init(&p, text);
	feed(&p, r, strlen(r), 0, &ev);
	CHECK_INT(ev.errors, 1);
	CHECK_STR(ev.why, "reply code changed within a multi-line reply");
}

TEST(error_is_sticky)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	size_t used;

	reply_init(&p, text);
	CHECK_INT(reply_feed(&p, "xyz\r\n", 5, &used), REPLY_ERROR);
	CHECK_INT(reply_feed(&p, "250 ok\r\n", 8, &used), REPLY_ERROR);
	CHECK_INT(used, 0);
}

TEST(long_line_text_is_truncated_but_accepted)
{
	struct reply_parser p;
	char text[REPLY_KEEP + 1];
	struct events ev;
	static char buf[REPLY_KEEP + 300];

	memset(buf, 'z', sizeof(buf));
	memcpy(buf, "250 ", 4);
	memcpy(buf + sizeof(buf) - 2, "\r\n", 2);
	reply_init(&p, text);
	feed(&p, buf, sizeof(buf), 0, &ev);
	CHECK_INT(ev.finals, 1);
	CHECK_INT(strlen(ev.text), REPLY_KEEP);
}

/*
 * The contract the session relies on: between feeds the caller may move the
 * line so far (text[0..textlen)) to another buffer. Cut at every byte and
 * moved at the cut, a reply still gives the events it gives whole.
 */
TEST(line_text_moved_between_feeds_gives_same_events)
{
	static const char r[] = "250-mx.example.org Hello\r\n250-PIPELINING\r\n"
				"250 2.0.0 DSN and more text\r\n554 5.7.1 <a@b> Relay denied\n";
	struct events whole;
	struct reply_parser p;
	char text[REPLY_KEEP + 1];

	reply_init(&p, text);
	feed(&p, r, strlen(r), 0, &whole);
	for (size_t cut = 1; cut < strlen(r); cut++) {
		struct events a, b;
		char moved[REPLY_KEEP + 1];

		reply_init(&p, text);
		feed(&p, r, cut, 0, &a);
		memcpy(moved, p.text, p.textlen);
		memset(text, '#', sizeof(text)); /* the old buffer is reused by someone else */
		p.text = moved;
		feed(&p, r + cut, strlen(r) - cut, 0, &b);
		CHECK_MSG(a.lines + b.lines == whole.lines && a.finals + b.finals == whole.finals &&
				  b.code == whole.code && strcmp(b.text, whole.text) == 0 &&
				  strcmp(b.enhanced, whole.enhanced) == 0 && a.errors + b.errors == 0,
			  "cut %zu: got %d+%d lines %d+%d finals code %d text \"%s\" enh \"%s\", want "
			  "%d lines %d finals code %d text \"%s\" enh \"%s\"",
			  cut, a.lines, b.lines, a.finals, b.finals, b.code, b.text, b.enhanced,
			  whole.lines, whole.finals, whole.code, whole.text, whole.enhanced);
	}
}

int
main(void)
{
	test_suite = "reply";
	RUN(single_line_reply_gives_code_enhanced_and_text);
	RUN(multi_line_reply_ends_only_at_final_line);
	RUN(multi_line_reply_split_byte_by_byte_gives_same_events);
	RUN(pipelined_replies_in_one_segment_are_read_one_by_one);
	RUN(enhanced_code_from_final_line_and_class_must_match);
	RUN(bare_code_and_bare_lf_are_accepted);
	RUN(overlong_line_is_an_error);
	RUN(too_many_lines_is_an_error);
	RUN(huge_multi_line_total_is_an_error);
	RUN(garbage_is_an_error);
	RUN(code_change_within_multi_line_is_an_error);
	RUN(error_is_sticky);
	RUN(long_line_text_is_truncated_but_accepted);
	RUN(line_text_moved_between_feeds_gives_same_events);
	return test_summary();
}
