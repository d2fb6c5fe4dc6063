/*
 * One simulated SMTP server session: reads bounded command lines, answers per
 * the listener's behaviour row, and writes replies normally, trickled (tarpit,
 * split), as noise, or as an endless stream; with --delay every reply leaves
 * that long after the command (or connection) that caused it.
 *
 * Cheap per session, because the benchmark's farm shares the cores with the
 * prober it measures: plain sockets with one persistent read event (no
 * bufferevent; implicit TLS keeps one), everything a read caused is written in
 * one send() at the end of the read, as a real MTA answers a pipelined group
 * once its input is drained, and the write event is armed only while the
 * socket is full.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/util.h"
#include "tests/sim/sim.h"

#define SESSION_MAX_LINE 2048          /* command line, and a DATA line */
#define SESSION_READ_MAX 16384         /* bytes per recv() */
#define SESSION_READS_PER_WAKE 4       /* then back through the loop: no client starves others */
#define SESSION_EPOLL_BATCH 256        /* ready sessions handled per wake-up of the loop */
#define SESSION_STREAM_CHUNK 16384     /* endless/hugereply refill */
#define SESSION_STREAM_ROUNDS 4        /* refills per wake-up */
#define SESSION_STREAM_MAX (32u << 20) /* give up streaming after this many bytes */
#define SESSION_ARG_MAX 510

enum session_state {
	SS_GREETING, /* pregreet: final greeting line not yet sent */
	SS_COMMAND,
	SS_DATA,
	SS_REJECTED, /* after a 554 greeting */
	SS_STREAMING,
	SS_CLOSING, /* close once the output has drained */
	SS_DEAD,    /* freed when the callback that killed it returns (session_done) */
};

/* --delay: the output bytes before `end` may leave at `due_us` (FIFO: due times only grow). */
struct sim_mark {
	int64_t due_us;
	size_t end;
};

struct sim_session {
	/* what every read and write touches first, together at the front */
	struct sim_session *next, *prev;
	struct sim *sim;
	struct sim_listener *l;
	const struct sim_behaviour *b;
	enum session_state state;
	int fd;                  /* plain sessions */
	struct bufferevent *bev; /* implicit TLS sessions only */
	struct event *wr_to;     /* plain sessions: write timeout while the socket is full */
	struct event *later_ev;  /* --delay: the next reply falls due */
	bool wr_armed, later_armed; /* socket full (EPOLLOUT asked) / the --delay timer is pending */
	bool in_idle;               /* on sim->idle_head's list (plain sessions that read) */
	struct sim_session *idle_prev, *idle_next; /* by last read, oldest first */
	int64_t last_read_us; /* microseconds: a millisecond clock let the 421 leave up to 1 ms early */
	bool timeouts_off; /* the 421 for an idle client is out: no second timeout */
	char *out; /* reply bytes not yet written, in order: out_inline, or the heap when more */
	size_t outlen, outcap;
	struct sim_mark *marks; /* --delay: when each stretch of out may leave (marks_inline, or heap) */
	size_t nmarks, marks_cap;
	struct sim_mark marks_inline[4];
	int64_t cause_us; /* --delay: when what is being answered arrived */
	struct evbuffer *slow; /* bytes still to trickle out */
	char *part; /* an unfinished input line between reads (at most SESSION_MAX_LINE) */
	size_t partlen;

	struct addr peer;
	char peer_str[ADDR_STRLEN];
	bool drop_at_mail;

	char helo[128];
	bool have_mail;
	char mail_from[SIM_ADDR_MAX];
	char **rcpts; /* normalised recipients of the transaction */
	size_t nrcpt;
	bool last_local; /* the last accepted recipient was one of ours (DATA_LAST_LOCAL) */
	struct evbuffer *msg;
	size_t msg_bytes;
	bool msg_too_big;
	int errors;

	struct event *slow_ev;
	struct event *greet_ev;
	size_t streamed;
	bool greeted; /* the final greeting line has been queued */
	bool net_counted; /* counted in sim->nets (--peaks) */
	char out_inline[1024]; /* a pipelined group's replies fit: no allocation per session */
};

/* Input of the read being handled: one loop thread, one read at a time. */
static char session_rbuf[SESSION_MAX_LINE + 1 + SESSION_READ_MAX];

static void session_kill(struct sim_session *s, const char *why);
static void session_flush(struct sim_session *s);
static void session_idle_unlink(struct sim_session *s);

/* ---- plain sessions: one epoll set of their own, idle clients on one list ---- */

static void
session_idle_unlink(struct sim_session *s)
{
	struct sim *sim = s->sim;

	if (!s->in_idle)
		return;
	if (s->idle_prev)
		s->idle_prev->idle_next = s->idle_next;
	else
		sim->idle_head = s->idle_next;
	if (s->idle_next)
		s->idle_next->idle_prev = s->idle_prev;
	else
		sim->idle_tail = s->idle_prev;
	s->idle_prev = s->idle_next = NULL;
	s->in_idle = false;
}

static void
session_idle_arm(struct sim *sim, int64_t us)
{
	struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};

	evtimer_add(sim->idle_ev, &tv);
}

static int64_t session_clock_us(void);

/*
 * The client sent something: its idle time starts again. One list ordered by
 * the last read, so one timer (at the oldest one's deadline) serves them all.
 */
static void
session_idle_touch(struct sim_session *s)
{
	struct sim *sim = s->sim;

	if (s->timeouts_off)
		return;
	session_idle_unlink(s);
	s->last_read_us = session_clock_us();
	s->idle_prev = sim->idle_tail;
	if (sim->idle_tail)
		sim->idle_tail->idle_next = s;
	else
		sim->idle_head = s;
	sim->idle_tail = s;
	s->in_idle = true;
	if (!evtimer_pending(sim->idle_ev, NULL))
		session_idle_arm(sim, (int64_t)sim->opts.idle_secs * 1000000);
}

static int
session_epoll_set(struct sim_session *s, int op, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = s};

	return epoll_ctl(s->sim->epfd, op, s->fd, &ev);
}

