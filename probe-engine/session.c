/*
 * One SMTP connection as a state machine. session_next() plans a group of
 * commands (one transaction, or with PIPELINING before any RCPT was accepted
 * every transaction of the connection and QUIT) and session_send_plan()
 * writes it at once; session_reply() picks the next state from each final
 * reply; session_io_cb() maps I/O events and timeouts onto those two.
 * Before TLS the session reads and writes the socket itself, through one
 * edge-triggered event for the connection's life; from the handshake on, an
 * OpenSSL bufferevent owns the socket and
 * session_bev_read_cb()/session_bev_event_cb() feed the same parser.
 * Every wait has a per-state timeout (table below) capped by the probe's
 * overall deadline; every byte read goes through the bounded reply parser.
 * Ten thousand sessions may wait at once, so each holds one libevent event,
 * in its own allocation: the socket's, which also carries the state's
 * timeout, then the timer alone once TLS owns the socket, and last the
 * deferred call of the owner's end callback.
 */
#include "probe-engine/session.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/catalogue.h"
#include "probe-engine/reply.h"
#include "probe-engine/tls.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SESSION_TX_MAX 8       /* transactions per connection (Exim counts RSET as non-mail) */
#define SESSION_BATCH_MAX 16   /* RCPTs under one MAIL FROM */
#define SESSION_GROUP_MAX 32   /* attempts in one pipelined group of transactions */
#define SESSION_STEPS_MAX 64   /* commands in one group: RSET MAIL RCPT... per transaction, QUIT */
#define SESSION_EHLO_KEEP 1024 /* bytes of the EHLO reply kept as evidence */
#define SESSION_READ_MAX 4096
#define SESSION_STAGE_MAX 8192 /* a group of commands or one test message */

static const struct {
	const char *name;
	const char *label;
	int percent; /* of the base timeout */
} session_states[SS__COUNT] = {
	[SS_CONNECT] = {"connect", "timeout while connecting", 100},
	[SS_BANNER] = {"banner", "timeout while waiting for the greeting", 100},
	[SS_EHLO] = {"ehlo", "timeout while waiting for the EHLO reply", 100},
	[SS_HELO] = {"helo", "timeout while waiting for the HELO reply", 100},
	[SS_STARTTLS] = {"starttls", "timeout while waiting for the STARTTLS reply", 100},
	[SS_TLS] = {"tls", "timeout during the TLS handshake", 100},
	[SS_RSET] = {"rset", "timeout while waiting for the RSET reply", 100},
	[SS_MAIL] = {"mail", "timeout while waiting for the MAIL FROM reply", 100},
	[SS_RCPT] = {"rcpt", "timeout while waiting for the RCPT TO reply", 100},
	[SS_DATA] = {"data", "timeout while waiting for the DATA reply", 100},
	[SS_EOD] = {"eod", "timeout while waiting for the end-of-data reply", 200},
	[SS_QUIT] = {"quit", "timeout while waiting for the QUIT reply", 20},
	[SS_DONE] = {"done", "done", 100},
};

static const char *const session_end_names[SE__COUNT] = {
	[SE_NONE] = "none",
	[SE_FINISHED] = "finished",
	[SE_BUDGET] = "error_budget",
	[SE_CONNECT_FAILED] = "connect_failed",
	[SE_REJECTED] = "rejected",
	[SE_DROPPED] = "dropped",
	[SE_TIMEOUT] = "timeout",
	[SE_PROTOCOL] = "protocol",
	[SE_DEADLINE] = "deadline",
	[SE_RESOURCE] = "resource",
	[SE_TLS] = "tls",
};

/* What a step of the plan is. */
/* PLAN_RCPT_LOCAL: the local recipient after a local-last form's own (no attempt of its own). */
enum plan_kind { PLAN_RSET, PLAN_MAIL, PLAN_RCPT, PLAN_DATA, PLAN_RCPT_LOCAL, PLAN_QUIT };

/* One command of the plan; att indexes batch (MAIL, RSET, DATA: the transaction's first). */
struct plan_step {
	uint8_t kind; /* enum plan_kind */
	uint8_t att;
};

struct session {
	struct event_base *base;
	struct probe_run *run;
	int fd, port;
	int64_t due; /* the state's deadline (monotonic ms): reads do not push it back */
	/* text: NULL, the line a read cut kept at its length, or session_rtext while fed */
	struct reply_parser parser;
	enum session_state state;
	enum session_end end, quit_end;
	enum session_state end_state;
	char *detail; /* set when the session ends */
	session_end_fn end_fn;
	void *end_arg;

	char *out; /* unwritten bytes (allocated only while some are pending) */
	size_t outlen, outoff;

	/*
	 * The group of commands in one write: one transaction (RSET? MAIL
	 * RCPT... DATA?), or with PIPELINING and while the server has accepted
	 * no RCPT, every transaction this connection is to make and QUIT.
	 */
	struct plan_step plan[SESSION_STEPS_MAX];
	uint8_t nplan, sent, answered;
	uint8_t tx_first, tx_n; /* the transaction being answered: batch[tx_first..+tx_n) */
	uint16_t batch[SESSION_GROUP_MAX]; /* the group's attempts, in plan order */
	uint8_t nbatch;
	bool speculative; /* no DATA in the group: an accepted RCPT runs again later */
	bool mail_ok;
	bool edge;        /* the backend is edge-triggered: one event, no re-arming */
	bool want_write;  /* (level-triggered only) the event watches for writability */
	bool eod_discard; /* a pipelined DATA got 354 with no recipient: end it, ignore the reply */

	int errors, transactions;
	/* a replayed transaction's connection as it was: what one at a time would have counted */
	int debt_errors, debt_tx;
	bool greeted, pipelining, ehlo_first, starttls;
	/* TLS: after the handshake starts, all I/O goes through bev (which owns fd) */
	SSL_CTX *tls_ctx;
	bool implicit_tls, tls;
	struct bufferevent *bev;
	char *banner_host; /* H as the greeting and the EHLO reply name it (NULL: none) */
	char *ehlo_host;
	enum probe_helo helo; /* this connection's greeting, chosen once after the banner */
	/* followed by the session's event (event_get_struct_event_size() bytes) */
};

/* The session's one event, allocated with it (session_start). */
static struct event *
session_ev(struct session *s)
{
	return (struct event *)(s + 1);
}

