/*
 * One SMTP connection as a state machine. session_send() writes what the
 * current plan needs, session_reply() picks the next state from each final
 * reply, session_read_cb()/session_timer_cb() map I/O events onto those two.
 * Before TLS the session reads and writes the socket itself; from the
 * handshake on, an OpenSSL bufferevent owns the socket and
 * session_bev_read_cb()/session_bev_event_cb() feed the same parser.
 * Every wait has a per-state timeout (table below) capped by the probe's
 * overall deadline; every byte read goes through the bounded reply parser.
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
#define SESSION_EHLO_KEEP 1024 /* bytes of the EHLO reply kept as evidence */
#define SESSION_READ_MAX 4096

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

/* What a step of the transaction plan is. */
/* PLAN_RCPT_LOCAL: the local recipient after a local-last form's own (no attempt of its own). */
enum plan_kind { PLAN_RSET, PLAN_MAIL, PLAN_RCPT, PLAN_DATA, PLAN_RCPT_LOCAL };

struct session {
	struct event_base *base;
	struct probe_run *run;
	int fd, port;
	struct event *rev, *wev, *timer, *done_ev;
	struct reply_parser parser;
	enum session_state state;
	enum session_end end, quit_end;
	enum session_state end_state;
	char detail[160];
	session_end_fn end_fn;
	void *end_arg;

	char *out; /* unwritten bytes (allocated only while some are pending) */
	size_t outlen, outoff;

	/* the transaction in progress: RSET? MAIL RCPT... */
	uint8_t plan[4 + SESSION_BATCH_MAX];
	size_t nplan, sent, answered;
	size_t rcpt_base; /* plan index of the first RCPT */
	size_t batch[SESSION_BATCH_MAX];
	size_t nbatch;
	bool mail_ok;
	bool eod_discard; /* a pipelined DATA got 354 with no recipient: end it, ignore the reply */

	int errors, transactions;
	bool greeted, pipelining, ehlo_first, starttls;
	/* TLS: after the handshake starts, all I/O goes through bev (which owns fd) */
	SSL_CTX *tls_ctx;
	bool implicit_tls, tls;
	struct bufferevent *bev;
	char *banner_host; /* H as the greeting and the EHLO reply name it (NULL: none) */
	char *ehlo_host;
	enum probe_helo helo; /* this connection's greeting, chosen once after the banner */
};

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
const char *session_end_detail(const struct session *s) { return s->detail; }
int session_errors(const struct session *s) { return s->errors; }
bool session_greeted(const struct session *s) { return s->greeted; }

static void session_next(struct session *s);

/* Arms the state's timer, capped by the probe deadline. */
static void
session_arm(struct session *s)
{
	int64_t now = now_mono_ms();
	int64_t ms = session_state_timeout(s->state, s->run->params->timeout_ms);
	struct timeval tv;

	if (now + ms > s->run->deadline_mono)
		ms = s->run->deadline_mono - now;
	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(s->timer, &tv);
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

	if (s->state == SS_DONE)
		return;
	s->end = why;
	s->end_state = s->state;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
	/* attempts whose commands were on the wire run again on the next connection */
	if (why != SE_FINISHED && why != SE_BUDGET) {
		for (size_t i = 0; i < s->nbatch; i++)
			run_interrupted(s->run, s->batch[i]);
	}
	s->nbatch = 0;
	s->state = SS_DONE;
	event_del(s->rev);
	event_del(s->wev);
	event_del(s->timer);
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
	event_active(s->done_ev, EV_TIMEOUT, 0);
}

static void
session_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	s->end_fn(s, s->end_arg);
}

/* Writes as much of the pending output as the socket takes. */
static void
session_flush(struct session *s)
{
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
			event_add(s->wev, NULL);
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
}

static void
session_queue(struct session *s, const char *data, size_t len)
{
	s->out = xrealloc(s->out, s->outlen + len);
	memcpy(s->out + s->outlen, data, len);
	s->outlen += len;
}

/* One command line: logged, queued (flushed by the caller). */
static void
session_cmd(struct session *s, const char *verb, const char *arg)
{
	char line[600];
	int n = snprintf(line, sizeof(line), "%s%s\r\n", verb, arg ? arg : "");

	/* A broken invariant, not input: forms are rendered into 512 bytes (run_prepare
	 * refuses longer ones) and the EHLO name is a validated domain. */
	if (n < 0 || (size_t)n >= sizeof(line))
		fatal("SMTP command too long: %s", verb);
	run_log(s->run, 'C', line, (size_t)n - 2);
	session_queue(s, line, (size_t)n);
}

