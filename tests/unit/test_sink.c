/*
 * The sink against real sockets on 127.0.30.x: a libevent loop runs the sink
 * on a thread, the tests speak SMTP to it with plain blocking sockets. Also
 * the pure command and address parsers and receipt extraction.
 */
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/sink.h"
#include "tests/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SINK_DOMAIN "sink.relayaudit.test"

static struct token_key key;
static const char *const domains[] = {SINK_DOMAIN, "sink2.relayaudit.test"};

/* ---- a sink on a loop thread ---- */

struct harness {
	struct event_base *base;
	struct sink *sink;
	pthread_t thread;
	pthread_mutex_t mu;
	struct sink_receipt *receipts[16];
	int nreceipts;
	bool free_in_callback;
	int port;
};

static void
harness_receipt(struct sink_receipt *r, void *arg)
{
	struct harness *h = arg;

	pthread_mutex_lock(&h->mu);
	if (h->nreceipts < 16)
		h->receipts[h->nreceipts++] = r;
	else
		sink_receipt_free(r);
	pthread_mutex_unlock(&h->mu);
	if (h->free_in_callback) {
		sink_free(h->sink);
		h->sink = NULL;
	}
}

static void *
harness_loop(void *arg)
{
	struct harness *h = arg;

	event_base_loop(h->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void
harness_params(struct sink_params *p)
{
	sink_params_defaults(p);
	p->key = key;
	p->domains = domains;
	p->ndomains = 2;
}

static struct harness *
harness_start(const struct sink_params *p)
{
	struct harness *h = xcalloc(1, sizeof(*h));
	struct addr a;
	const char *why = NULL;

	addr_parse("127.0.30.1", &a);
	h->base = event_base_new();
	pthread_mutex_init(&h->mu, NULL);
	h->sink = sink_new(h->base, p, &a, 0, harness_receipt, h, &why);
	if (h->sink == NULL)
		fatal("sink_new: %s", why);
	h->port = sink_port(h->sink);
	pthread_create(&h->thread, NULL, harness_loop, h);
	return h;
}

static void
harness_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct harness *h = arg;

	if (h->sink != NULL)
		sink_free(h->sink);
	h->sink = NULL;
	event_base_loopbreak(h->base);
}

static void
harness_stop(struct harness *h)
{
	struct timeval zero = {0, 0};

	event_base_once(h->base, -1, EV_TIMEOUT, harness_stop_cb, h, &zero);
	pthread_join(h->thread, NULL);
	for (int i = 0; i < h->nreceipts; i++)
		sink_receipt_free(h->receipts[i]);
	event_base_free(h->base);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static int
harness_count(struct harness *h)
{
	int n;

	pthread_mutex_lock(&h->mu);
	n = h->nreceipts;
	pthread_mutex_unlock(&h->mu);
	return n;
}

/* Waits (bounded) until n receipts have arrived. */
static bool
harness_wait(struct harness *h, int n)
{
	for (int i = 0; i < 500; i++) {
		if (harness_count(h) >= n)
			return true;
		usleep(10000);
	}
	return false;
}

/* ---- a blocking SMTP client ---- */

static int
client_connect(const char *from, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct timeval tv = {5, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Stay inside this suite's loopback range, also as the source. */
	from = from ? from : "127.0.30.1";
	{
		inet_pton(AF_INET, from, &sa.sin_addr);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			fatal("bind %s", from);
	}
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.30.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fatal("connect");
	return fd;
}

static void
client_send(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static int
atoi_code(const char *l)
{
	return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

/* Reads one whole reply (to its final line); returns its code, 0 on EOF/timeout. */
static int
client_reply(int fd, char *text, size_t len)
{
	char line[1024];
	size_t n = 0;

	if (text)
		text[0] = '\0';
	for (;;) {
		char c;
		ssize_t r = recv(fd, &c, 1, 0);

		if (r <= 0)
			return 0;
		if (n + 1 < sizeof(line))
			line[n++] = c;
		if (c != '\n')
			continue;
		line[n] = '\0';
		if (text)
			snprintf(text + strlen(text), len - strlen(text), "%s", line);
		if (n >= 4 && line[3] == ' ')
			return atoi_code(line);
		n = 0;
	}
}

/* Sends cmd (with CRLF) and returns the reply code. */
static int
client_cmd(int fd, const char *cmd)
{
	char buf[1100];

	snprintf(buf, sizeof(buf), "%s\r\n", cmd);
	client_send(fd, buf);
	return client_reply(fd, NULL, 0);
}

/* Connected, greeted and EHLO'd. */
static int
client_ready(struct harness *h, const char *from)
{
	int fd = client_connect(from, h->port);

	if (client_reply(fd, NULL, 0) != 220 || client_cmd(fd, "EHLO client.test") != 250)
		fatal("sink greeting or EHLO failed");
	return fd;
}

/* True when the peer closed the connection (bounded wait). */
static bool
client_closed(int fd)
{
	char buf[512];

	for (int i = 0; i < 100; i++) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		/* Unread input at the sink turns its close into a reset. */
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
		if (r < 0)
			return false;
	}
	return false;
}

static struct harness *
harness_default(void)
{
	struct sink_params p;

	harness_params(&p);
	return harness_start(&p);
}

/* ---- the server ---- */

TEST(refuses_recipients_outside_sink_domains)
{
	struct harness *h = harness_default();
	int fd = client_ready(h, NULL);

	CHECK_INT(client_cmd(fd, "MAIL FROM:<probe@outside.test>"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<victim@example.com>"), 550);
	CHECK_INT(client_cmd(fd, "RCPT TO:<x%sink.relayaudit.test@example.com>"), 550);
	CHECK_INT(client_cmd(fd, "RCPT TO:<\"x@example.com\">"), 550);
	CHECK_INT(client_cmd(fd, "RCPT TO:<x@sink.relayaudit.test.example.com>"), 550);
	CHECK_INT(client_cmd(fd, "RCPT TO:<x@relayaudit.test>"), 550);
	/* No accepted recipient: nothing to deliver. */
	CHECK_INT(client_cmd(fd, "DATA"), 554);
	close(fd);
	harness_stop(h);
}

TEST(accepts_sink_domains_in_any_case_and_trailing_dot)
{
	struct harness *h = harness_default();
	int fd = client_ready(h, NULL);

	CHECK_INT(client_cmd(fd, "MAIL FROM:<>"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<a@sink.relayaudit.test>"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<b@SiNk.RelayAudit.TEST>"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<c@sink.relayaudit.test.>"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<@relay.test:d@sink2.relayaudit.test>"), 250);
	CHECK_INT(client_cmd(fd, "rcpt to: <e@sink.relayaudit.test> NOTIFY=NEVER"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<postmaster>"), 250);
	close(fd);
	harness_stop(h);
}

TEST(dot_unstuffing_and_end_of_data)
{
	struct harness *h = harness_default();
	int fd = client_ready(h, NULL);
	char text[256];

	CHECK_INT(client_cmd(fd, "MAIL FROM:<a@b.test>"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<u@sink.relayaudit.test>"), 250);
	CHECK_INT(client_cmd(fd, "DATA"), 354);
	client_send(fd, "Subject: dots\r\n\r\n..leading dot\r\n...\r\n. \r\nend.\r\n.\r\n");
	CHECK_INT(client_reply(fd, text, sizeof(text)), 250);
	CHECK_CONTAINS(text, "queued as");
	CHECK(harness_wait(h, 1));
	CHECK_STR(h->receipts[0]->excerpt, "Subject: dots\n\n.leading dot\n..\n \nend.\n");
	CHECK_STR(h->receipts[0]->subject, "dots");
	CHECK_STR(h->receipts[0]->helo, "client.test");
	CHECK_STR(h->receipts[0]->mail_from, "a@b.test");
	CHECK_INT(h->receipts[0]->nrcpts, 1);
	CHECK_STR(h->receipts[0]->rcpts[0], "u@sink.relayaudit.test");
	CHECK_CONTAINS(text, h->receipts[0]->id);
	close(fd);
	harness_stop(h);
}

TEST(data_split_across_segments)
{
	struct harness *h = harness_default();
	int fd = client_ready(h, NULL);

	client_cmd(fd, "MAIL FROM:<a@b.test>");
	client_cmd(fd, "RCPT TO:<u@sink.relayaudit.test>");
	CHECK_INT(client_cmd(fd, "DATA"), 354);
	client_send(fd, "Subject: sp");
	usleep(50000);
	client_send(fd, "lit\r\n\r\nbody\r");
	usleep(50000);
	client_send(fd, "\n.");
	usleep(50000);
	client_send(fd, "\r\n");
	CHECK_INT(client_reply(fd, NULL, 0), 250);
	CHECK(harness_wait(h, 1));
	CHECK_STR(h->receipts[0]->excerpt, "Subject: split\n\nbody\n");
	close(fd);
	harness_stop(h);
}

TEST(pipelined_transaction_in_one_write)
{
	struct harness *h = harness_default();
	int fd = client_connect(NULL, h->port);
	int codes[8], want[8] = {220, 250, 250, 250, 354, 250, 221, 0};

	client_send(fd,
	            "EHLO p.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@sink.relayaudit.test>\r\n"
	            "DATA\r\nSubject: piped\r\n\r\nx\r\n.\r\nQUIT\r\n");
	for (int i = 0; i < 8; i++)
		codes[i] = client_reply(fd, NULL, 0);
	for (int i = 0; i < 8; i++)
		CHECK_MSG(codes[i] == want[i], "reply %d: got %d, want %d", i, codes[i], want[i]);
	CHECK(harness_wait(h, 1));
	CHECK_STR(h->receipts[0]->subject, "piped");
	close(fd);
	harness_stop(h);
}

TEST(receipt_lists_verified_tokens_and_where)
{
	struct harness *h = harness_default();
	int fd = client_ready(h, "127.0.30.7");
	char tok[TOKEN_BUFLEN], msg[512], rcpt[128];
	struct sink_receipt *r;

	token_make(&key, 4242, 3, tok);
	snprintf(rcpt, sizeof(rcpt), "RCPT TO:<%s@sink.relayaudit.test>", tok);
	client_cmd(fd, "MAIL FROM:<probe@outside.test>");
	CHECK_INT(client_cmd(fd, rcpt), 250);
	CHECK_INT(client_cmd(fd, "DATA"), 354);
	snprintf(msg, sizeof(msg),
	         "Received: from a by b; now\r\nReceived: from c by d; then\r\n"
	         "Subject: relay test %s\r\nMessage-ID: <%s@relayaudit>\r\n\r\nhello\r\n.\r\n",
	         tok, tok);
	client_send(fd, msg);
	CHECK_INT(client_reply(fd, NULL, 0), 250);
	CHECK(harness_wait(h, 1));
	r = h->receipts[0];
	CHECK_INT(r->ntokens, 1);
	CHECK_INT(r->tokens[0].probe_id, 4242);
	CHECK_INT(r->tokens[0].attempt, 3);
	CHECK_STR(r->tokens[0].token, tok);
	CHECK(r->tokens[0].where & SINK_IN_RCPT);
	CHECK(r->tokens[0].where & SINK_IN_SUBJECT);
	CHECK(r->tokens[0].where & SINK_IN_MESSAGE_ID);
	CHECK_INT(r->forged, 0);
	CHECK(!r->bounce);
	CHECK_INT(r->nreceived, 2);
	CHECK_STR(r->received[0], "from a by b; now");
	char peer[ADDR_STRLEN];
	addr_format(&r->peer, peer, sizeof(peer));
	CHECK_STR(peer, "127.0.30.7");
	close(fd);
	harness_stop(h);
}

/* A token with a wrong MAC (someone guessing, or minted with another key) is no receipt. */
TEST(forged_token_is_counted_not_reported)
{
	struct harness *h = harness_default();
	int fd = client_ready(h, NULL);
	struct token_key other;
	char tok[TOKEN_BUFLEN], forged[TOKEN_BUFLEN], cmd[128];

	token_key_init(&other, "not-the-secret", 14);
	token_make(&other, 4242, 3, tok);
	token_make(&key, 4242, 3, forged);
	forged[TOKEN_LEN - 1] = forged[TOKEN_LEN - 1] == '0' ? '1' : '0'; /* flip the MAC */
	client_cmd(fd, "MAIL FROM:<x@y.test>");
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s@sink.relayaudit.test>", tok);
	CHECK_INT(client_cmd(fd, cmd), 250);
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s@sink.relayaudit.test>", forged);
	CHECK_INT(client_cmd(fd, cmd), 250);
	client_cmd(fd, "DATA");
	client_send(fd, "Subject: x\r\n\r\n.\r\n");
	CHECK_INT(client_reply(fd, NULL, 0), 250);
	CHECK(harness_wait(h, 1));
	CHECK_INT(h->receipts[0]->ntokens, 0);
	CHECK(h->receipts[0]->forged >= 2);
	close(fd);
	harness_stop(h);
}

TEST(message_size_limit_refuses_with_552_and_session_goes_on)
{
	struct sink_params p;
	struct harness *h;
	int fd;
	char big[2100];

	harness_params(&p);
	p.max_message = 1024;
	h = harness_start(&p);
	fd = client_ready(h, NULL);
	CHECK_INT(client_cmd(fd, "MAIL FROM:<a@b.test> SIZE=5000"), 552);
	CHECK_INT(client_cmd(fd, "MAIL FROM:<a@b.test>"), 250);
	client_cmd(fd, "RCPT TO:<u@sink.relayaudit.test>");
	CHECK_INT(client_cmd(fd, "DATA"), 354);
	memset(big, 'x', 998);
	memcpy(big + 998, "\r\n", 2);
	big[1000] = '\0';
	client_send(fd, big);
	client_send(fd, big);
	client_send(fd, ".\r\n");
	CHECK_INT(client_reply(fd, NULL, 0), 552);
	/* The session is still usable and the next message fits. */
	CHECK_INT(client_cmd(fd, "MAIL FROM:<a@b.test>"), 250);
	client_cmd(fd, "RCPT TO:<u@sink.relayaudit.test>");
	client_cmd(fd, "DATA");
	client_send(fd, "Subject: small\r\n\r\n.\r\n");
	CHECK_INT(client_reply(fd, NULL, 0), 250);
	CHECK(harness_wait(h, 1));
	CHECK_INT(h->nreceipts, 1);
	CHECK_STR(h->receipts[0]->subject, "small");
	close(fd);
	harness_stop(h);
}

/* The sink-wide memory cap defers (452) rather than refuses, so a relay retries later. */
TEST(sink_wide_buffer_cap_defers_with_452)
{
	struct sink_params p;
	struct harness *h;
	int fd;
	char line[1002];

	harness_params(&p);
	p.max_buffered = 4096;
	h = harness_start(&p);
	fd = client_ready(h, NULL);
	client_cmd(fd, "MAIL FROM:<a@b.test>");
	client_cmd(fd, "RCPT TO:<u@sink.relayaudit.test>");
	CHECK_INT(client_cmd(fd, "DATA"), 354);
	memset(line, 'y', 998);
	memcpy(line + 998, "\r\n", 3);
	for (int i = 0; i < 6; i++)
		client_send(fd, line);
	client_send(fd, ".\r\n");
	CHECK_INT(client_reply(fd, NULL, 0), 452);
	/* The memory is given back: a small message fits afterwards. */
	client_cmd(fd, "MAIL FROM:<a@b.test>");
	client_cmd(fd, "RCPT TO:<u@sink.relayaudit.test>");
	client_cmd(fd, "DATA");
	client_send(fd, "Subject: small\r\n\r\n.\r\n");
	CHECK_INT(client_reply(fd, NULL, 0), 250);
	CHECK(harness_wait(h, 1));
	close(fd);
	harness_stop(h);
}

TEST(recipient_limit_answers_452)
{
	struct sink_params p;
	struct harness *h;
	int fd;

	harness_params(&p);
	p.max_rcpts = 2;
	h = harness_start(&p);
	fd = client_ready(h, NULL);
	client_cmd(fd, "MAIL FROM:<a@b.test>");
	CHECK_INT(client_cmd(fd, "RCPT TO:<u1@sink.relayaudit.test>"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<u2@sink.relayaudit.test>"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<u3@sink.relayaudit.test>"), 452);
	close(fd);
	harness_stop(h);
}

TEST(overlong_command_line_closes_session)
{
	struct sink_params p;
	struct harness *h;
	int fd;
	char line[700];

	harness_params(&p);
	p.max_line = 512;
	h = harness_start(&p);
	fd = client_ready(h, NULL);
	memset(line, 'A', sizeof(line) - 3);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	client_send(fd, line);
	CHECK_INT(client_reply(fd, NULL, 0), 500);
	CHECK(client_closed(fd));
	close(fd);
	harness_stop(h);
}

/* A peer that sends an endless line with no line end is cut off, not buffered. */
TEST(endless_line_without_newline_is_bounded)
{
	struct harness *h = harness_default();
	int fd = client_ready(h, NULL);
	char junk[4096];

	memset(junk, 'B', sizeof(junk));
	for (int i = 0; i < 4; i++)
		send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
	CHECK_INT(client_reply(fd, NULL, 0), 500);
	CHECK(client_closed(fd));
	close(fd);
	harness_stop(h);
}

TEST(session_limit_answers_421)
{
	struct sink_params p;
	struct harness *h;
	int a, b, c;

	harness_params(&p);
	p.max_sessions = 2;
	h = harness_start(&p);
	a = client_ready(h, "127.0.30.2");
	b = client_ready(h, "127.0.30.3");
	c = client_connect("127.0.30.4", h->port);
	CHECK_INT(client_reply(c, NULL, 0), 421);
	CHECK(client_closed(c));
	close(c);
	/* A slot freed is a slot usable again. */
	close(a);
	usleep(100000);
	c = client_connect("127.0.30.4", h->port);
	CHECK_INT(client_reply(c, NULL, 0), 220);
	close(b);
	close(c);
	harness_stop(h);
}

TEST(per_peer_limit_answers_421_only_to_that_peer)
{
	struct sink_params p;
	struct harness *h;
	int a, b, c;

	harness_params(&p);
	p.per_peer = 1;
	h = harness_start(&p);
	a = client_ready(h, "127.0.30.5");
	b = client_connect("127.0.30.5", h->port);
	CHECK_INT(client_reply(b, NULL, 0), 421);
	c = client_connect("127.0.30.6", h->port);
	CHECK_INT(client_reply(c, NULL, 0), 220);
	close(a);
	close(b);
	close(c);
	harness_stop(h);
}

/*
 * With several loops each has a listener on the port (SO_REUSEPORT); the
 * kernel would spread one peer's connections over them, and each loop
 * counts only its own. The steering program sends all of a peer's
 * connections to one loop, so per_peer holds for the sink as a whole.
 */
TEST(per_peer_limit_holds_across_the_sinks_loops)
{
	struct sink_params p;
	struct harness *h;
	int fds[8][3];
	char peer[32];

	harness_params(&p);
	p.threads = 3;
	p.per_peer = 2;
	h = harness_start(&p);
	for (int i = 0; i < 8; i++) {
		snprintf(peer, sizeof(peer), "127.0.30.%d", 40 + i);
		fds[i][0] = client_ready(h, peer);
		fds[i][1] = client_ready(h, peer);
		fds[i][2] = client_connect(peer, h->port);
		CHECK_MSG(client_reply(fds[i][2], NULL, 0) == 421,
			  "peer %s: a third connection was let in (per_peer counted per loop)", peer);
	}
	for (int i = 0; i < 8; i++)
		for (int k = 0; k < 3; k++)
			close(fds[i][k]);
	harness_stop(h);
}

TEST(idle_session_times_out)
{
	struct sink_params p;
	struct harness *h;
	int fd;
	int64_t t0;

	harness_params(&p);
	p.timeout_ms = 300;
	h = harness_start(&p);
	fd = client_ready(h, NULL);
	t0 = now_mono_ms();
	CHECK(client_closed(fd));
	CHECK(now_mono_ms() - t0 < 3000);
	close(fd);
	harness_stop(h);
}

TEST(trickling_session_hits_whole_session_limit)
{
	struct sink_params p;
	struct harness *h;
	int fd, code = 0;

	harness_params(&p);
	p.session_ms = 400;
	h = harness_start(&p);
	fd = client_ready(h, NULL);
	for (int i = 0; i < 20 && code == 0; i++) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int r;

		client_send(fd, "NOOP\r\n");
		/* the limit may strike before the NOOP is read: its 421 is then the answer */
		if ((r = client_reply(fd, NULL, 0)) != 250) {
			code = r;
			break;
		}
		if (poll(&pfd, 1, 100) > 0)
			code = client_reply(fd, NULL, 0);
	}
	CHECK_INT(code, 421);
	close(fd);
	harness_stop(h);
}

TEST(bad_sequence_503_and_too_many_errors_421)
{
	struct sink_params p;
	struct harness *h;
	int fd;

	harness_params(&p);
	p.max_errors = 3;
	h = harness_start(&p);
	fd = client_connect(NULL, h->port);
	client_reply(fd, NULL, 0);
	CHECK_INT(client_cmd(fd, "MAIL FROM:<a@b.test>"), 503); /* before HELO */
	CHECK_INT(client_cmd(fd, "EHLO x"), 250);
	CHECK_INT(client_cmd(fd, "RCPT TO:<u@sink.relayaudit.test>"), 503); /* before MAIL */
	CHECK_INT(client_cmd(fd, "STARTTLS"), 502);
	/* The third error earns its reply and then a 421. */
	CHECK_INT(client_reply(fd, NULL, 0), 421);
	CHECK(client_closed(fd));
	close(fd);
	harness_stop(h);
}

TEST(null_sender_dsn_is_a_bounce_with_token_from_attached_headers)
{
	struct harness *h = harness_default();
	int fd = client_ready(h, NULL);
	char tok[TOKEN_BUFLEN], msg[2048], rcpt[128];
	struct sink_receipt *r;

	token_make(&key, 77, 0, tok);
	snprintf(rcpt, sizeof(rcpt), "RCPT TO:<%s@sink.relayaudit.test>", tok);
	client_cmd(fd, "MAIL FROM:<>");
	CHECK_INT(client_cmd(fd, rcpt), 250);
	client_cmd(fd, "DATA");
	snprintf(msg, sizeof(msg),
	         "Subject: Undelivered Mail Returned to Sender\r\n"
	         "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n"
	         "\r\n--B\r\nContent-Type: text/plain\r\n\r\nsorry\r\n"
	         "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
	         "Final-Recipient: rfc822; nobody@customer.test\r\nAction: failed\r\n"
	         "Status: 5.1.1\r\n\r\n"
	         "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: test %s\r\n"
	         "..dotted\r\n--B--\r\n.\r\n",
	         tok);
	client_send(fd, msg);
	CHECK_INT(client_reply(fd, NULL, 0), 250);
	CHECK(harness_wait(h, 1));
	r = h->receipts[0];
	CHECK(r->null_sender);
	CHECK(r->dsn);
	CHECK(r->bounce);
	CHECK_STR(r->dsn_final_rcpt, "nobody@customer.test");
	CHECK_STR(r->dsn_status, "5.1.1");
	CHECK_STR(r->dsn_action, "failed");
	CHECK_INT(r->ntokens, 1);
	CHECK(r->tokens[0].where & SINK_IN_RCPT);
	CHECK(r->tokens[0].where & SINK_IN_DSN_ORIGINAL);
	CHECK_CONTAINS(r->excerpt, "\n.dotted\n");
	close(fd);
	harness_stop(h);
}

/* The owner may free the sink from its own receipt callback. */
TEST(sink_free_inside_receipt_callback_is_safe)
{
	struct harness *h = harness_default();
	int fd = client_ready(h, NULL);

	h->free_in_callback = true;
	client_cmd(fd, "MAIL FROM:<a@b.test>");
	client_cmd(fd, "RCPT TO:<u@sink.relayaudit.test>");
	client_cmd(fd, "DATA");
	client_send(fd, "Subject: bye\r\n\r\n.\r\n");
	client_reply(fd, NULL, 0);
	CHECK(harness_wait(h, 1));
	CHECK(client_closed(fd));
	close(fd);
	harness_stop(h);
}

/* ---- the pure parsers ---- */

TEST(cmd_parse_verbs_and_arguments)
{
	struct sink_cmd c;
	const char *l = "mail from: <a@b> SIZE=10  ";

	CHECK_INT(sink_cmd_parse(l, strlen(l), &c), 0);
	CHECK_INT(c.verb, SINK_CMD_MAIL);
	CHECK_INT(c.arg_len, strlen("<a@b> SIZE=10"));
	CHECK_INT(sink_cmd_parse("MAIL TO:<a@b>", 13, &c), -1);
	CHECK_INT(sink_cmd_parse("RCPT", 4, &c), -1);
	CHECK_INT(sink_cmd_parse("QUIT", 4, &c), 0);
	CHECK_INT(c.verb, SINK_CMD_QUIT);
	CHECK_INT(sink_cmd_parse("QUITX", 5, &c), 0);
	CHECK_INT(c.verb, SINK_CMD_UNKNOWN);
	CHECK_INT(sink_cmd_parse("", 0, &c), 0);
	CHECK_INT(c.verb, SINK_CMD_UNKNOWN);
	CHECK_INT(sink_cmd_parse("BDAT 10 LAST", 12, &c), 0);
	CHECK_INT(c.verb, SINK_CMD_UNSUPPORTED);
}

TEST(path_parse_forms)
{
	struct sink_path p;
	const char *why = NULL;
	const char *s;

	s = "<\"a@b\"@sink.test>";
	CHECK_INT(sink_path_parse(s, strlen(s), &p, &why), 0);
	CHECK_STR(p.local, "\"a@b\"");
	CHECK_STR(p.domain, "sink.test");
	s = "<@r1,@r2:u@d.test> SIZE=99";
	CHECK_INT(sink_path_parse(s, strlen(s), &p, &why), 0);
	CHECK_STR(p.local, "u");
	CHECK_STR(p.domain, "d.test");
	CHECK_INT(p.size, 99);
	s = "<>";
	CHECK_INT(sink_path_parse(s, strlen(s), &p, &why), 0);
	CHECK(p.null);
	s = "u@d.test";
	CHECK_INT(sink_path_parse(s, strlen(s), &p, &why), 0);
	CHECK_STR(p.domain, "d.test");
	s = "<u@d.test";
	CHECK_INT(sink_path_parse(s, strlen(s), &p, &why), -1);
	s = "<\"u@d.test>";
	CHECK_INT(sink_path_parse(s, strlen(s), &p, &why), -1);
	s = "<a@b@c>"; /* the last unquoted '@' splits */
	CHECK_INT(sink_path_parse(s, strlen(s), &p, &why), 0);
	CHECK_STR(p.local, "a@b");
	CHECK_STR(p.domain, "c");
	s = "<@d.test>";
	CHECK_INT(sink_path_parse(s, strlen(s), &p, &why), -1);
}

TEST(domain_match_exact_only)
{
	CHECK(sink_domain_match("SINK.relayaudit.test", domains, 2));
	CHECK(sink_domain_match("sink.relayaudit.test.", domains, 2));
	CHECK(!sink_domain_match("sink.relayaudit.test..", domains, 2));
	CHECK(!sink_domain_match("xsink.relayaudit.test", domains, 2));
	CHECK(!sink_domain_match("[127.0.30.1]", domains, 2));
	CHECK(!sink_domain_match("", domains, 2));
}

TEST(receipt_make_counts_token_for_another_key_as_forged)
{
	char tok[TOKEN_BUFLEN], rcpt[64], msg[128];
	struct token_key other;
	const char *rcpts[1] = {rcpt};
	struct sink_receipt *r;

	token_key_init(&other, "x", 1);
	token_make(&other, 1, 1, tok);
	snprintf(rcpt, sizeof(rcpt), "%s@" SINK_DOMAIN, tok);
	snprintf(msg, sizeof(msg), "Subject: %s\n\nbody\n", tok);
	r = sink_receipt_make(&key, "h", "", rcpts, 1, msg, strlen(msg), 16);
	CHECK_INT(r->ntokens, 0);
	CHECK_INT(r->forged, 2);
	CHECK(r->excerpt_truncated);
	CHECK_INT(strlen(r->excerpt), 16);
	sink_receipt_free(r);
}

TEST(receipt_make_replaces_unprintable_peer_text)
{
	const char *rcpts[1] = {"a\x01"
	                        "b@" SINK_DOMAIN};
	const char *msg = "Subject: caf\xc3\xa9\r\n\r\nx\x7f\r\n";
	struct sink_receipt *r =
	    sink_receipt_make(&key, "h\x1b", "", rcpts, 1, msg, strlen(msg), 100);

	CHECK_STR(r->helo, "h?");
	CHECK_STR(r->rcpts[0], "a?b@" SINK_DOMAIN);
	CHECK_STR(r->subject, "caf??");
	CHECK_CONTAINS(r->excerpt, "x?");
	sink_receipt_free(r);
}

int
main(void)
{
	test_suite = "sink";
	log_set_level(LOG_WARN);
	evthread_use_pthreads();
	token_key_init(&key, "unit-test-secret", 16);
	RUN(refuses_recipients_outside_sink_domains);
	RUN(accepts_sink_domains_in_any_case_and_trailing_dot);
	RUN(dot_unstuffing_and_end_of_data);
	RUN(data_split_across_segments);
	RUN(pipelined_transaction_in_one_write);
	RUN(receipt_lists_verified_tokens_and_where);
	RUN(forged_token_is_counted_not_reported);
	RUN(message_size_limit_refuses_with_552_and_session_goes_on);
	RUN(sink_wide_buffer_cap_defers_with_452);
	RUN(recipient_limit_answers_452);
	RUN(overlong_command_line_closes_session);
	RUN(endless_line_without_newline_is_bounded);
	RUN(session_limit_answers_421);
	RUN(per_peer_limit_answers_421_only_to_that_peer);
	RUN(per_peer_limit_holds_across_the_sinks_loops);
	RUN(idle_session_times_out);
	RUN(trickling_session_hits_whole_session_limit);
	RUN(bad_sequence_503_and_too_many_errors_421);
	RUN(null_sender_dsn_is_a_bounce_with_token_from_attached_headers);
	RUN(sink_free_inside_receipt_callback_is_safe);
	RUN(cmd_parse_verbs_and_arguments);
	RUN(path_parse_forms);
	RUN(domain_match_exact_only);
	RUN(receipt_make_counts_token_for_another_key_as_forged);
	RUN(receipt_make_replaces_unprintable_peer_text);
	return test_summary();
}