/*
 * The line text of the reply being parsed, lent to the session being fed:
 * replies nearly always come whole in one read, so only a session whose
 * read ended inside a line holds text of its own, a copy of its length.
 * One per event-loop thread.
 */
static __thread struct {
	const struct session *owner;
	char text[REPLY_KEEP + 1];
} session_rtext;

/* Lends session_rtext to s's parser; false if s holds it already (a nested feed). */
static bool
session_text_take(struct session *s)
{
	if (session_rtext.owner == s)
		return false;
	if (session_rtext.owner != NULL) {
		/* another session is being fed on this thread: s gets a whole buffer of its own */
		s->parser.text = xrealloc(s->parser.text, REPLY_KEEP + 1);
		return false;
	}
	if (s->parser.text != NULL) {
		memcpy(session_rtext.text, s->parser.text, s->parser.textlen);
		free(s->parser.text);
	}
	s->parser.text = session_rtext.text;
	session_rtext.owner = s;
	return true;
}

/* Takes session_rtext back: a line the read cut keeps its start, in a copy of its length. */
static void
session_text_give(struct session *s)
{
	size_t n = s->parser.textlen;

	session_rtext.owner = NULL;
	s->parser.text = NULL;
	if (n > 0) {
		s->parser.text = xmalloc(n);
		memcpy(s->parser.text, session_rtext.text, n);
	}
}

/* A fresh parser (after STARTTLS), keeping the lent buffer if s holds it. */
static void
session_text_reset(struct session *s)
{
	char *text = s->parser.text;

	if (session_rtext.owner != s) {
		free(text);
		text = NULL;
	}
	reply_init(&s->parser, text);
}

const char *
session_state_name(enum session_state s)
{
	return (unsigned)s < SS__COUNT ? session_states[s].name : "?";
}

const char *
session_state_label(enum session_state s)
{
	return (unsigned)s < SS__COUNT ? session_states[s].label : "?";
}

int
session_state_timeout(enum session_state s, int base_ms)
{
	int64_t t = (int64_t)base_ms * session_states[s].percent / 100;

	if (t < 100)
		t = 100;
	return t > INT32_MAX ? INT32_MAX : (int)t;
}

const char *
session_end_name(enum session_end e)
{
	return (unsigned)e < SE__COUNT ? session_end_names[e] : "?";
}

enum session_end session_end_reason(const struct session *s) { return s->end; }
enum session_state session_end_state(const struct session *s) { return s->end_state; }
const char *session_end_detail(const struct session *s) { return s->detail ? s->detail : ""; }
int session_errors(const struct session *s) { return s->errors; }
bool session_greeted(const struct session *s) { return s->greeted; }

static void session_next(struct session *s);
static void session_io_cb(evutil_socket_t fd, short what, void *arg);

/*
 * (Re)adds the event with what is left of the state's time: a persistent
 * event's timeout starts again at each activation, the state's must not.
 */
static void
session_schedule(struct session *s)
{
	int64_t ms = s->due - now_mono_ms();
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(session_ev(s), &tv);
}

/* Starts the state's time, capped by the probe deadline. */
static void
session_arm(struct session *s)
{
	int64_t now = now_mono_ms();
	int64_t ms = session_state_timeout(s->state, s->run->params->timeout_ms);

	if (s->state == SS_DONE)
		return; /* the event waits to tell the owner */
	if (now + ms > s->run->deadline_mono)
		ms = s->run->deadline_mono - now;
	if (ms < 0)
		ms = 0;
	s->due = now + ms;
	session_schedule(s);
}

/*
 * Commands are staged here and leave in one send from session_flush, which
 * every caller of session_cmd/session_queue reaches before its callback
 * returns; only what the socket does not take is copied to the session's
 * own buffer. One per event-loop thread.
 */
static __thread struct {
	const struct session *owner;
	size_t len;
	char buf[SESSION_STAGE_MAX];
} session_wbuf;

/*
 * The group's first attempt (batch index) after the transaction the next
 * reply belongs to (an RSET opens the next one), or nbatch.
 */
static size_t
session_group_cut(const struct session *s)
{
	size_t k = s->answered;

	if (k < s->nplan && s->plan[k].kind == PLAN_RSET)
		k++;
	if (k < s->nplan && s->plan[k].kind == PLAN_MAIL)
		k++;
	for (; k < s->nplan; k++) {
		if (s->plan[k].kind == PLAN_MAIL)
			return s->plan[k].att;
	}
	return s->nbatch;
}

/*
 * Ends the connection now: descriptors closed at once (they are the scarce
 * resource), the owner told from a deferred event.
 */