static int64_t
session_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
session_free(struct sim_session *s)
{
	struct sim *sim = s->sim;

	if (s->prev)
		s->prev->next = s->next;
	else
		sim->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	sim->nsessions--;
	if (s->bev) {
		bufferevent_free(s->bev);
	} else {
		session_idle_unlink(s);
		event_del(s->wr_to);
		close(s->fd); /* leaves sim->epfd with it */
	}
	event_del(s->later_ev);
	if (s->slow_ev)
		event_free(s->slow_ev);
	if (s->greet_ev)
		event_free(s->greet_ev);
	if (s->slow)
		evbuffer_free(s->slow);
	if (s->msg)
		evbuffer_free(s->msg);
	for (size_t i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	free(s->part);
	if (s->out != s->out_inline)
		free(s->out);
	if (s->marks != s->marks_inline)
		free(s->marks);
	free(s); /* its events live in the same block, all deleted above */
}

/*
 * Every callback of a session ends here: a session killed while it ran is freed
 * now that nothing of the callback uses it (its events are deleted first, which
 * libevent allows from inside their own callbacks).
 */
static void
session_done(struct sim_session *s)
{
	if (s->state == SS_DEAD)
		session_free(s);
}

/* Marks the session dead; the running callback frees it on its way out (session_done). */
static void
session_kill(struct sim_session *s, const char *why)
{
	if (s->state == SS_DEAD)
		return;
	log_debug("sim_session_end", "listener=%s peer=%s why=%s", s->l->literal, s->peer_str, why);
	s->state = SS_DEAD;
	if (s->net_counted) {
		sim_net_count(s->sim, &s->l->addr, -1);
		s->net_counted = false;
	}
}

static bool
session_output_idle(struct sim_session *s)
{
	return (s->slow == NULL || evbuffer_get_length(s->slow) == 0) && s->outlen == 0 &&
	       (s->bev == NULL || evbuffer_get_length(bufferevent_get_output(s->bev)) == 0);
}

static void
session_close_after_output(struct sim_session *s)
{
	if (s->state == SS_DEAD)
		return;
	s->state = SS_CLOSING;
	/* reading goes on (input is drained): a client that leaves ends the session at once */
	if (session_output_idle(s))
		session_kill(s, "closed");
}

/* ---- output: one buffer, written when the cause has been handled ---- */

/* Appends reply bytes that may leave at due_us (--delay; ignored without it). */
static void
session_out_add(struct sim_session *s, const char *buf, size_t len, int64_t due_us)
{
	if (s->outlen + len > s->outcap) {
		size_t cap = s->outcap * 2;
		while (cap < s->outlen + len)
			cap *= 2;
		if (s->out == s->out_inline) {
			s->out = xmalloc(cap);
			memcpy(s->out, s->out_inline, s->outlen);
		} else {
			s->out = xrealloc(s->out, cap);
		}
		s->outcap = cap;
	}
	memcpy(s->out + s->outlen, buf, len);
	s->outlen += len;
	if (s->sim->opts.delay_ms <= 0)
		return;
	/* due no later than the stretch before it: it leaves with that one (order is kept) */
	if (s->nmarks > 0 && due_us <= s->marks[s->nmarks - 1].due_us) {
		s->marks[s->nmarks - 1].end = s->outlen;
		return;
	}
	if (s->nmarks == s->marks_cap) {
		s->marks_cap *= 2;
		if (s->marks == s->marks_inline) {
			s->marks = xmalloc(s->marks_cap * sizeof(*s->marks));
			memcpy(s->marks, s->marks_inline, sizeof(s->marks_inline));
		} else {
			s->marks = xrealloc(s->marks, s->marks_cap * sizeof(*s->marks));
		}
	}
	s->marks[s->nmarks++] = (struct sim_mark){.due_us = due_us, .end = s->outlen};
}

/* Reply bytes onto the wire: at once, or --delay ms after their cause. */
static void
session_emit(struct sim_session *s, const char *buf, size_t len)
{
	session_out_add(s, buf, len, s->cause_us + (int64_t)s->sim->opts.delay_ms * 1000);
}

/* Bytes outside the reply pace (streams, trickles, the idle 421): due now, behind what is queued. */
static void
session_out_raw(struct sim_session *s, const char *buf, size_t len)
{
	session_out_add(s, buf, len, s->sim->opts.delay_ms > 0 ? session_clock_us() : 0);
}

static void
session_out_consume(struct sim_session *s, size_t n)
{
	size_t k = 0;

	memmove(s->out, s->out + n, s->outlen - n);
	s->outlen -= n;
	for (size_t i = 0; i < s->nmarks; i++) {
		if (s->marks[i].end > n)
			s->marks[k++] = (struct sim_mark){s->marks[i].due_us, s->marks[i].end - n};
	}
	s->nmarks = k;
}

static void
session_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_session *s = arg;

	s->later_armed = false;
	session_flush(s);
	session_done(s);
}

/* How many leading output bytes may leave now; arms the --delay timer for the next stretch. */
static size_t
session_out_ready(struct sim_session *s)
{
	int64_t now;
	size_t i = 0;

	if (s->sim->opts.delay_ms <= 0)
		return s->outlen;
	now = session_clock_us();
	while (i < s->nmarks && s->marks[i].due_us <= now)
		i++;
	if (i < s->nmarks && !s->later_armed) {
		/* libevent may wake a little early (its cached clock): flush checks again */
		int64_t us = s->marks[i].due_us - now;
		struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
		evtimer_add(s->later_ev, &tv);
		s->later_armed = true;
	}
	return i > 0 ? s->marks[i - 1].end : 0;
}

/* The socket is full: wait for room (EPOLLOUT) and start (or restart) the write timeout. */
static void
session_wr_arm(struct sim_session *s)
{
	if (!s->wr_armed) {
		if (session_epoll_set(s, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT) != 0) {
			session_kill(s, "error");
			return;
		}
		s->wr_armed = true;
	}
	if (!s->timeouts_off)
		event_add(s->wr_to, s->sim->idle_tv);
}

