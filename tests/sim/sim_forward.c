/*
 * What makes the "open" behaviour a real relay: accepted messages are queued
 * and delivered over SMTP to the --sink address (and nowhere else), on a few
 * reused connections, with bounded queue, replies and retries.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "tests/sim/sim.h"

#define FWD_MAX_CONNS 16
#define FWD_MAX_JOBS 4096
#define FWD_MAX_BYTES (64u << 20)
#define FWD_MAX_TRIES 3
#define FWD_REPLY_LINE 2048
#define FWD_REPLY_LINES 100
#define FWD_TIMEOUT_SECS 30

struct fwd_job {
	struct fwd_job *next;
	char *from;
	char **rcpts;
	size_t nrcpt;
	struct evbuffer *body;
	size_t bytes;
	int tries;
};

enum fwd_state {
	FS_GREETING,
	FS_EHLO,
	FS_HELO,
	FS_MAIL,
	FS_RCPT,
	FS_DATA,
	FS_EOD,
	FS_RSET,
	FS_QUIT
};

struct fwd_conn {
	struct fwd_conn *next, *prev;
	struct sim_forward *f;
	struct bufferevent *bev;
	enum fwd_state state;
	struct fwd_job *job;
	size_t rcpt_i;
	size_t rcpt_ok;
	int reply_lines;
	bool took; /* has left the pool of connections waiting for a first job */
	bool dead;
};

struct sim_forward {
	struct event_base *base;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char sink_str[ADDR_STRLEN + 8];
	char *helo;
	struct fwd_job *head, *tail;
	size_t njobs, bytes;
	struct fwd_conn *conns;
	int nconns;
	int nidle; /* connections still on their way to take a first job */
	struct event *retry_ev;
	uint64_t sent, failed;
};

static void fwd_dispatch(struct sim_forward *f);

static void
fwd_job_free(struct fwd_job *j)
{
	if (j == NULL)
		return;
	free(j->from);
	for (size_t i = 0; i < j->nrcpt; i++)
		free(j->rcpts[i]);
	free(j->rcpts);
	evbuffer_free(j->body);
	free(j);
}

static struct fwd_job *
fwd_pop(struct sim_forward *f)
{
	struct fwd_job *j = f->head;

	if (j == NULL)
		return NULL;
	f->head = j->next;
	if (f->head == NULL)
		f->tail = NULL;
	j->next = NULL;
	f->njobs--;
	f->bytes -= j->bytes;
	return j;
}

static void
fwd_push_front(struct sim_forward *f, struct fwd_job *j)
{
	j->next = f->head;
	f->head = j;
	if (f->tail == NULL)
		f->tail = j;
	f->njobs++;
	f->bytes += j->bytes;
}

static void
fwd_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwd_conn *c = arg;
	struct sim_forward *f = c->f;

	if (c->prev)
		c->prev->next = c->next;
	else
		f->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
}

/* A failure charges a try to the job that was (or would have been) on the connection. */
static void
fwd_charge(struct sim_forward *f, struct fwd_job *j, const char *why)
{
	struct timeval tv = {1, 0};

	if (++j->tries < FWD_MAX_TRIES) {
		log_info("sim_forward_retry", "sink=%s why=%s tries=%d", f->sink_str, why,
		         j->tries);
		event_add(f->retry_ev, &tv);
		return;
	}
	log_warn("sim_forward_failed", "sink=%s why=%s", f->sink_str, why);
	f->failed++;
	if (j == f->head)
		fwd_job_free(fwd_pop(f));
	else
		fwd_job_free(j);
}

/* Ends a connection; the job it held goes back to the front of the queue. */
static void
fwd_conn_end(struct fwd_conn *c, const char *why)
{
	static const struct timeval now = {0, 0};
	struct sim_forward *f = c->f;

	if (c->dead)
		return;
	c->dead = true;
	f->nconns--;
	if (!c->took)
		f->nidle--;
	if (c->job != NULL) {
		fwd_push_front(f, c->job);
		c->job = NULL;
		fwd_charge(f, f->head, why);
	} else if (c->state != FS_QUIT && f->head != NULL) {
		fwd_charge(f, f->head, why); /* the sink could not even be reached */
	}
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (event_base_once(f->base, -1, EV_TIMEOUT, fwd_conn_free_cb, c, &now) != 0)
		fatal("event_base_once failed");
	fwd_dispatch(f);
}