static void
session_finish(struct session *s, enum session_end why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
session_finish(struct session *s, enum session_end why, const char *fmt, ...)
{
	va_list ap;
	char detail[160];

	if (s->state == SS_DONE)
		return;
	s->end = why;
	s->end_state = s->state;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	s->detail = xstrdup(detail);
	/*
	 * Attempts whose commands were on the wire run again on the next
	 * connection: those of the transaction being answered count the break;
	 * a speculative group's later ones, which one transaction at a time
	 * would not have sent yet, are put back as if never tried.
	 */
	if (why != SE_FINISHED && why != SE_BUDGET) {
		size_t cut = session_group_cut(s);

		for (size_t i = 0; i < s->nbatch; i++) {
			if (i < cut)
				run_interrupted(s->run, s->batch[i]);
			else
				run_put_back(s->run, s->batch[i]);
		}
	}
	s->nbatch = 0;
	s->state = SS_DONE;
	event_del(session_ev(s));
	if (s->bev) {
		/* libevent allows this from the bufferevent's own callback; it closes fd */
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	free(s->out);
	s->out = NULL;
	s->outlen = s->outoff = 0;
	if (session_wbuf.owner == s)
		session_wbuf.len = 0;
	/*
	 * The event's last use: the owner is told from a later callback of it.
	 * Reassigning it from inside its own callback is safe: deleted, it is
	 * neither pending nor active, and libevent does not touch it afterwards.
	 */
	event_assign(session_ev(s), s->base, -1, 0, session_io_cb, s);
	event_active(session_ev(s), EV_TIMEOUT, 0);
}

/*
 * Level-triggered backends only (an edge-triggered event watches both ways
 * all along, at no cost): writability is watched while output is pending.
 */
static void
session_watch_write(struct session *s, bool on)
{
	if (s->edge || s->want_write == on || s->fd < 0)
		return;
	s->want_write = on;
	event_del(session_ev(s));
	event_assign(session_ev(s), s->base, s->fd, EV_READ | EV_PERSIST | (on ? EV_WRITE : 0),
		     session_io_cb, s);
	session_schedule(s);
}

/* Appends to the session's own buffer of unwritten bytes. */
static void
session_spill(struct session *s, const char *data, size_t len)
{
	s->out = xrealloc(s->out, s->outlen + len);
	memcpy(s->out + s->outlen, data, len);
	s->outlen += len;
}

/* Writes as much of the pending output as the socket takes. */
static void
session_flush(struct session *s)
{
	if (session_wbuf.len > 0 && session_wbuf.owner == s) {
		const char *p = session_wbuf.buf;
		size_t n = session_wbuf.len;

		session_wbuf.len = 0;
		/* nothing older waiting: straight from the stage, usually all of it */
		while (n > 0 && s->bev == NULL && s->fd >= 0 && s->outoff == s->outlen) {
			ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break; /* EAGAIN: the rest waits below; an error shows there too */
			p += w;
			n -= (size_t)w;
		}
		if (n > 0)
			session_spill(s, p, n);
	}
	if (s->bev != NULL && s->outoff < s->outlen) {
		/* bounded by the plan: a transaction's commands or one test message */
		bufferevent_write(s->bev, s->out + s->outoff, s->outlen - s->outoff);
		s->outoff = s->outlen;
	}
	while (s->outoff < s->outlen) {
		ssize_t n = send(s->fd, s->out + s->outoff, s->outlen - s->outoff, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			session_watch_write(s, true);
			return;
		}
		if (n <= 0) {
			session_finish(s, SE_DROPPED, "write failed in %s: %s",
				       session_state_name(s->state), strerror(errno));
			return;
		}
		s->outoff += (size_t)n;
	}
	free(s->out);
	s->out = NULL;
	s->outlen = s->outoff = 0;
	session_watch_write(s, false);
}

/* Queues bytes behind those already pending (flushed by the caller). */
static void
session_queue(struct session *s, const char *data, size_t len)
{
	/* a broken invariant, not input: every queue is flushed before its callback returns */
	if (session_wbuf.len > 0 && session_wbuf.owner != s)
		fatal("session output staged for another session");
	if (s->outoff < s->outlen || session_wbuf.len + len > sizeof(session_wbuf.buf)) {
		session_spill(s, session_wbuf.buf, session_wbuf.len);
		session_wbuf.len = 0;
		session_spill(s, data, len);
		return;
	}
	session_wbuf.owner = s;
	memcpy(session_wbuf.buf + session_wbuf.len, data, len);
	session_wbuf.len += len;
}

/* One command line: logged, queued (flushed by the caller). */
static void
session_cmd(struct session *s, const char *verb, const char *arg)
{
	char line[600];
	size_t vl = strlen(verb), al = arg ? strlen(arg) : 0;

	/* A broken invariant, not input: forms are rendered into 512 bytes (run_prepare
	 * refuses longer ones) and the EHLO name is a validated domain. */
	if (vl + al + 2 >= sizeof(line))
		fatal("SMTP command too long: %s", verb);
	memcpy(line, verb, vl);
	if (al > 0)
		memcpy(line + vl, arg, al);
	memcpy(line + vl + al, "\r\n", 2);
	run_log(s->run, 'C', line, vl + al);
	session_queue(s, line, vl + al + 2);
}

/*
 * QUIT, then close without waiting for the 221: nothing in it matters, and
 * at scale the wait would hold a descriptor and a wakeup per connection.
 */
static void
session_quit(struct session *s, enum session_end why)
{
	s->quit_end = why;
	s->state = SS_QUIT;
	session_cmd(s, "QUIT", NULL);
	session_flush(s);
	session_finish(s, why, "quit");
}

/* Sends the plan's unsent steps: all of them with PIPELINING, else the next one. */
static void
session_send_plan(struct session *s)
{
	while (s->sent < s->nplan && (s->pipelining || s->sent == s->answered)) {
		const struct plan_step *p = &s->plan[s->sent++];
		size_t a = s->batch[p->att];
		char addr[RUN_ADDR_MAX];

		switch (p->kind) {
		case PLAN_RSET: session_cmd(s, "RSET", NULL); break;
		case PLAN_DATA: session_cmd(s, "DATA", NULL); break;
		case PLAN_QUIT: session_cmd(s, "QUIT", NULL); break;
		case PLAN_MAIL:
			run_att_addr(s->run, a, RUN_ADDR_FROM, addr);
			session_cmd(s, "MAIL FROM:", addr);
			break;
		case PLAN_RCPT_LOCAL:
			run_att_addr(s->run, a, RUN_ADDR_LAST, addr);
			session_cmd(s, "RCPT TO:", addr);
			break;
		default:
			run_att_addr(s->run, a, RUN_ADDR_RCPT, addr);
			session_cmd(s, "RCPT TO:", addr);
			break;
		}
	}
	session_flush(s);
}

static const enum session_state plan_state[] = {
	[PLAN_RSET] = SS_RSET, [PLAN_MAIL] = SS_MAIL, [PLAN_RCPT] = SS_RCPT, [PLAN_DATA] = SS_DATA,
	[PLAN_RCPT_LOCAL] = SS_RCPT, [PLAN_QUIT] = SS_QUIT};

/* The state awaiting the next reply; at a MAIL, the transaction it opens. */
static void
session_set_plan_state(struct session *s)
{
	const struct plan_step *p;

	if (s->answered >= s->nplan)
		return;
	p = &s->plan[s->answered];
	s->state = plan_state[p->kind];
	if (p->kind == PLAN_MAIL) {
		s->tx_first = p->att;
		s->tx_n = 0;
		for (size_t k = s->answered + 1u; k < s->nplan && s->plan[k].kind == PLAN_RCPT; k++)
			s->tx_n++;
	}
}

/* True when the reply just counted ended a transaction's RCPTs (no DATA follows in the group). */
static bool
session_tx_ended(const struct session *s)
{
	uint8_t prev = s->plan[s->answered - 1].kind, next;

	if (prev != PLAN_RCPT && prev != PLAN_RCPT_LOCAL)
		return false;
	if (s->answered == s->nplan)
		return true;
	next = s->plan[s->answered].kind;
	return next == PLAN_RSET || next == PLAN_MAIL || next == PLAN_QUIT;
}

/* The short, honest test message, with every token of the transaction. */
static void
session_send_body(struct session *s)
{
	const struct probe_params *p = s->run->params;
	char date[64], buf[4096], first[TOKEN_BUFLEN] = "", token[TOKEN_BUFLEN];
	time_t now = time(NULL);
	struct tm tm;
	size_t n = 0;
	int w;

	size_t company = 0;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++) {
		if (s->run->st[s->batch[i]].rcpt_ok) {
			if (company == 0)
				run_att_token(s->run, s->batch[i], first);
			company++;
		}
	}
	/* Attribution: a form relayed in company may relay only because of the others. */
	for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++) {
		if (s->run->st[s->batch[i]].rcpt_ok)
			s->run->st[s->batch[i]].rcpts = company < RUN_RCPTS_MAX ? company : RUN_RCPTS_MAX;
	}
	w = snprintf(buf, sizeof(buf),
		     "From: relayaudit relay test <%s>\r\n"
		     "To: <%s@%s>\r\n"
		     "Date: %s\r\n"
		     "Message-ID: <%s@%s>\r\n"
		     "Subject: relayaudit open relay test %s\r\n"
		     "Auto-Submitted: auto-generated\r\n"
		     "X-Relayaudit-Tokens:",
		     p->contact, first, p->sink_domain, date, first, p->helo_name, first);
	if (w < 0 || (size_t)w >= sizeof(buf))
		fatal("test message headers too long");
	n = (size_t)w;
	for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++) {
		if (!s->run->st[s->batch[i]].rcpt_ok)
			continue;
		run_att_token(s->run, s->batch[i], token);
		w = snprintf(buf + n, sizeof(buf) - n, "\r\n %s", token);
		if (w < 0 || (size_t)w >= sizeof(buf) - n)
			fatal("test message headers too long");
		n += (size_t)w;
	}
	w = snprintf(buf + n, sizeof(buf) - n,
		     "\r\n\r\n"
		     "This is an automated open-relay test by relayaudit on behalf of the\r\n"
		     "network operator of the server that passed it on. It was addressed\r\n"
		     "only to the operator's test mailbox; if it reached anyone else, the\r\n"
		     "server relays mail for anyone and should be fixed.\r\n"
		     "Questions: %s\r\n"
		     "\r\n.\r\n",
		     p->contact);
	if (w < 0 || (size_t)w >= sizeof(buf) - n)
		fatal("test message too long");
	n += (size_t)w;
	char note[64];
	int nl = snprintf(note, sizeof(note), "<test message, %zu bytes>", n);
	run_log(s->run, 'C', note, (size_t)nl);
	session_queue(s, buf, n);
	s->state = SS_EOD;
	session_flush(s);
}