static void
session_wr_disarm(struct sim_session *s)
{
	if (!s->wr_armed)
		return;
	s->wr_armed = false;
	event_del(s->wr_to);
	if (session_epoll_set(s, EPOLL_CTL_MOD, EPOLLIN) != 0)
		session_kill(s, "error");
}

/*
 * Writes the first `ready` output bytes: 0 when all left, 1 when the socket is
 * full (the write event is armed), -1 when the session died.
 */
static int
session_out_write(struct sim_session *s, size_t ready)
{
	int flags = MSG_NOSIGNAL;
	ssize_t n;

	if (s->bev != NULL) {
		bufferevent_write(s->bev, s->out, ready);
		session_out_consume(s, ready);
		return 0;
	}
	/*
	 * The last bytes before closing (221, 421, 500): held back so that close()
	 * sends them with its FIN in one segment, as the data and FIN of a server
	 * that closes at once often go; the bytes on the wire are the same.
	 */
	if (s->state == SS_CLOSING && ready == s->outlen &&
	    (s->slow == NULL || evbuffer_get_length(s->slow) == 0))
		flags |= MSG_MORE;
	do
		n = send(s->fd, s->out, ready, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			session_kill(s, "error");
			return -1;
		}
		n = 0;
	}
	session_out_consume(s, (size_t)n);
	if ((size_t)n < ready) {
		session_wr_arm(s); /* again: the write timeout counts from the last progress */
		return s->state == SS_DEAD ? -1 : 1;
	}
	session_wr_disarm(s); /* nothing blocked any more: no write timeout */
	return s->state == SS_DEAD ? -1 : 0;
}

/* ---- streaming replies (endless line, huge multi-line reply) ---- */

static void
session_stream_refill(struct sim_session *s)
{
	char chunk[SESSION_STREAM_CHUNK];
	size_t n = 0;

	if (s->streamed >= SESSION_STREAM_MAX) {
		if (s->b->ehlo == EHLO_HUGE)
			session_out_raw(s, "250 HUGE\r\n", 10);
		session_close_after_output(s);
		return;
	}
	if (s->b->ehlo == EHLO_ENDLESS) {
		memset(chunk, 'A', sizeof(chunk));
		n = sizeof(chunk);
	} else {
		while (n + 64 < sizeof(chunk)) {
			int w =
			    snprintf(chunk + n, sizeof(chunk) - n,
			             "250-X-RELAYSIM-HUGE-REPLY-LINE %010zu\r\n", s->streamed + n);
			if (w < 0)
				break;
			n += (size_t)w;
		}
	}
	s->streamed += n;
	session_out_raw(s, chunk, n);
}

/*
 * Writes what is due; the end of every callback that made output. A stream is
 * refilled while the client takes it (a few chunks per wake-up), and a closing
 * session ends once everything is out.
 */
static void
session_flush(struct sim_session *s)
{
	for (int round = 0; s->state != SS_DEAD; round++) {
		size_t ready = session_out_ready(s);

		if (ready > 0 && session_out_write(s, ready) != 0)
			return; /* blocked (the write event is armed) or dead */
		if (s->outlen > 0)
			return; /* not yet due: the --delay timer is armed */
		if (s->state != SS_STREAMING)
			break;
		if (s->bev != NULL && evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
			return; /* the TLS write callback comes back for more */
		if (round == SESSION_STREAM_ROUNDS) {
			session_wr_arm(s); /* more on the loop's next pass */
			return;
		}
		session_stream_refill(s);
	}
	if (s->state == SS_CLOSING && session_output_idle(s))
		session_kill(s, "closed");
}

static void
session_slow_arm(struct sim_session *s)
{
	struct timeval tv;
	int64_t us = s->b->output == OUT_TARPIT ? (int64_t)s->sim->opts.tarpit_ms * 1000
	                                        : s->sim->opts.split_us;

	tv.tv_sec = us / 1000000;
	tv.tv_usec = us % 1000000;
	event_add(s->slow_ev, &tv);
}

/* Trickle: one byte per tick, each its own write and (TCP_NODELAY) its own segment. */
static void
session_slow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_session *s = arg;
	char c;

	if (s->state == SS_DEAD || evbuffer_remove(s->slow, &c, 1) != 1)
		return;
	session_out_raw(s, &c, 1);
	if (evbuffer_get_length(s->slow) > 0)
		session_slow_arm(s);
	session_flush(s);
	session_done(s);
}

/* Bytes of noise with no reply code in them: digits are never produced. */
static void
session_garbage(struct sim_session *s, size_t len)
{
	static const char noise[] = "\x00\x01\x1b[2J\xff\xfe#?!~ZQXJ\x7f\x80\x9b<>{}|";
	unsigned char rnd[256];
	char out[300];
	size_t n = len < sizeof(rnd) ? len : sizeof(rnd);

	random_bytes(rnd, n);
	for (size_t i = 0; i < n; i++)
		out[i] = noise[rnd[i] % (sizeof(noise) - 1)];
	out[n++] = '\r';
	out[n++] = '\n';
	session_emit(s, out, n);
}

/* Writes raw reply bytes through the behaviour's output mode. */
static void
session_send(struct sim_session *s, const char *buf, size_t len)
{
	if (s->state == SS_DEAD)
		return;
	switch (s->b->output) {
	case OUT_NORMAL:
		session_emit(s, buf, len);
		break;
	case OUT_GARBAGE:
		if (!s->greeted)
			session_emit(s, buf, len); /* the greeting stays readable */
		else
			session_garbage(s, len + 20);
		break;
	case OUT_TARPIT:
	case OUT_SPLIT: {
		bool idle = evbuffer_get_length(s->slow) == 0;
		evbuffer_add(s->slow, buf, len);
		if (idle && !event_pending(s->slow_ev, EV_TIMEOUT, NULL))
			session_slow_arm(s);
		break;
	}
	}
}