static void
session_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	session_flush(s);
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
		size_t k = s->sent++;
		char addr[RUN_ADDR_MAX];

		switch (s->plan[k]) {
		case PLAN_RSET:
			session_cmd(s, "RSET", NULL);
			break;
		case PLAN_MAIL:
			run_att_addr(s->run, s->batch[0], RUN_ADDR_FROM, addr);
			session_cmd(s, "MAIL FROM:", addr);
			break;
		case PLAN_DATA:
			session_cmd(s, "DATA", NULL);
			break;
		case PLAN_RCPT_LOCAL:
			run_att_addr(s->run, s->batch[0], RUN_ADDR_LAST, addr);
			session_cmd(s, "RCPT TO:", addr);
			break;
		default:
			run_att_addr(s->run, s->batch[k - s->rcpt_base], RUN_ADDR_RCPT, addr);
			session_cmd(s, "RCPT TO:", addr);
			break;
		}
	}
	session_flush(s);
}

static const enum session_state plan_state[] = {
	[PLAN_RSET] = SS_RSET, [PLAN_MAIL] = SS_MAIL, [PLAN_RCPT] = SS_RCPT, [PLAN_DATA] = SS_DATA,
	[PLAN_RCPT_LOCAL] = SS_RCPT};

static void
session_set_plan_state(struct session *s)
{
	if (s->answered < s->nplan)
		s->state = plan_state[s->plan[s->answered]];
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
	for (size_t i = 0; i < s->nbatch; i++) {
		if (s->run->st[s->batch[i]].rcpt_ok) {
			if (company == 0)
				run_att_token(s->run, s->batch[i], first);
			company++;
		}
	}
	/* Attribution: a form relayed in company may relay only because of the others. */
	for (size_t i = 0; i < s->nbatch; i++) {
		if (s->run->st[s->batch[i]].rcpt_ok)
			s->run->st[s->batch[i]].rcpts = (uint8_t)company;
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
	for (size_t i = 0; i < s->nbatch; i++) {
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

/* After a transaction (or the greeting): start the next one, or QUIT. */
static void
session_next(struct session *s)
{
	struct probe_run *r = s->run;
	int64_t now = now_mono_ms();
	int left = r->err_budget - s->errors;
	size_t ready = 0, max;

	s->nbatch = 0;
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
	if (left < 1 || s->transactions >= SESSION_TX_MAX) {
		session_quit(s, SE_BUDGET);
		return;
	}
	/*
	 * DATA rides in the pipelined group once this server has accepted a
	 * recipient (RFC 2920 allows it last): one round trip less per message.
	 * A refused MAIL makes every pipelined RCPT an error too, and a piped
	 * DATA with no recipient one more: keep room for them.
	 */
	bool pipe_data = s->pipelining && r->rcpt_ok_seen;
	int reserve = pipe_data ? 2 : 1;

	max = left > reserve ? (size_t)(left - reserve) : 1;
	if (max > SESSION_BATCH_MAX)
		max = SESSION_BATCH_MAX;
	s->nbatch = run_next_batch(r, now, s->batch, max);
	if (s->nbatch == 0) {
		session_quit(s, SE_FINISHED);
		return;
	}
	for (size_t i = 0; i < s->nbatch; i++)
		r->st[s->batch[i]].tls = s->tls;
	s->nplan = 0;
	if (s->transactions > 0)
		s->plan[s->nplan++] = PLAN_RSET;
	s->plan[s->nplan++] = PLAN_MAIL;
	s->rcpt_base = s->nplan;
	for (size_t i = 0; i < s->nbatch; i++)
		s->plan[s->nplan++] = PLAN_RCPT;
	if (s->nbatch == 1 && run_att_has_last(r, s->batch[0]))
		s->plan[s->nplan++] = PLAN_RCPT_LOCAL;
	if (pipe_data)
		s->plan[s->nplan++] = PLAN_DATA;
	s->sent = s->answered = 0;
	s->mail_ok = false;
	s->transactions++;
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
		size_t k = s->answered - s->rcpt_base;

		/* the local companion's reply is in the transcript; it decides nothing */
		if (s->plan[s->answered] == PLAN_RCPT_LOCAL)
			return;

		/* after a refused MAIL the RCPT replies say nothing about relaying */
		if (s->mail_ok)
			run_reply(r, s->batch[k], stage, rv, now);
		return;
	}
	for (size_t i = 0; i < s->nbatch; i++) {
		size_t a = s->batch[i];

		if (s->state == SS_MAIL || r->st[a].rcpt_ok)
			run_reply(r, a, stage, rv, now);
	}
}

static void
session_after_plan(struct session *s)
{
	bool any = false;

	for (size_t i = 0; i < s->nbatch; i++)
		any |= s->run->st[s->batch[i]].rcpt_ok && s->run->st[s->batch[i]].state == ATT_RUNNING;
	if (s->mail_ok && any) {
		s->state = SS_DATA;
		session_cmd(s, "DATA", NULL);
		session_flush(s);
		return;
	}
	/* nothing accepted: every attempt of the batch is decided or waiting */
	for (size_t i = 0; i < s->nbatch; i++) {
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
		if (s->state == SS_MAIL)
			s->mail_ok = reply_ok(code);
		if (s->state != SS_RSET)
			session_tx_reply(s, rv);
		s->answered++;
		if (s->answered < s->nplan) {
			/* without PIPELINING a refused MAIL ends the transaction here */
			if (!s->pipelining && !s->mail_ok && s->answered > 0 &&
			    s->plan[s->answered - 1] == PLAN_MAIL) {
				session_next(s);
				return;
			}
			session_set_plan_state(s);
			session_send_plan(s);
			return;
		}
		session_after_plan(s);
		return;
	case SS_DATA: {
		bool any = false;

		for (size_t i = 0; i < s->nbatch; i++)
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
		for (size_t i = 0; i < s->nbatch; i++) {
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
		for (size_t i = 0; i < s->nbatch; i++) {
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
			return;
		}
		int ll = snprintf(logline, sizeof(logline), "%d%c%s", s->parser.code,
				  ev == REPLY_LINE ? '-' : ' ', s->parser.text);
		run_log(s->run, 'S', logline, ll > 0 ? (size_t)ll : 0);
		session_line(s, s->parser.code, s->parser.text, ev == REPLY_FINAL);
		if (ev != REPLY_FINAL)
			continue;
		if (s->state == SS_CONNECT || s->state == SS_DONE ||
		    (s->state >= SS_RSET && s->state <= SS_RCPT && s->answered >= s->sent)) {
			/* a reply to nothing we said (only the QUIT path may see one) */
			session_finish(s, SE_PROTOCOL, "unexpected reply %d in %s", s->parser.code,
				       session_state_name(s->state));
			return;
		}
		struct reply_view rv = {s->parser.code, s->parser.enhanced, s->parser.text};
		session_reply(s, &rv);
		/* each awaited reply gets its state's full time */
		if (s->state != SS_DONE)
			session_arm(s);
	}
	if (s->state == SS_TLS) {
		/* bytes after the 220 would be read as if they came through TLS (CVE-2011-0411) */
		if (off < n) {
			session_finish(s, SE_PROTOCOL, "data after the STARTTLS reply");
			return;
		}
		session_tls_start(s);
	}
}

static void
session_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char buf[SESSION_READ_MAX];
	ssize_t n = recv(s->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		session_closed(s);
		return;
	}
	session_feed(s, buf, (size_t)n);
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
	event_del(s->rev);
	event_del(s->wev);
	reply_init(&s->parser);
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

static void
session_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

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

static void
session_connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		session_finish(s, SE_CONNECT_FAILED, "connect: %s", strerror(err));
		return;
	}
	/* from now on the write event drains pending output */
	event_del(s->wev);
	event_assign(s->wev, s->base, s->fd, EV_WRITE, session_write_cb, s);
	if (s->implicit_tls) {
		session_tls_start(s);
		return;
	}
	s->state = SS_BANNER;
	event_add(s->rev, NULL);
	session_arm(s);
}

struct session *
session_start(struct event_base *base, struct probe_run *run, int port, SSL_CTX *tls,
	      bool implicit_tls, session_end_fn end, void *arg)
{
	struct session *s = xcalloc(1, sizeof(*s));
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
	reply_init(&s->parser);
	s->timer = evtimer_new(base, session_timer_cb, s);
	s->done_ev = event_new(base, -1, 0, session_done_cb, s);
	s->fd = socket(run->res->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		s->rev = event_new(base, -1, 0, session_read_cb, s);
		s->wev = event_new(base, -1, 0, session_write_cb, s);
		session_finish(s, (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
				   errno == ENOMEM)
					  ? SE_RESOURCE
					  : SE_CONNECT_FAILED,
			       "socket: %s", strerror(errno));
		return s;
	}
	s->rev = event_new(base, s->fd, EV_READ | EV_PERSIST, session_read_cb, s);
	s->wev = event_new(base, s->fd, EV_WRITE, session_connected_cb, s);
	run->res->connections++;
	if (connect(s->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int e = errno;

		session_finish(s, e == EAGAIN || e == EADDRNOTAVAIL ? SE_RESOURCE : SE_CONNECT_FAILED,
			       "connect: %s", strerror(e));
		return s;
	}
	event_add(s->wev, NULL);
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
	event_free(s->rev);
	event_free(s->wev);
	event_free(s->timer);
	event_free(s->done_ev);
	free(s->out);
	free(s->banner_host);
	free(s->ehlo_host);
	free(s);
}