static void
session_plan_push(struct session *s, enum plan_kind kind, size_t att)
{
	s->plan[s->nplan].kind = (uint8_t)kind;
	s->plan[s->nplan].att = (uint8_t)att;
	s->nplan++;
}

/*
 * Appends the next transaction (at most max recipients) to the plan: how
 * many errors it makes if every relay recipient is refused (the local one
 * after a local-last form is postmaster, which RFC 5321 4.5.1 has every
 * server accept), or 0 when nothing is ready to run.
 */
static int
session_plan_tx(struct session *s, int64_t now, size_t max, bool pipe_data)
{
	struct probe_run *r = s->run;
	size_t idx[SESSION_BATCH_MAX], n = run_next_batch(r, now, idx, max);
	size_t first = s->nbatch;
	int errors = (int)n;

	if (n == 0)
		return 0;
	if (s->transactions > 0)
		session_plan_push(s, PLAN_RSET, first);
	session_plan_push(s, PLAN_MAIL, first);
	for (size_t i = 0; i < n; i++) {
		r->st[idx[i]].tls = s->tls;
		s->batch[s->nbatch] = (uint16_t)idx[i];
		session_plan_push(s, PLAN_RCPT, s->nbatch++);
	}
	if (n == 1 && run_att_has_last(r, idx[0]))
		session_plan_push(s, PLAN_RCPT_LOCAL, first);
	if (pipe_data)
		session_plan_push(s, PLAN_DATA, first);
	s->transactions++;
	return errors;
}

/*
 * After a group's replies (or the greeting): plan and send the next group,
 * or QUIT.
 *
 * With PIPELINING, while this server has accepted no RCPT in this probe
 * (and refused no MAIL FROM), one write carries every transaction this
 * connection is to make, planned as if each recipient is refused (what a
 * closed server does), and QUIT: the same transactions, under the same
 * error budget and transaction limit, that one-at-a-time planning would
 * make against a closed server, in one round trip instead of one each. RFC
 * 2920 allows RSET, MAIL and RCPT anywhere in a group; it ends with QUIT.
 * Such a group has no DATA: an attempt whose RCPT is accepted there is put
 * back and runs again, from then on one transaction per group with DATA.
 */