static void fwd_send(struct fwd_conn *c, enum fwd_state next, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fwd_send(struct fwd_conn *c, enum fwd_state next, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	c->state = next;
}

/* Starts the next job on this connection, or says goodbye. */
static void
fwd_next_job(struct fwd_conn *c)
{
	struct sim_forward *f = c->f;

	if (!c->took) {
		c->took = true;
		f->nidle--;
	}
	fwd_job_free(c->job);
	c->job = fwd_pop(f);
	if (c->job == NULL) {
		fwd_send(c, FS_QUIT, "QUIT\r\n");
		return;
	}
	c->rcpt_i = c->rcpt_ok = 0;
	fwd_send(c, FS_MAIL, "MAIL FROM:%s\r\n", c->job->from[0] ? c->job->from : "<>");
}

static void
fwd_send_rcpt(struct fwd_conn *c)
{
	char buf[SIM_ADDR_MAX + 16];

	snprintf(buf, sizeof(buf), "<%s>", c->job->rcpts[c->rcpt_i]);
	fwd_send(c, FS_RCPT, "RCPT TO:%s\r\n", buf);
}

/* A permanent refusal: retrying cannot help, so the job is dropped and the connection goes on. */
static int
fwd_refused(struct fwd_conn *c, int code)
{
	log_warn("sim_forward_refused", "sink=%s code=%d", c->f->sink_str, code);
	c->f->failed++;
	fwd_send(c, FS_RSET, "RSET\r\n");
	return 0;
}

/* Acts on one complete reply; 0 to go on, -1 when the connection is done for (4xx: retried). */
static int
fwd_reply(struct fwd_conn *c, int code)
{
	struct sim_forward *f = c->f;

	switch (c->state) {
	case FS_GREETING:
		if (code != 220)
			return -1;
		fwd_send(c, FS_EHLO, "EHLO %s\r\n", f->helo);
		return 0;
	case FS_EHLO:
		if (code / 100 == 2) {
			fwd_next_job(c);
			return 0;
		}
		fwd_send(c, FS_HELO, "HELO %s\r\n", f->helo);
		return 0;
	case FS_HELO:
		if (code / 100 != 2)
			return -1;
		fwd_next_job(c);
		return 0;
	case FS_MAIL:
		if (code / 100 == 5)
			return fwd_refused(c, code);
		if (code / 100 != 2)
			return -1;
		fwd_send_rcpt(c);
		return 0;
	case FS_RCPT:
		if (code / 100 == 2)
			c->rcpt_ok++;
		else
			log_info("sim_forward_rcpt_refused", "sink=%s code=%d", f->sink_str, code);
		if (++c->rcpt_i < c->job->nrcpt) {
			fwd_send_rcpt(c);
		} else if (c->rcpt_ok > 0) {
			fwd_send(c, FS_DATA, "DATA\r\n");
		} else {
			f->failed++; /* the sink refused every recipient: nothing to retry */
			fwd_send(c, FS_RSET, "RSET\r\n");
		}
		return 0;
	case FS_DATA:
		if (code != 354)
			return -1;
		evbuffer_add_buffer(bufferevent_get_output(c->bev), c->job->body);
		fwd_send(c, FS_EOD, ".\r\n");
		return 0;
	case FS_EOD:
		if (code / 100 == 5)
			return fwd_refused(c, code);
		if (code / 100 != 2)
			return -1;
		f->sent++;
		log_debug("sim_forward_sent", "sink=%s", f->sink_str);
		fwd_next_job(c);
		return 0;
	case FS_RSET:
		fwd_next_job(c);
		return 0;
	case FS_QUIT:
		return -1;
	}
	return -1;
}

static void
fwd_read_cb(struct bufferevent *bev, void *arg)
{
	struct fwd_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!c->dead) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > FWD_REPLY_LINE)
				fwd_conn_end(c, "reply_line_too_long");
			return;
		}
		bool ok = len >= 3 && len <= FWD_REPLY_LINE && line[0] >= '2' && line[0] <= '5' &&
		          line[1] >= '0' && line[1] <= '9' && line[2] >= '0' && line[2] <= '9' &&
		          (len == 3 || line[3] == ' ' || line[3] == '-');
		bool last = ok && (len == 3 || line[3] == ' ');
		int code = ok ? (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') : 0;
		free(line);
		if (!ok || ++c->reply_lines > FWD_REPLY_LINES) {
			fwd_conn_end(c, "bad_reply");
			return;
		}
		if (!last)
			continue;
		c->reply_lines = 0;
		if (fwd_reply(c, code) != 0) {
			fwd_conn_end(c, c->state == FS_QUIT ? "done" : "refused");
			return;
		}
	}
}