static void session_reply(struct sim_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One reply line; a 4xx/5xx counts towards the error limit. */
static void
session_reply(struct sim_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (strchr(fmt, '%') == NULL) {
		/* most replies are constant: no formatting */
		n = (int)strnlen(fmt, sizeof(line) - 3);
		memcpy(line, fmt, (size_t)n);
	} else {
		va_start(ap, fmt);
		n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
	}
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	if ((line[0] == '4' || line[0] == '5') && line[3] == ' ')
		s->errors++;
	session_send(s, line, (size_t)n);
}

static void
session_reset_transaction(struct sim_session *s)
{
	s->have_mail = false;
	s->mail_from[0] = '\0';
	for (size_t i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	s->nrcpt = 0;
	s->last_local = false;
	if (s->msg)
		evbuffer_drain(s->msg, evbuffer_get_length(s->msg));
	s->msg_bytes = 0;
	s->msg_too_big = false;
}

/* ---- commands ---- */

/* The name in the greeting and the EHLO/HELO reply: none with --anonymous. */
static const char *
shown_name(const struct sim_session *s)
{
	return s->sim->opts.anonymous ? "relaysim" : s->l->name;
}

/* The greeting names this host itself: its name, its address literal, or localhost. */
static bool
helo_is_self(const struct sim_session *s, const char *name)
{
	return strcasecmp(name, s->l->name) == 0 || strcasecmp(name, s->l->literal) == 0 ||
	       strcasecmp(name, "localhost") == 0;
}

static void
cmd_ehlo(struct sim_session *s, const char *arg)
{

	if (s->b->ehlo == EHLO_REFUSE_SELF && helo_is_self(s, arg)) {
		s->helo[0] = '\0';
		session_reply(s, "550 5.7.1 <%s>: Helo command rejected: you are not me", arg);
		return;
	}
	snprintf(s->helo, sizeof(s->helo), "%s", *arg ? arg : "unknown");
	session_reset_transaction(s);
	switch (s->b->ehlo) {
	case EHLO_REFUSED:
		s->helo[0] = '\0';
		session_reply(s, "502 5.5.2 Error: command not recognized");
		return;
	case EHLO_ENDLESS:
		session_out_raw(s, "250-", 4);
		s->state = SS_STREAMING;
		session_stream_refill(s);
		return;
	case EHLO_HUGE:
		s->state = SS_STREAMING;
		session_stream_refill(s);
		return;
	case EHLO_NORMAL:
	case EHLO_REFUSE_SELF:
		break;
	}
	char buf[512];
	int n = snprintf(buf, sizeof(buf),
	                 "250-%s\r\n250-PIPELINING\r\n250-SIZE %zu\r\n%s250-8BITMIME\r\n"
	                 "250 ENHANCEDSTATUSCODES\r\n",
	                 shown_name(s), s->sim->opts.max_size,
	                 s->b->relay == RELAY_AUTH ? "250-AUTH PLAIN LOGIN\r\n" : "");
	if (n > 0 && (size_t)n < sizeof(buf))
		session_send(s, buf, (size_t)n);
}

static void
cmd_helo(struct sim_session *s, const char *arg)
{
	if (s->b->ehlo == EHLO_REFUSE_SELF && helo_is_self(s, arg)) {
		s->helo[0] = '\0';
		session_reply(s, "550 5.7.1 <%s>: Helo command rejected: you are not me", arg);
		return;
	}
	snprintf(s->helo, sizeof(s->helo), "%s", *arg ? arg : "unknown");
	session_reset_transaction(s);
	session_reply(s, "250 %s", shown_name(s));
}

/* "FROM:<x> params" / "TO:<x> params" -> the part after the colon, or NULL. */
static const char *
cmd_path_arg(const char *arg, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncasecmp(arg, prefix, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return *arg ? arg : NULL;
}

static void
cmd_mail(struct sim_session *s, const char *arg)
{
	const char *path = cmd_path_arg(arg, "FROM:");

	if (s->drop_at_mail) {
		session_kill(s, "drop_at_mail");
		return;
	}
	if (s->b->relay == RELAY_AUTH) {
		session_reply(s, "530 5.7.0 Authentication required");
		return;
	}
	if (s->have_mail) {
		session_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (path == NULL) {
		session_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	size_t len = strcspn(path, " ");
	snprintf(s->mail_from, sizeof(s->mail_from), "%.*s", (int)len, path);
	s->have_mail = true;
	session_reply(s, "250 2.1.0 Ok");
}

static void
rcpt_refuse_local(struct sim_session *s, const struct sim_rcpt *r, bool *ok)
{
	if (strcasecmp(r->local, "postmaster") == 0 || strcasecmp(r->local, "abuse") == 0)
		*ok = true;
	else
		session_reply(s, "550 5.1.1 <%s>: Recipient address rejected: User unknown",
		              r->final);
}

/* The sender's domain is one --trust-domain names (exactly, as a hash table would). */
static bool
sender_trusted(const struct sim_session *s)
{
	const char *at = strrchr(s->mail_from, '@');
	size_t len;

	if (at == NULL)
		return false;
	at++;
	len = strcspn(at, ">");
	for (size_t i = 0; i < s->sim->opts.ntrust_domains; i++) {
		const char *d = s->sim->opts.trust_domains[i];

		if (strlen(d) == len && strncasecmp(at, d, len) == 0)
			return true;
	}
	return false;
}

/*
 * The relay rules keyed on something other than the recipient: the sender's
 * domain, or the client's greeting (RELAY_TRUST_*). True when they let it through.
 */
static bool
relay_trusted(const struct sim_session *s, enum sim_relay relay)
{
	switch (relay) {
	case RELAY_TRUST_SENDER: return sender_trusted(s);
	case RELAY_TRUST_HELO_HOST: return strcasecmp(s->helo, s->l->name) == 0;
	case RELAY_TRUST_HELO_LITERAL: return strcasecmp(s->helo, s->l->literal) == 0;
	case RELAY_TRUST_HELO_LOCALHOST: return strcasecmp(s->helo, "localhost") == 0;
	default: return false;
	}
}

/* The relay policy for a recipient that is not one of ours. */
static void
rcpt_relay_policy(struct sim_session *s, const char *path, const struct sim_rcpt *r, bool *ok)
{
	enum sim_relay relay = s->b->relay;
	int plen = (int)strcspn(path, " ");

	if (plen > 200)
		plen = 200;

	if (relay == RELAY_GREYLIST || relay == RELAY_GREYLIST_OPEN) {
		char key[3 * SIM_ADDR_MAX];
		int n = snprintf(key, sizeof(key), "%s|%s|%s|%s", s->l->literal, s->peer_str,
		                 s->mail_from, path);
		if (n < 0 || (size_t)n >= sizeof(key))
			n = (int)sizeof(key) - 1;
		if (!sim_greylist_pass(s->sim->grey, key, (size_t)n, now_mono_ms())) {
			session_reply(s,
			              "450 4.7.1 %.*s: Recipient address rejected: "
			              "Greylisted, try again in %d seconds",
			              plen, path, s->sim->opts.greylist_secs);
			return;
		}
		relay = relay == RELAY_GREYLIST ? RELAY_CLOSED : RELAY_OPEN;
	}
	switch (relay) {
	case RELAY_OPEN:
		*ok = true;
		return;
	case RELAY_PERCENT:
		if (r->kind == RCPT_KIND_PERCENT) {
			*ok = true;
			return;
		}
		break;
	case RELAY_DEFER:
		session_reply(s, "454 4.7.1 %.*s: Relay access denied", plen, path);
		return;
	case RELAY_TEMPFAIL:
		session_reply(s, "451 4.3.0 %.*s: Temporary lookup failure", plen, path);
		return;
	case RELAY_AUTH:
		session_reply(s, "530 5.7.0 Authentication required");
		return;
	case RELAY_TRUST_SENDER:
	case RELAY_TRUST_HELO_HOST:
	case RELAY_TRUST_HELO_LITERAL:
	case RELAY_TRUST_HELO_LOCALHOST:
		if (relay_trusted(s, relay)) {
			*ok = true;
			return;
		}
		break;
	case RELAY_CLOSED:
	case RELAY_GREYLIST:
	case RELAY_GREYLIST_OPEN:
		break;
	}
	session_reply(s, "554 5.7.1 %.*s: Relay access denied", plen, path);
}

static void
cmd_rcpt(struct sim_session *s, const char *arg)
{
	const char *path = cmd_path_arg(arg, "TO:");
	struct sim_rcpt r;
	bool ok = false;

	if (s->b->relay == RELAY_AUTH) {
		session_reply(s, "530 5.7.0 Authentication required");
		return;
	}
	if (!s->have_mail) {
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (path == NULL) {
		session_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (s->nrcpt >= s->sim->opts.max_rcpts) {
		session_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	sim_rcpt_parse(path, s->l->name, s->l->literal, &r);
	if (r.kind == RCPT_KIND_INVALID) {
		session_reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (r.kind == RCPT_KIND_LOCAL && s->b->relay != RELAY_OPEN)
		rcpt_refuse_local(s, &r, &ok);
	else
		rcpt_relay_policy(s, path, &r, &ok);
	if (!ok)
		return;
	s->last_local = r.kind == RCPT_KIND_LOCAL;
	if (s->last_local && s->b->data == DATA_LAST_LOCAL) {
		/* delivered here, never forwarded */
		session_reply(s, "250 2.1.5 Ok");
		return;
	}
	s->rcpts = xrealloc(s->rcpts, (s->nrcpt + 1) * sizeof(*s->rcpts));
	s->rcpts[s->nrcpt++] = xstrdup(r.final);
	session_reply(s, "250 2.1.5 Ok");
}

static void
cmd_data(struct sim_session *s, const char *arg)
{
	if (!s->have_mail) {
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpt == 0) {
		session_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (s->b->data == DATA_REJECT_CMD) {
		session_reply(s, "554 5.7.1 Error: message refused");
		return;
	}
	if (s->b->data == DATA_LAST_LOCAL && !s->last_local) {
		session_reply(s, "554 5.7.1 <%s>: Relay access denied", s->rcpts[s->nrcpt - 1]);
		return;
	}
	if (s->msg == NULL)
		s->msg = evbuffer_new();
	s->state = SS_DATA;
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
cmd_rset(struct sim_session *s, const char *arg)
{
	session_reset_transaction(s);
	session_reply(s, "250 2.0.0 Ok");
}

static void
cmd_noop(struct sim_session *s, const char *arg)
{
	session_reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct sim_session *s, const char *arg)
{
	session_reply(s, "221 2.0.0 Bye");
	session_close_after_output(s);
}

static void
cmd_vrfy(struct sim_session *s, const char *arg)
{
	session_reply(s, "252 2.0.0 Cannot VRFY user");
}

static void
cmd_auth(struct sim_session *s, const char *arg)
{
	session_reply(s, "535 5.7.8 Error: authentication failed");
}

static void
cmd_starttls(struct sim_session *s, const char *arg)
{
	session_reply(s, "454 4.7.0 TLS not available");
}

static const struct {
	const char *verb;
	void (*fn)(struct sim_session *s, const char *arg);
} commands[] = {
    {"EHLO", cmd_ehlo}, {"HELO", cmd_helo}, {"MAIL", cmd_mail},         {"RCPT", cmd_rcpt},
    {"DATA", cmd_data}, {"RSET", cmd_rset}, {"NOOP", cmd_noop},         {"QUIT", cmd_quit},
    {"VRFY", cmd_vrfy}, {"AUTH", cmd_auth}, {"STARTTLS", cmd_starttls},
};

static void
session_command(struct sim_session *s, char *line)
{
	char *arg = line + strcspn(line, " ");

	if (*arg)
		*arg++ = '\0';
	if (s->b->error_limit && s->errors >= s->sim->opts.errors) {
		session_reply(s, "421 4.7.0 %s Error: too many errors", s->l->name);
		session_close_after_output(s);
		return;
	}
	if (s->state == SS_REJECTED) {
		if (strcasecmp(line, "QUIT") == 0)
			cmd_quit(s, arg);
		else
			session_reply(s, "503 5.5.1 Error: no SMTP service here");
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
		/* the first letter (ASCII, either case) before the whole verb */
		if ((line[0] | 0x20) == (commands[i].verb[0] | 0x20) &&
		    strcasecmp(line, commands[i].verb) == 0) {
			commands[i].fn(s, arg);
			return;
		}
	}
	session_reply(s, "502 5.5.2 Error: command not recognized");
}

/* ---- message data ---- */

/* For the mailbox behaviour: one log line per message, each header line censored. */
static void
session_log_message(struct sim_session *s)
{
	char rcpts[1024] = "", hdr[2048] = "", c[512];
	size_t rl = 0, hl = 0;

	for (size_t i = 0; i < s->nrcpt && rl + 2 < sizeof(rcpts); i++) {
		int n = snprintf(rcpts + rl, sizeof(rcpts) - rl, "%s%s", i ? "," : "", s->rcpts[i]);
		if (n < 0 || (size_t)n >= sizeof(rcpts) - rl)
			break;
		rl += (size_t)n;
	}
	/* Header lines up to the blank line, joined with '|'. */
	for (int i = 0; i < 40; i++) {
		size_t len;
		char *line = evbuffer_readln(s->msg, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL || len == 0) {
			free(line);
			break;
		}
		log_censor(c, sizeof(c), line, len);
		free(line);
		int n = snprintf(hdr + hl, sizeof(hdr) - hl, "%s%s", i ? "|" : "", c);
		if (n < 0 || (size_t)n >= sizeof(hdr) - hl)
			break;
		hl += (size_t)n;
	}
	log_censor(c, sizeof(c), s->mail_from, strlen(s->mail_from));
	log_info("sim_message", "listener=%s peer=%s from=\"%s\" rcpts=\"%s\" headers=\"%s\"",
	         s->l->literal, s->peer_str, c, rcpts, hdr);
}

static void
session_end_of_data(struct sim_session *s)
{
	struct sim *sim = s->sim;

	s->state = SS_COMMAND;
	if (s->msg_too_big) {
		session_reply(s, "552 5.3.4 Error: message file too big");
	} else if (s->b->data == DATA_REJECT_EOD) {
		session_reply(s, "554 5.7.1 Error: message content rejected");
	} else if (s->b->data == DATA_LOG) {
		session_log_message(s);
		session_reply(s, "250 2.0.0 Ok: delivered");
	} else if ((s->b->data == DATA_ACCEPT || s->b->data == DATA_LAST_LOCAL) && sim->fwd != NULL) {
		struct evbuffer *body = evbuffer_new();
		char date[64];
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
		/* Its own address after its name, as Exchange writes it: the sink's Received check. */
		evbuffer_add_printf(body,
		                    "Received: from %s (%s [%s])\r\n\tby %s (%s) (relaysim) with ESMTP;"
		                    " %s\r\n",
		                    s->helo[0] ? s->helo : "unknown", s->peer_str, s->peer_str,
		                    s->l->name, s->l->literal, date);
		evbuffer_add_buffer(body, s->msg);
		if (sim_forward_submit(sim->fwd, s->mail_from, s->rcpts, s->nrcpt, body) == 0)
			session_reply(s, "250 2.0.0 Ok: queued");
		else
			session_reply(s, "451 4.3.0 Error: queue full, try again later");
	} else {
		session_reply(s, "250 2.0.0 Ok: queued");
	}
	session_reset_transaction(s);
}

static void
session_data_line(struct sim_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '.') {
		session_end_of_data(s);
		return;
	}
	s->msg_bytes += len + 2;
	if (s->msg_bytes > s->sim->opts.max_size) {
		s->msg_too_big = true;
		return;
	}
	evbuffer_add(s->msg, line, len);
	evbuffer_add(s->msg, "\r\n", 2);
}

/* ---- input ---- */

static void
session_line_too_long(struct sim_session *s)
{
	session_reply(s, "500 5.5.0 Error: line too long");
	session_close_after_output(s);
}

/*
 * Handles every complete line of buf (lines end in LF or CRLF); an unfinished
 * last line is kept for the next read. buf is the read buffer and is written to.
 */
static void
session_input(struct sim_session *s, char *buf, size_t len)
{
	size_t pos = 0;

	if (s->state == SS_GREETING) {
		log_info("sim_pregreet", "listener=%s peer=%s", s->l->literal, s->peer_str);
		session_kill(s, "pregreet");
		return;
	}
	while (pos < len) {
		char *line = buf + pos, *nl;
		size_t n;

		if (s->state != SS_COMMAND && s->state != SS_DATA && s->state != SS_REJECTED)
			return; /* after QUIT, during a stream, dead: input is drained */
		nl = memchr(line, '\n', len - pos);
		if (nl == NULL) {
			n = len - pos;
			if (n > SESSION_MAX_LINE) {
				session_line_too_long(s);
				return;
			}
			if (s->part == NULL)
				s->part = xmalloc(SESSION_MAX_LINE + 1);
			memcpy(s->part, line, n);
			s->partlen = n;
			return;
		}
		pos = (size_t)(nl - buf) + 1;
		n = (size_t)(nl - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > SESSION_MAX_LINE) {
			session_line_too_long(s);
			return;
		}
		line[n] = '\0';
		if (s->state == SS_DATA)
			session_data_line(s, line, n);
		else
			session_command(s, line);
	}
}

/* The client said nothing (or took nothing) for --idle-secs. */
static void
session_timeout(struct sim_session *s)
{
	if (s->state != SS_COMMAND && s->state != SS_DATA) {
		session_kill(s, "timeout");
		return;
	}
	s->timeouts_off = true;
	if (s->bev != NULL) {
		bufferevent_set_timeouts(s->bev, NULL, NULL);
	} else {
		session_idle_unlink(s);
		event_del(s->wr_to);
	}
	session_out_raw(s, "421 4.4.2 Error: timeout exceeded\r\n", 35);
	session_close_after_output(s);
	session_flush(s);
}

/* Plain sessions: what arrived (a few reads' worth), then one write of all it caused. */
static void
session_readable(struct sim_session *s)
{
	int fd = s->fd;

	for (int i = 0; i < SESSION_READS_PER_WAKE && s->state != SS_DEAD; i++) {
		size_t have = s->partlen;
		ssize_t n;

		if (have > 0)
			memcpy(session_rbuf, s->part, have);
		do
			n = recv(fd, session_rbuf + have, SESSION_READ_MAX, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			session_kill(s, n == 0 ? "eof" : "error");
			break;
		}
		s->partlen = 0;
		if (i == 0)
			session_idle_touch(s);
		if (s->sim->opts.delay_ms > 0)
			s->cause_us = session_clock_us();
		session_input(s, session_rbuf, have + (size_t)n);
		if (n < SESSION_READ_MAX)
			break; /* the socket is drained: no read() just to hear EAGAIN */
	}
	session_flush(s);
}

/*
 * The plain sessions' epoll set is readable: every ready session in one pass,
 * without an event (and its epoll_ctl() calls) per session in libevent.
 */
static void
session_epoll_cb(evutil_socket_t epfd, short what, void *arg)
{
	struct epoll_event evs[SESSION_EPOLL_BATCH];
	int n;

	do
		n = epoll_wait(epfd, evs, SESSION_EPOLL_BATCH, 0);
	while (n < 0 && errno == EINTR);
	for (int i = 0; i < n; i++) {
		struct sim_session *s = evs[i].data.ptr;

		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			session_readable(s); /* EOF and errors show in recv() */
		else if (evs[i].events & EPOLLOUT)
			session_flush(s);
		session_done(s);
	}
}

/* A client silent for --idle-secs (the oldest first), then the timer for the next one. */
static void
session_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	int64_t limit = (int64_t)sim->opts.idle_secs * 1000000, now = session_clock_us();

	/* libevent's timer may wake a little early: the clock decides, never the timer */
	while (sim->idle_head != NULL && sim->idle_head->last_read_us + limit <= now) {
		struct sim_session *s = sim->idle_head;

		session_idle_unlink(s);
		session_timeout(s);
		session_done(s);
	}
	if (sim->idle_head != NULL)
		session_idle_arm(sim, sim->idle_head->last_read_us + limit - now);
}

/* The socket stayed full for --idle-secs. */
static void
session_wr_to_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_session *s = arg;

	session_timeout(s);
	session_done(s);
}

static void
session_epoll_init(struct sim *sim)
{
	sim->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sim->epfd < 0)
		fatal("epoll_create1: %s", strerror(errno));
	sim->ep_ev = event_new(sim->base, sim->epfd, EV_READ | EV_PERSIST, session_epoll_cb, sim);
	sim->idle_ev = evtimer_new(sim->base, session_idle_cb, sim);
	if (sim->ep_ev == NULL || sim->idle_ev == NULL)
		fatal("event_new failed");
	/*
	 * --peaks: sessions before listeners, so that a connection's end is seen
	 * before its successor's start (a busy farm would starve its listeners so)
	 */
	if (sim->count_nets)
		event_priority_set(sim->ep_ev, 0);
	event_add(sim->ep_ev, NULL);
}

/* Implicit TLS sessions: the same, through the OpenSSL bufferevent. */
static void
session_bev_read_cb(struct bufferevent *bev, void *arg)
{
	struct sim_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (int i = 0; i < SESSION_READS_PER_WAKE && s->state != SS_DEAD &&
	                evbuffer_get_length(in) > 0;
	     i++) {
		size_t have = s->partlen;
		int n;

		if (have > 0)
			memcpy(session_rbuf, s->part, have);
		n = evbuffer_remove(in, session_rbuf + have, SESSION_READ_MAX);
		if (n <= 0)
			break;
		s->partlen = 0;
		if (s->sim->opts.delay_ms > 0)
			s->cause_us = session_clock_us();
		session_input(s, session_rbuf, have + (size_t)n);
	}
	if (s->state != SS_COMMAND && s->state != SS_DATA && s->state != SS_REJECTED)
		evbuffer_drain(in, evbuffer_get_length(in));
	else if (evbuffer_get_length(in) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
	session_flush(s);
	session_done(s);
}

static void
session_bev_write_cb(struct bufferevent *bev, void *arg)
{
	struct sim_session *s = arg;

	session_flush(s);
	session_done(s);
}

static void
session_bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sim_session *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return; /* implicit TLS: the handshake is done, the greeting goes out */
	if (what & BEV_EVENT_TIMEOUT)
		session_timeout(s);
	else
		session_kill(s, what & BEV_EVENT_EOF ? "eof" : "error");
	session_done(s);
}

/* ---- greeting ---- */

static void
session_greet_final_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_session *s = arg;

	if (s->state != SS_GREETING)
		return;
	s->state = SS_COMMAND;
	if (s->sim->opts.delay_ms > 0)
		s->cause_us = session_clock_us();
	session_reply(s, "220 %s ESMTP relaysim", shown_name(s));
	s->greeted = true;
	session_flush(s);
	session_done(s);
}

static void
session_greet(struct sim_session *s)
{
	struct sim_listener *l = s->l;

	switch (s->b->greet) {
	case GREET_NORMAL:
		s->state = SS_COMMAND;
		session_reply(s, "220 %s ESMTP relaysim", shown_name(s));
		s->greeted = true;
		break;
	case GREET_REJECT:
		s->state = SS_REJECTED;
		session_reply(s, "554 5.7.1 %s relaysim: no SMTP service for you", l->name);
		break;
	case GREET_PREGREET: {
		struct timeval tv = {s->sim->opts.pregreet_ms / 1000,
		                     (s->sim->opts.pregreet_ms % 1000) * 1000};
		s->state = SS_GREETING;
		session_send(s, "220-", 4);
		session_send(s, l->name, strlen(l->name));
		session_send(s, " relaysim: please wait for the final greeting line\r\n", 52);
		s->greet_ev = evtimer_new(s->sim->base, session_greet_final_cb, s);
		evtimer_add(s->greet_ev, &tv);
		break;
	}
	}
}

/* Accepted sockets inherit TCP_NODELAY from the listener on Linux; checked once, else set. */
static void
session_nodelay(int fd)
{
	static int inherited = -1;
	int one = 1, v = 0;
	socklen_t len = sizeof(v);

	if (inherited < 0)
		inherited = getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v != 0;
	if (!inherited)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void
sim_session_start(struct sim_listener *l, int fd, const struct sockaddr *peer)
{
	struct sim *sim = l->sim;
	struct sim_session *s;
	/* the session's three events live in its own block: one allocation per session */
	size_t evsz = (event_get_struct_event_size() + 15) & ~(size_t)15;
	bool tls = sim->tls != NULL && l->port == sim->opts.tls_port;
	int port;

	if (sim->nsessions >= sim->opts.max_sessions) {
		/* One line per thousand refusals: a flood must not turn into a log flood. */
		if (sim->refused_total++ % 1000 == 0)
			log_warn("sim_session_refused",
			         "listener=%s why=max_sessions refused_total=%llu", l->literal,
			         (unsigned long long)sim->refused_total);
		close(fd);
		return;
	}
	if (sim->idle_tv == NULL) {
		/* one duration for every session: libevent queues these instead of a heap */
		struct timeval idle = {sim->opts.idle_secs, 0};
		sim->idle_tv = event_base_init_common_timeout(sim->base, &idle);
		if (sim->idle_tv == NULL)
			fatal("event_base_init_common_timeout failed");
	}
	if (sim->ep_ev == NULL)
		session_epoll_init(sim);
	s = xcalloc(1, sizeof(*s) + 2 * evsz);
	s->later_ev = (struct event *)(void *)((char *)s + sizeof(*s));
	s->wr_to = (struct event *)(void *)((char *)s + sizeof(*s) + evsz);
	s->fd = fd;
	s->out = s->out_inline;
	s->outcap = sizeof(s->out_inline);
	s->marks = s->marks_inline;
	s->marks_cap = ARRAY_LEN(s->marks_inline);
	s->sim = sim;
	s->l = l;
	s->b = l->b;
	l->connections++;
	sim->accepted_total++;
	s->drop_at_mail =
	    s->b->drop == DROP_AT_MAIL || (s->b->drop == DROP_AT_MAIL_FIRST && l->connections == 1);
	if (addr_from_sockaddr(peer, &s->peer, &port) == 0)
		addr_format(&s->peer, s->peer_str, sizeof(s->peer_str));
	else
		snprintf(s->peer_str, sizeof(s->peer_str), "unknown");
	session_nodelay(fd);
	if (tls) {
		/* implicit TLS: the greeting waits in the output until the handshake is done */
		SSL *ssl = SSL_new(sim->tls);

		s->bev = ssl ? bufferevent_openssl_socket_new(sim->base, fd, ssl,
		                                              BUFFEREVENT_SSL_ACCEPTING,
		                                              BEV_OPT_CLOSE_ON_FREE)
		             : NULL;
		if (s->bev == NULL && ssl != NULL)
			SSL_free(ssl);
		if (s->bev == NULL) {
			close(fd);
			free(s);
			return;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	} else {
		evtimer_assign(s->wr_to, sim->base, session_wr_to_cb, s);
		if (session_epoll_set(s, EPOLL_CTL_ADD, EPOLLIN) != 0) {
			log_warn("sim_session_refused", "listener=%s why=epoll error=%s", l->literal,
			         strerror(errno));
			close(fd);
			free(s);
			return;
		}
	}
	evtimer_assign(s->later_ev, sim->base, session_later_cb, s);
	if (s->b->output == OUT_TARPIT || s->b->output == OUT_SPLIT) {
		s->slow = evbuffer_new();
		s->slow_ev = evtimer_new(sim->base, session_slow_cb, s);
	}
	s->next = sim->sessions;
	if (sim->sessions)
		sim->sessions->prev = s;
	sim->sessions = s;
	sim->nsessions++;
	if (sim->count_nets) {
		sim_net_count(sim, &l->addr, +1);
		s->net_counted = true;
	}
	if (s->bev != NULL) {
		struct timeval idle = {sim->opts.idle_secs, 0};

		/* --peaks: sessions before listeners (see below) */
		if (sim->count_nets)
			bufferevent_priority_set(s->bev, 0);
		bufferevent_setcb(s->bev, session_bev_read_cb, session_bev_write_cb,
		                  session_bev_event_cb, s);
		bufferevent_set_timeouts(s->bev, &idle, &idle);
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	} else {
		session_idle_touch(s); /* the idle time counts from the connection */
	}
	log_debug("sim_session_start", "listener=%s peer=%s behaviour=%s", l->literal, s->peer_str,
	          s->b->name);
	if (sim->opts.delay_ms > 0)
		s->cause_us = session_clock_us();
	session_greet(s);
	session_flush(s);
	session_done(s);
}

void
sim_session_free_all(struct sim *sim)
{
	while (sim->sessions)
		session_free(sim->sessions);
	if (sim->ep_ev != NULL) {
		event_free(sim->ep_ev);
		event_free(sim->idle_ev);
		close(sim->epfd);
		sim->ep_ev = sim->idle_ev = NULL;
	}
}

void
sim_net_count(struct sim *sim, const struct addr *listener, int delta)
{
	uint64_t key = addr_net_key(listener);
	size_t i;

	/* a handful of networks in a test: a linear search is enough */
	for (i = 0; i < sim->nnets && sim->nets[i].key != key; i++)
		;
	if (i == sim->nnets) {
		if (sim->nnets == sim->nets_cap) {
			sim->nets_cap = sim->nets_cap ? sim->nets_cap * 2 : 16;
			sim->nets = xrealloc(sim->nets, sim->nets_cap * sizeof(*sim->nets));
		}
		sim->nets[i] = (struct sim_net_count){.key = key, .net = *listener};
		sim->nnets++;
	}
	sim->nets[i].cur += delta;
	if (sim->nets[i].cur > sim->nets[i].peak)
		sim->nets[i].peak = sim->nets[i].cur;
}