static void
session_next(struct session *s)
{
	struct probe_run *r = s->run;
	int64_t now = now_mono_ms();
	size_t ready = 0, max;
	enum session_end quit = SE_NONE;

	s->nbatch = 0;
	s->nplan = s->sent = s->answered = 0;
	s->tx_first = s->tx_n = 0;
	if (now >= r->deadline_mono) {
		session_finish(s, SE_DEADLINE, "deadline reached");
		return;
	}
	run_unfinished(r, now, &ready, NULL);
	if (ready == 0 || r->relay_stop) {
		session_quit(s, SE_FINISHED);
		return;
	}
	if (r->tls_wanted && !s->tls) {
		if (!s->starttls || s->tls_ctx == NULL) {
			session_finish(s, SE_TLS, "TLS was demanded but STARTTLS is no longer offered");
			return;
		}
		s->state = SS_STARTTLS;
		session_cmd(s, "STARTTLS", NULL);
		session_flush(s);
		return;
	}
	/*
	 * DATA rides in the pipelined group once this server has accepted a
	 * recipient (RFC 2920 allows it last): one round trip less per message.
	 * A refused MAIL makes every pipelined RCPT an error too, and a piped
	 * DATA with no recipient one more: keep room for them.
	 */
	bool replay = run_replay_pending(r);
	/*
	 * Recipients accepted in a speculative group run again as the one
	 * transaction they were in, planned as it was then: no DATA in the
	 * group, sent after the replies, so under the same limits the same
	 * company gets the test message.
	 */
	bool pipe_data = s->pipelining && r->rcpt_ok_seen && !replay;
	bool speculative = s->pipelining && !r->rcpt_ok_seen && !r->mail_refused_seen;
	int reserve = pipe_data ? 2 : 1;

	if (replay && s->transactions == 0) {
		/* and what follows it is planned as on that connection */
		s->debt_errors = r->replay_errors;
		s->debt_tx = r->replay_tx;
		r->replay_errors = r->replay_tx = 0;
	}
	/* the errors the plan may reach, as if every RCPT is refused */
	int errors = s->errors + s->debt_errors;

	do {
		int left = r->err_budget - errors, made;

		if (left < 1 || s->transactions + s->debt_tx >= SESSION_TX_MAX) {
			quit = SE_BUDGET;
			break;
		}
		max = left > reserve ? (size_t)(left - reserve) : 1;
		if (max > SESSION_BATCH_MAX)
			max = SESSION_BATCH_MAX;
		/* a full group goes out as it is; the rest follows its replies */
		if (s->nbatch + max > SESSION_GROUP_MAX || s->nplan + max + 4u > SESSION_STEPS_MAX)
			break;
		made = session_plan_tx(s, now, max, pipe_data);
		if (made == 0) {
			quit = SE_FINISHED;
			break;
		}
		errors += made;
	} while (speculative);
	if (s->nplan == 0) {
		session_quit(s, quit);
		return;
	}
	if (speculative && quit != SE_NONE) {
		session_plan_push(s, PLAN_QUIT, 0);
		s->quit_end = quit;
	}
	s->speculative = speculative;
	s->mail_ok = false;
	session_set_plan_state(s);
	session_send_plan(s);
}

/*
 * H: the greeting's name, the EHLO reply's, the caller's, or the address
 * literal. A name too long for the forms (the peer chose it) falls back to
 * the literal, noted in the transcript; 0, or -1 with *why.
 */
static int
session_prepare_run(struct session *s, const char **why)
{
	struct probe_run *r = s->run;
	const char *host = s->banner_host     ? s->banner_host
			   : s->ehlo_host     ? s->ehlo_host
			   : r->res->name     ? r->res->name
					      : r->literal;
	char note[128];
	int n;

	if (run_prepare(r, host, why) == 0)
		return 0;
	n = snprintf(note, sizeof(note), "<%s: using %s>", *why, r->literal);
	run_log(r, 'C', note, n > 0 && (size_t)n < sizeof(note) ? (size_t)n : strlen(note));
	return run_prepare(r, r->literal, why);
}

static void
session_after_hello(struct session *s)
{
	const char *why = NULL;

	s->run->pipelining = s->pipelining;
	s->run->helo_kind = s->helo;
	s->run->starttls_offered = s->starttls && !s->tls && s->tls_ctx != NULL;
	s->run->in_tls = s->tls;
	if (s->starttls)
		s->run->res->starttls = true;
	if (session_prepare_run(s, &why) < 0) {
		session_finish(s, SE_PROTOCOL, "%s", why);
		return;
	}
	session_next(s);
}

/* The stage of the attempt a reply in state st belongs to. */
static enum probe_stage
session_stage(enum session_state st)
{
	switch (st) {
	case SS_MAIL: return STAGE_MAIL;
	case SS_RCPT: return STAGE_RCPT;
	case SS_DATA: return STAGE_DATA;
	default: return STAGE_EOD;
	}
}

/* A transaction reply (MAIL, RCPT, DATA, EOD) for every attempt it concerns. */
static void
session_tx_reply(struct session *s, const struct reply_view *rv)
{
	struct probe_run *r = s->run;
	int64_t now = now_mono_ms();
	enum probe_stage stage = session_stage(s->state);

	if (s->state == SS_RCPT) {
		const struct plan_step *p = &s->plan[s->answered];

		/* the local companion's reply is in the transcript; it decides nothing */
		if (p->kind == PLAN_RCPT_LOCAL)
			return;

		/* after a refused MAIL the RCPT replies say nothing about relaying */
		if (s->mail_ok)
			run_reply(r, s->batch[p->att], stage, rv, now);
		return;
	}
	for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++) {
		size_t a = s->batch[i];

		if (s->state == SS_MAIL || r->st[a].rcpt_ok)
			run_reply(r, a, stage, rv, now);
	}
}

/*
 * The end of a transaction in a speculative group. An accepted recipient got
 * no DATA: its attempt runs again first, with the others accepted here. Then,
 * or after a 530 that stopped the probe or asked for TLS, one transaction at
 * a time would not have sent the group's later ones as they are: their
 * attempts are put back, their replies are only logged.
 */
static void
session_after_speculative_tx(struct session *s)
{
	struct probe_run *r = s->run;
	bool accepted = false;

	for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++) {
		if (r->st[s->batch[i]].rcpt_ok && r->st[s->batch[i]].state == ATT_RUNNING) {
			accepted = true;
			run_put_back(r, s->batch[i]);
		}
		/* a RCPT reply that was neither 2xx, 4xx nor 5xx */
		run_error(r, s->batch[i], STAGE_RCPT);
	}
	if (accepted) {
		size_t later = 0;

		/* one at a time, the next transactions would have shared this connection */
		for (size_t k = s->answered; k < s->nplan; k++)
			later += s->plan[k].kind == PLAN_MAIL;
		r->replay_errors = s->errors;
		r->replay_tx = s->transactions - (int)later - 1;
	}
	if (accepted || r->relay_stop || (r->tls_wanted && !s->tls)) {
		for (size_t i = (size_t)s->tx_first + s->tx_n; i < s->nbatch; i++)
			run_put_back(r, s->batch[i]);
	}
	if (s->answered == s->nplan) {
		session_next(s);
		return;
	}
	if (s->plan[s->answered].kind == PLAN_QUIT) {
		/* as session_quit: the 221 is not worth a wait */
		session_finish(s, s->quit_end, "quit");
		return;
	}
	session_set_plan_state(s); /* the next transaction, already sent */
}