static void
fwd_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct fwd_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	fwd_conn_end(c, what & BEV_EVENT_TIMEOUT ? "timeout" : "connection_lost");
}

static void
fwd_connect(struct sim_forward *f)
{
	struct fwd_conn *c = xcalloc(1, sizeof(*c));
	struct timeval tv = {FWD_TIMEOUT_SECS, 0};

	c->f = f;
	c->state = FS_GREETING;
	c->bev = bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatal("bufferevent_socket_new failed");
	bufferevent_setcb(c->bev, fwd_read_cb, NULL, fwd_event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = f->conns;
	if (f->conns)
		f->conns->prev = c;
	f->conns = c;
	f->nconns++;
	f->nidle++;
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&f->ss, (int)f->sslen) != 0)
		fwd_conn_end(c, "connect_failed");
}

/* Opens connections while queued jobs outnumber the idle connections that could take them. */
static void
fwd_dispatch(struct sim_forward *f)
{
	while (f->nconns < FWD_MAX_CONNS && (size_t)f->nidle < f->njobs &&
	       !event_pending(f->retry_ev, EV_TIMEOUT, NULL))
		fwd_connect(f);
}

static void
fwd_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	fwd_dispatch(arg);
}

struct sim_forward *
sim_forward_new(struct event_base *base, const struct addr *sink, int port, const char *helo)
{
	struct sim_forward *f = xcalloc(1, sizeof(*f));
	char a[ADDR_STRLEN];

	if (!addr_is_loopback(sink))
		fatal("sink must be a loopback address");
	f->base = base;
	f->sslen = addr_to_sockaddr(sink, port, &f->ss);
	addr_format(sink, a, sizeof(a));
	snprintf(f->sink_str, sizeof(f->sink_str), "%s:%d", a, port);
	f->helo = xstrdup(helo);
	f->retry_ev = evtimer_new(base, fwd_retry_cb, f);
	return f;
}

int
sim_forward_submit(struct sim_forward *f, const char *from, char *const *rcpts, size_t nrcpt,
                   struct evbuffer *body)
{
	size_t bytes = evbuffer_get_length(body);
	struct fwd_job *j;

	if (nrcpt == 0 || f->njobs >= FWD_MAX_JOBS || f->bytes + bytes > FWD_MAX_BYTES) {
		log_warn("sim_forward_queue_full", "jobs=%zu bytes=%zu", f->njobs, f->bytes);
		evbuffer_free(body);
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->from = xstrdup(from);
	j->rcpts = xcalloc(nrcpt, sizeof(*j->rcpts));
	for (size_t i = 0; i < nrcpt; i++)
		j->rcpts[i] = xstrdup(rcpts[i]);
	j->nrcpt = nrcpt;
	j->body = body;
	j->bytes = bytes;
	if (f->tail)
		f->tail->next = j;
	else
		f->head = j;
	f->tail = j;
	f->njobs++;
	f->bytes += bytes;
	fwd_dispatch(f);
	return 0;
}

void
sim_forward_stats(struct sim_forward *f, uint64_t *sent, uint64_t *failed)
{
	*sent = f->sent;
	*failed = f->failed;
}

void
sim_forward_free(struct sim_forward *f)
{
	if (f == NULL)
		return;
	while (f->conns) {
		struct fwd_conn *c = f->conns;
		f->conns = c->next;
		fwd_job_free(c->job);
		bufferevent_free(c->bev);
		free(c);
	}
	while (f->head)
		fwd_job_free(fwd_pop(f));
	event_free(f->retry_ev);
	free(f->helo);
	free(f);
}