static void
session_after_plan(struct session *s)
{
	bool any = false;

	if (s->speculative) {
		session_after_speculative_tx(s);
		return;
	}

	for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++)
		any |= s->run->st[s->batch[i]].rcpt_ok && s->run->st[s->batch[i]].state == ATT_RUNNING;
	if (s->mail_ok && any) {
		s->state = SS_DATA;
		session_cmd(s, "DATA", NULL);
		session_flush(s);
		return;
	}
	/* nothing accepted: every attempt of the batch is decided or waiting */
	for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++) {
		/* a RCPT reply that was neither 2xx, 4xx nor 5xx */
		run_error(s->run, s->batch[i], STAGE_RCPT);
	}
	session_next(s);
}

/* The name this connection greets with: ours, or the target's own (run_prepare set them). */
static const char *
session_helo_name(const struct session *s)
{
	const char *n = s->run->res->helo_names[s->helo];

	return s->helo == PROBE_HELO_OURS || n == NULL ? s->run->params->helo_name : n;
}

static void
session_ehlo(struct session *s)
{
	s->state = SS_EHLO;
	s->ehlo_first = true;
	session_cmd(s, "EHLO ", session_helo_name(s));
	session_flush(s);
}

/*
 * Greeting as the target is a test of its own: a server that refuses it
 * (EHLO and HELO, 421, or a close) has answered that test, and the probe
 * goes on with the next connection. True when that is what happened.
 */
static bool
session_greeting_refused(struct session *s, const struct reply_view *rv)
{
	if (s->helo == PROBE_HELO_OURS || (s->state != SS_EHLO && s->state != SS_HELO))
		return false;
	run_greeting_refused(s->run, s->helo, rv);
	return true;
}

/* Picks the next state from one final reply. */
static void
session_reply(struct session *s, const struct reply_view *rv)
{
	struct probe_run *r = s->run;
	int code = rv->code;

	if (reply_temp(code) || reply_perm(code)) {
		if (code != 421)
			s->errors++;
	}
	if (code == 421 && s->state != SS_QUIT) {
		session_greeting_refused(s, rv);
		session_finish(s, s->greeted ? SE_DROPPED : SE_REJECTED, "421 in %s: %s",
			       session_state_name(s->state), rv->text);
		return;
	}
	switch (s->state) {
	case SS_BANNER:
		if (r->res->banner == NULL) {
			char buf[RUN_TEXT_KEEP + 1];

			r->res->banner = xstrdup(log_censor(buf, sizeof(buf), rv->text,
							    strlen(rv->text)));
		}
		if (code != 220) {
			session_finish(s, SE_REJECTED, "greeting %d: %s", code, rv->text);
			return;
		}
		s->greeted = true;
		r->banner_seen = true;
		s->helo = r->prepared ? run_next_helo(r, now_mono_ms()) : PROBE_HELO_OURS;
		session_ehlo(s);
		return;
	case SS_EHLO:
		/* a refused greeting as the target gets its HELO chance whatever the code */
		if (code == 500 || code == 501 || code == 502 || code == 504 ||
		    (s->helo != PROBE_HELO_OURS && !reply_ok(code))) {
			s->state = SS_HELO;
			session_cmd(s, "HELO ", session_helo_name(s));
			session_flush(s);
			return;
		}
		/* fall through */
	case SS_HELO:
		if (reply_ok(code)) {
			session_after_hello(s);
			return;
		}
		if (session_greeting_refused(s, rv)) {
			session_quit(s, SE_FINISHED);
			return;
		}
		session_finish(s, reply_perm(code) ? SE_REJECTED : SE_DROPPED, "%s refused: %d %s",
			       s->state == SS_EHLO ? "EHLO" : "HELO", code, rv->text);
		return;
	case SS_RSET:
	case SS_MAIL:
	case SS_RCPT:
		if (s->state == SS_MAIL) {
			s->mail_ok = reply_ok(code);
			/* a server that refuses senders gets no more speculative groups */
			if (!s->mail_ok)
				r->mail_refused_seen = true;
		}
		if (s->state != SS_RSET)
			session_tx_reply(s, rv);
		s->answered++;
		/* without PIPELINING a refused MAIL ends the transaction here */
		if (!s->pipelining && !s->mail_ok && s->plan[s->answered - 1].kind == PLAN_MAIL) {
			session_next(s);
			return;
		}
		if (session_tx_ended(s)) {
			session_after_plan(s);
			return;
		}
		session_set_plan_state(s);
		session_send_plan(s);
		return;
	case SS_DATA: {
		bool any = false;

		for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++)
			any |= r->st[s->batch[i]].rcpt_ok && r->st[s->batch[i]].state == ATT_RUNNING;
		any &= s->mail_ok;
		if (code == 354 && !any) {
			/* a pipelined DATA some servers take without recipients: end it empty */
			s->eod_discard = true;
			s->state = SS_EOD;
			session_cmd(s, ".", NULL);
			session_flush(s);
			return;
		}
		if (code == 354) {
			session_tx_reply(s, rv); /* evidence only: 354 decides nothing */
			session_send_body(s);
			return;
		}
		if (any)
			session_tx_reply(s, rv);
		for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++) {
			run_error(r, s->batch[i], STAGE_DATA); /* 2xx/3xx other than 354 */
		}
		session_next(s);
		return;
	}
	case SS_EOD:
		if (s->eod_discard) {
			s->eod_discard = false;
			session_next(s);
			return;
		}
		session_tx_reply(s, rv);
		for (size_t i = s->tx_first; i < (size_t)s->tx_first + s->tx_n; i++) {
			run_error(r, s->batch[i], STAGE_EOD); /* 3xx after the dot */
		}
		session_next(s);
		return;
	case SS_STARTTLS:
		if (code != 220) {
			session_finish(s, SE_TLS, "STARTTLS refused: %d %s", code, rv->text);
			return;
		}
		/* the handshake starts once the read loop has checked nothing follows */
		s->state = SS_TLS;
		return;
	case SS_QUIT:
		session_finish(s, s->quit_end, "quit");
		return;
	default:
		session_finish(s, SE_PROTOCOL, "reply %d in state %s", code,
			       session_state_name(s->state));
		return;
	}
}

/* A non-final line: kept for the EHLO evidence and capabilities. */
static void
session_line(struct session *s, int code, const char *text, bool final)
{
	struct probe_run *r = s->run;
	char host[RUN_HOST_MAX];

	if (s->state == SS_BANNER && s->banner_host == NULL && !s->greeted &&
	    s->parser.nlines == 1 && catalogue_host_from_text(text, host, sizeof(host)) == 0)
		s->banner_host = xstrdup(host);
	if (s->state != SS_EHLO || !reply_ok(code))
		return;
	if (s->ehlo_first) {
		/* the evidence is the latest connection's EHLO reply */
		if (catalogue_host_from_text(text, host, sizeof(host)) == 0) {
			free(s->ehlo_host);
			s->ehlo_host = xstrdup(host);
		}
		s->ehlo_first = false;
		free(r->res->ehlo);
		r->res->ehlo = xmalloc(1);
		r->res->ehlo[0] = '\0';
	} else if (strncasecmp(text, "PIPELINING", 10) == 0 && (text[10] == '\0' || text[10] == ' ')) {
		s->pipelining = true;
	} else if (strncasecmp(text, "STARTTLS", 8) == 0 && (text[8] == '\0' || text[8] == ' ')) {
		s->starttls = true;
	}
	size_t have = strlen(r->res->ehlo);
	char line[RUN_TEXT_KEEP + 8], censored[SESSION_EHLO_KEEP];

	snprintf(line, sizeof(line), "%s%d %s", have ? "\n" : "", code, text);
	/* censoring would turn the joining newline into '?': censor the text only */
	if (have < SESSION_EHLO_KEEP - 1) {
		size_t start = have, n;

		log_censor(censored, SESSION_EHLO_KEEP - start - (have ? 1 : 0),
			   line + (have ? 1 : 0), strlen(line + (have ? 1 : 0)));
		n = strlen(censored);
		/* sized to what it holds: ten thousand targets in flight hold one each */
		r->res->ehlo = xrealloc(r->res->ehlo, have + (have ? 1 : 0) + n + 1);
		if (have)
			r->res->ehlo[start++] = '\n';
		memcpy(r->res->ehlo + start, censored, n + 1);
	}
	(void)final;
}

static void
session_closed(struct session *s)
{
	if (s->state == SS_QUIT)
		session_finish(s, s->quit_end, "closed after QUIT");
	else if (!s->greeted)
		session_finish(s, SE_REJECTED, "connection closed before the greeting");
	else if (session_greeting_refused(s, NULL))
		session_finish(s, SE_DROPPED, "connection closed after greeting as %s",
			       session_helo_name(s));
	else
		session_finish(s, SE_DROPPED, "connection closed in %s", session_state_name(s->state));
}

static void session_tls_start(struct session *s);

/* Bytes from the peer (plain or decrypted), through the bounded reply parser. */
static void
session_feed(struct session *s, const char *buf, size_t n)
{
	size_t off = 0;
	bool answered = false, lent = session_text_take(s);

	s->run->bytes_seen = true;
	while (off < n && s->state != SS_DONE && s->state != SS_TLS) {
		size_t used;
		enum reply_event ev = reply_feed(&s->parser, buf + off, (size_t)n - off, &used);
		char logline[REPLY_KEEP + 8];

		off += used;
		if (ev == REPLY_NEED_MORE)
			break;
		if (ev == REPLY_ERROR) {
			session_finish(s, SE_PROTOCOL, "%s in %s", s->parser.why,
				       session_state_name(s->state));
			break;
		}
		size_t tl = strlen(s->parser.text);

		/* the parser checked the code has three digits and the text is at most REPLY_KEEP */
		logline[0] = (char)('0' + s->parser.code / 100);
		logline[1] = (char)('0' + s->parser.code / 10 % 10);
		logline[2] = (char)('0' + s->parser.code % 10);
		logline[3] = ev == REPLY_LINE ? '-' : ' ';
		memcpy(logline + 4, s->parser.text, tl);
		run_log(s->run, 'S', logline, 4 + tl);
		session_line(s, s->parser.code, s->parser.text, ev == REPLY_FINAL);
		if (ev != REPLY_FINAL)
			continue;
		if (s->state == SS_CONNECT || s->state == SS_DONE ||
		    (s->state >= SS_RSET && s->state <= SS_RCPT && s->answered >= s->sent)) {
			/* a reply to nothing we said (only the QUIT path may see one) */
			session_finish(s, SE_PROTOCOL, "unexpected reply %d in %s", s->parser.code,
				       session_state_name(s->state));
			break;
		}
		struct reply_view rv = {s->parser.code, s->parser.enhanced, s->parser.text};
		session_reply(s, &rv);
		answered = true;
	}
	/* each awaited reply gets its state's full time (once a read: the last state's counts) */
	if (answered && s->state != SS_DONE && s->state != SS_TLS)
		session_arm(s);
	if (s->state == SS_TLS) {
		/* bytes after the 220 would be read as if they came through TLS (CVE-2011-0411) */
		if (off < n)
			session_finish(s, SE_PROTOCOL, "data after the STARTTLS reply");
		else
			session_tls_start(s);
	}
	if (lent)
		session_text_give(s);
}

static void session_connected(struct session *s);

/*
 * Reads what the socket holds: a short read means it is drained (what
 * arrives later raises the edge again). Readable while still connecting
 * means the connect ended: the read itself tells how, without a getsockopt.
 */
static void
session_read(struct session *s)
{
	char buf[SESSION_READ_MAX];

	for (;;) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), 0);
		int e = errno;

		if (n < 0 && e == EINTR)
			continue;
		if (s->state == SS_CONNECT) {
			if (n < 0 && e != EAGAIN && e != EWOULDBLOCK && e != ECONNRESET) {
				session_finish(s, SE_CONNECT_FAILED, "connect: %s", strerror(e));
				return;
			}
			session_connected(s);
		}
		if (n < 0 && (e == EAGAIN || e == EWOULDBLOCK))
			return;
		if (n <= 0) {
			session_closed(s);
			return;
		}
		session_feed(s, buf, (size_t)n);
		/* ended, or the socket went to the TLS bufferevent */
		if ((size_t)n < sizeof(buf) || s->state == SS_DONE || s->fd < 0)
			return;
	}
}

static void
session_bev_read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	char buf[SESSION_READ_MAX];
	size_t n;

	while (s->state != SS_DONE &&
	       (n = (size_t)evbuffer_remove(bufferevent_get_input(bev), buf, sizeof(buf))) > 0 &&
	       n <= sizeof(buf))
		session_feed(s, buf, n);
}

static void
session_bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	char why[160];

	if (what & BEV_EVENT_CONNECTED) {
		struct probe_result *res = s->run->res;

		if (res->tls == NULL)
			res->tls = xcalloc(1, sizeof(*res->tls));
		tls_evidence(bufferevent_openssl_get_ssl(bev), res->tls);
		s->tls = true;
		{
			char note[200];
			int nl = snprintf(note, sizeof(note), "<TLS %s %s>", res->tls->version,
					  res->tls->cipher);
			run_log(s->run, 'C', note, nl > 0 ? (size_t)nl : 0);
		}
		if (s->implicit_tls && !s->greeted) {
			s->state = SS_BANNER;
			session_arm(s);
			return;
		}
		/* RFC 3207: forget what was learnt before TLS, greet again */
		s->pipelining = s->starttls = false;
		session_ehlo(s);
		session_arm(s);
		return;
	}
	if (s->state == SS_TLS) {
		tls_error_text(bev, what, why, sizeof(why));
		session_finish(s, SE_TLS, "TLS handshake failed: %s", why);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		session_closed(s);
		return;
	}
	tls_error_text(bev, what, why, sizeof(why));
	session_finish(s, SE_DROPPED, "TLS error in %s: %s", session_state_name(s->state), why);
}

/* Hands the socket to an OpenSSL bufferevent and starts the client handshake. */
static void
session_tls_start(struct session *s)
{
	SSL *ssl = SSL_new(s->tls_ctx);

	s->state = SS_TLS;
	if (ssl == NULL) {
		session_finish(s, SE_TLS, "SSL_new failed");
		return;
	}
	/* the event stays as the state's timer alone */
	event_del(session_ev(s));
	event_assign(session_ev(s), s->base, -1, 0, session_io_cb, s);
	session_text_reset(s);
	s->bev = bufferevent_openssl_socket_new(s->base, s->fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		SSL_free(ssl);
		session_finish(s, SE_TLS, "bufferevent_openssl_socket_new failed");
		return;
	}
	s->fd = -1; /* the bufferevent owns it now */
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, session_bev_read_cb, NULL, session_bev_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	run_log(s->run, 'C', "<TLS handshake>", 15);
	session_arm(s);
}

/* The state's time ran out. */
static void
session_timeout(struct session *s)
{
	if (s->state == SS_QUIT) {
		session_finish(s, s->quit_end, "no reply to QUIT");
		return;
	}
	if (now_mono_ms() >= s->run->deadline_mono) {
		session_finish(s, SE_DEADLINE, "deadline reached in %s",
			       session_state_name(s->state));
		return;
	}
	session_finish(s, s->state == SS_CONNECT ? SE_CONNECT_FAILED : SE_TIMEOUT, "%s",
		       session_state_label(s->state));
}

/* The connect succeeded: the greeting is awaited (or, on a TLS port, the handshake starts). */
static void
session_connected(struct session *s)
{
	session_watch_write(s, false);
	if (s->implicit_tls) {
		session_tls_start(s);
		return;
	}
	s->state = SS_BANNER;
	session_arm(s);
}

/*
 * The socket until TLS takes it over: edge-triggered for both directions
 * from connect to close (two epoll_ctl calls per connection). Writable and
 * not readable while connecting is a connect that succeeded (an error
 * raises both); readable, the read tells.
 */
static void
session_io(struct session *s, short what)
{
	if (s->state == SS_CONNECT && (!(what & EV_READ) || s->implicit_tls)) {
		int err = 0;
		socklen_t len = sizeof(err);

		/* on a TLS port the bytes are the handshake's: ask, do not read */
		if ((what & EV_READ) && getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			session_finish(s, SE_CONNECT_FAILED, "connect: %s", strerror(err));
			return;
		}
		session_connected(s);
		return;
	}
	if ((what & EV_WRITE) && s->outoff < s->outlen)
		session_flush(s);
	if ((what & EV_READ) && s->state != SS_DONE && s->fd >= 0)
		session_read(s);
}

/* The session's one event: the socket, the state's timeout, then the end. */
static void
session_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int64_t due = s->due;

	if (s->state == SS_DONE) {
		/* session_finish's deferred call: the event was reassigned to it */
		s->end_fn(s, s->end_arg);
		return;
	}
	if (what & (EV_READ | EV_WRITE))
		session_io(s, what);
	if (s->state == SS_DONE)
		return;
	/* a timeout that came with the bytes answering the state it timed is stale */
	if ((what & EV_TIMEOUT) && s->due == due) {
		session_timeout(s);
		return;
	}
	session_schedule(s);
}

struct session *
session_start(struct event_base *base, struct probe_run *run, int port, SSL_CTX *tls,
	      bool implicit_tls, session_end_fn end, void *arg)
{
	struct session *s = xcalloc(1, sizeof(*s) + event_get_struct_event_size());
	struct sockaddr_storage ss;
	socklen_t sl = addr_to_sockaddr(&run->res->addr, port, &ss);

	s->base = base;
	s->run = run;
	s->port = port;
	s->end_fn = end;
	s->end_arg = arg;
	s->tls_ctx = tls;
	s->implicit_tls = implicit_tls && tls != NULL;
	s->state = SS_CONNECT;
	/* epoll: one registration for the connection's life; other backends re-arm writes */
	s->edge = (event_base_get_features(base) & EV_FEATURE_ET) != 0;
	s->want_write = !s->edge;
	reply_init(&s->parser, NULL);
	/* assigned from the start: session_finish and session_free use it */
	event_assign(session_ev(s), base, -1, 0, session_io_cb, s);
	s->fd = socket(run->res->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		session_finish(s, (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
				   errno == ENOMEM)
					  ? SE_RESOURCE
					  : SE_CONNECT_FAILED,
			       "socket: %s", strerror(errno));
		return s;
	}
	event_assign(session_ev(s), base, s->fd,
		     EV_READ | EV_WRITE | EV_PERSIST | (s->edge ? EV_ET : 0), session_io_cb, s);
	run->res->connections++;
	if (connect(s->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int e = errno;

		session_finish(s, e == EAGAIN || e == EADDRNOTAVAIL ? SE_RESOURCE : SE_CONNECT_FAILED,
			       "connect: %s", strerror(e));
		return s;
	}
	/* added with the connect's timeout */
	session_arm(s);
	return s;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->fd >= 0)
		close(s->fd);
	event_del(session_ev(s));
	event_debug_unassign(session_ev(s));
	if (session_rtext.owner == s)
		session_rtext.owner = NULL;
	else
		free(s->parser.text);
	free(s->detail);
	free(s->out);
	free(s->banner_host);
	free(s->ehlo_host);
	free(s);
}
