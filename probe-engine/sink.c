/*
 * The sink's SMTP server. It only ever receives: recipients outside the sink
 * domains get 550, nothing is forwarded, and each accepted message becomes a
 * receipt of verified tokens delivered through the owner's callback. Every
 * byte, recipient, session and second a peer can use is bounded. With
 * threads > 1 the sink is a group: one loop per thread, each with a listener
 * on the same port (SO_REUSEPORT, steered by the peer's address), and the
 * receipts come back to the caller's loop.
 */
#include "probe-engine/sink.h"
#include "probe-engine/tls.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/dsn.h"
#include "probe-engine/mailmsg.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#define SINK_DATA_CHUNK 8192  /* longest data line taken whole; longer ones are split */
#define SINK_OUTPUT_MAX 65536 /* unsent replies before we stop reading commands */
#define SINK_HEADER_MAX 1000  /* Subject, Message-ID, Received values kept */
#define SINK_HELO_MAX 256

enum sink_state { SS_GREET, SS_READY, SS_MAIL, SS_RCPT, SS_DATA, SS_CLOSING };

struct sink_session {
	TAILQ_ENTRY(sink_session) link;
	struct sink *sink;
	struct bufferevent *bev;
	struct event *deadline;
	struct addr peer;
	int peer_port;
	char peer_str[ADDR_STRLEN];
	enum sink_state state;
	bool counted; /* holds a slot (not a "too busy" refusal) */
	bool tls;     /* STARTTLS done: ss->bev is the OpenSSL filter over the socket's */
	int drain_checks; /* waits for the last reply to leave, inside TLS */
	bool dead;
	int errors, messages;
	char *helo;
	char *mail_from;
	bool null_sender;
	char **rcpts;
	size_t nrcpts, rcpts_cap;
	bool overload; /* the sink-wide buffer cap was hit during this message */
	char *msg;     /* unstuffed message, '\n' line ends, at most max_message bytes */
	size_t msg_len, msg_cap, msg_size;
	bool line_start;
};

TAILQ_HEAD(sink_session_list, sink_session);

struct sink_pending {
	struct sink_receipt *r;
	struct sink_pending *next;
};

struct sink {
	struct event_base *base;
	struct sink_params p;
	char **domains;
	char *hostname;
	struct evconnlistener *listener;
	struct event *reaper;  /* frees closed sessions outside their callbacks */
	struct event *deliver; /* hands receipts to the owner outside session callbacks */
	struct event *resume;  /* re-enables accepting after an accept error */
	struct sink_session_list sessions, dead;
	struct sink_pending *pending, **pending_tail;
	size_t active, total;
	size_t buffered; /* message bytes held by all sessions, against max_buffered */
	sink_receipt_fn fn;
	void *arg;
	int port;
	bool delivering, dying;
	SSL_CTX *tls; /* NULL: no STARTTLS offered */
	struct sink_stats st;
	uint64_t seq, seq_step; /* receipt ids: loop i of n uses i + k n */

	/* a loop of a group: its thread, what it publishes for sink_stats (under pub_mu) */
	struct sink *group;
	pthread_t thread;
	pthread_mutex_t pub_mu;
	struct sink_stats pub;

	/* a group (the caller's handle): its loops, receipts handed over (under mu) */
	struct sink **loops;
	size_t nloops;
	pthread_mutex_t mu;
	int wake_fd;
	struct event *wake;
	bool running; /* a loop with a thread to join */
};

void
sink_params_defaults(struct sink_params *p)
{
	memset(p, 0, sizeof(*p));
	p->hostname = "relayaudit-sink";
	p->max_line = 1000;
	p->max_message = 1048576;
	p->max_rcpts = 100;
	p->max_sessions = 500;
	p->per_peer = 20;
	p->timeout_ms = 60000;
	p->session_ms = 600000;
	p->max_errors = 20;
	p->max_messages = 100;
	p->max_excerpt = 4096;
	p->max_buffered = 256 * 1024 * 1024;
}

/* A loop of a group: its figures for sink_stats on the caller's thread. */
static void
sink_publish(struct sink *s)
{
	if (s->group == NULL)
		return;
	pthread_mutex_lock(&s->pub_mu);
	s->pub = s->st;
	s->pub.active = s->active;
	pthread_mutex_unlock(&s->pub_mu);
}

static const char *const sink_where_names[] = {
    "rcpt", "sender", "subject", "message_id", "dsn_recipient", "dsn_original", "body"};

const char *
sink_where_name(unsigned bit)
{
	for (size_t i = 0; i < ARRAY_LEN(sink_where_names); i++) {
		if (bit == 1u << i)
			return sink_where_names[i];
	}
	return "?";
}

/* ---- the command parser ---- */

static const struct {
	const char *word;
	enum sink_verb verb;
	const char *keyword; /* "FROM:" / "TO:" that must follow MAIL / RCPT */
} sink_verbs[] = {
    {"HELO", SINK_CMD_HELO, NULL},           {"EHLO", SINK_CMD_EHLO, NULL},
    {"MAIL", SINK_CMD_MAIL, "FROM:"},        {"RCPT", SINK_CMD_RCPT, "TO:"},
    {"DATA", SINK_CMD_DATA, NULL},           {"RSET", SINK_CMD_RSET, NULL},
    {"NOOP", SINK_CMD_NOOP, NULL},           {"QUIT", SINK_CMD_QUIT, NULL},
    {"VRFY", SINK_CMD_VRFY, NULL},           {"HELP", SINK_CMD_HELP, NULL},
    {"AUTH", SINK_CMD_UNSUPPORTED, NULL},    {"STARTTLS", SINK_CMD_STARTTLS, NULL},
    {"BDAT", SINK_CMD_UNSUPPORTED, NULL},    {"EXPN", SINK_CMD_UNSUPPORTED, NULL},
    {"ETRN", SINK_CMD_UNSUPPORTED, NULL},    {"TURN", SINK_CMD_UNSUPPORTED, NULL},
    {"XCLIENT", SINK_CMD_UNSUPPORTED, NULL},
};

int
sink_cmd_parse(const char *line, size_t len, struct sink_cmd *out)
{
	size_t w = 0, p;

	out->verb = SINK_CMD_UNKNOWN;
	out->arg = line;
	out->arg_len = 0;
	while (w < len && line[w] != ' ')
		w++;
	for (size_t i = 0; i < ARRAY_LEN(sink_verbs); i++) {
		size_t kl;

		if (strlen(sink_verbs[i].word) != w ||
		    strncasecmp(line, sink_verbs[i].word, w) != 0)
			continue;
		out->verb = sink_verbs[i].verb;
		p = w;
		while (p < len && line[p] == ' ')
			p++;
		if (sink_verbs[i].keyword != NULL) {
			kl = strlen(sink_verbs[i].keyword);
			if (len - p < kl || strncasecmp(line + p, sink_verbs[i].keyword, kl) != 0)
				return -1;
			p += kl;
			/* Postfix and others accept "MAIL FROM: <x>"; so do we. */
			while (p < len && line[p] == ' ')
				p++;
		}
		out->arg = line + p;
		out->arg_len = len - p;
		/* Trailing spaces are not part of the argument. */
		while (out->arg_len > 0 && out->arg[out->arg_len - 1] == ' ')
			out->arg_len--;
		return 0;
	}
	return 0;
}

static int
sink_path_copy(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (n >= dstlen)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int
sink_path_parse(const char *arg, size_t len, struct sink_path *out, const char **why)
{
	size_t p = 0, start, end, at = SIZE_MAX;
	bool bracketed = false, quoted = false;

	memset(out, 0, sizeof(*out));
	while (p < len && arg[p] == ' ')
		p++;
	if (p < len && arg[p] == '<') {
		bracketed = true;
		p++;
	}
	/* A source route ("@a,@b:") names hosts to go through; the sink ignores it. */
	if (bracketed && p < len && arg[p] == '@') {
		while (p < len && arg[p] != ':' && arg[p] != '>')
			p++;
		if (p == len || arg[p] != ':') {
			*why = "bad source route";
			return -1;
		}
		p++;
	}
	start = p;
	for (; p < len; p++) {
		unsigned char c = (unsigned char)arg[p];

		if (c < 0x20 || c == 0x7f) {
			*why = "control character in address";
			return -1;
		}
		if (quoted) {
			if (c == '\\' && p + 1 < len)
				p++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (c == '"')
			quoted = true;
		else if (c == '@')
			at = p;
		else if (bracketed ? c == '>' : c == ' ')
			break;
		else if (c == ' ' || c == '<' || c == '>') {
			*why = "unexpected character in address";
			return -1;
		}
	}
	if (quoted) {
		*why = "unterminated quoted string";
		return -1;
	}
	end = p;
	if (bracketed) {
		if (p == len) {
			*why = "missing '>'";
			return -1;
		}
		p++;
	}
	if (end == start) {
		if (!bracketed) {
			*why = "empty address";
			return -1;
		}
		out->null = true;
	} else if (at == SIZE_MAX) {
		if (sink_path_copy(out->local, sizeof(out->local), arg + start, end - start) < 0) {
			*why = "local part too long";
			return -1;
		}
	} else {
		if (at == start) {
			*why = "empty local part";
			return -1;
		}
		if (sink_path_copy(out->local, sizeof(out->local), arg + start, at - start) < 0 ||
		    sink_path_copy(out->domain, sizeof(out->domain), arg + at + 1, end - at - 1) <
		        0) {
			*why = "address too long";
			return -1;
		}
	}
	/* ESMTP parameters: only SIZE matters to the sink. */
	while (p < len) {
		size_t q;

		while (p < len && arg[p] == ' ')
			p++;
		q = p;
		while (q < len && arg[q] != ' ')
			q++;
		if (q - p > 5 && strncasecmp(arg + p, "SIZE=", 5) == 0) {
			char num[24];
			int64_t v;

			if (q - p - 5 >= sizeof(num) ||
			    sink_path_copy(num, sizeof(num), arg + p + 5, q - p - 5) < 0 ||
			    parse_i64(num, 0, INT64_MAX, &v) < 0) {
				*why = "bad SIZE parameter";
				return -1;
			}
			out->size = (size_t)v;
		}
		p = q;
	}
	return 0;
}

bool
sink_domain_match(const char *domain, const char *const *domains, size_t n)
{
	size_t len = strlen(domain);

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (strlen(domains[i]) == len && strncasecmp(domain, domains[i], len) == 0)
			return true;
	}
	return false;
}

/* ---- receipts ---- */

/* A printable-ASCII copy of peer text; keep_lines keeps '\n' and '\t'. */
static char *
sink_clean(const char *s, size_t n, bool keep_lines)
{
	char *out = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool ok = (c >= 0x20 && c < 0x7f) || (keep_lines && (c == '\n' || c == '\t'));
		out[i] = ok ? (char)c : '?';
	}
	out[n] = '\0';
	return out;
}

void
sink_receipt_free(struct sink_receipt *r)
{
	if (r == NULL)
		return;
	free(r->helo);
	free(r->mail_from);
	for (size_t i = 0; i < r->nrcpts; i++)
		free(r->rcpts[i]);
	free(r->rcpts);
	free(r->subject);
	free(r->message_id);
	for (size_t i = 0; i < r->nreceived; i++)
		free(r->received[i]);
	free(r->received);
	free(r->dsn_action);
	free(r->dsn_status);
	free(r->dsn_original_rcpt);
	free(r->dsn_final_rcpt);
	free(r->excerpt);
	free(r);
}

struct sink_scan {
	struct sink_receipt *r;
	const struct token_key *key;
	unsigned where;
};

static void
sink_scan_found(void *arg, uint64_t probe_id, unsigned attempt)
{
	struct sink_scan *sc = arg;
	struct sink_receipt *r = sc->r;
	struct sink_token *t;

	for (size_t i = 0; i < r->ntokens; i++) {
		if (r->tokens[i].probe_id == probe_id && r->tokens[i].attempt == attempt) {
			r->tokens[i].where |= sc->where;
			return;
		}
	}
	if (r->ntokens == SINK_MAX_TOKENS)
		return;
	t = &r->tokens[r->ntokens++];
	t->probe_id = probe_id;
	t->attempt = attempt;
	t->where = sc->where;
	token_make(sc->key, probe_id, attempt, t->token);
}

static void
sink_scan(struct sink_scan *sc, unsigned where, const char *text, size_t len)
{
	int forged = 0;

	if (text == NULL || len == 0)
		return;
	sc->where = where;
	token_scan(sc->key, text, len, sink_scan_found, sc, &forged);
	sc->r->forged += forged;
}

static char *
sink_opt(const char *s)
{
	return s[0] != '\0' ? sink_clean(s, strlen(s), false) : NULL;
}

struct sink_receipt *
sink_receipt_make(const struct token_key *key, const char *helo, const char *mail_from,
                  const char *const *rcpts, size_t nrcpts, const char *msg, size_t len,
                  size_t max_excerpt)
{
	struct sink_receipt *r = xcalloc(1, sizeof(*r));
	struct sink_scan sc = {r, key, 0};
	struct mailmsg_header h;
	struct dsn dsn;
	char value[SINK_HEADER_MAX];
	size_t pos = 0, body;

	r->helo = sink_clean(helo, strlen(helo), false);
	r->mail_from = sink_clean(mail_from, strlen(mail_from), false);
	r->null_sender = mail_from[0] == '\0';
	r->rcpts = xcalloc(nrcpts ? nrcpts : 1, sizeof(char *));
	for (size_t i = 0; i < nrcpts; i++) {
		r->rcpts[i] = sink_clean(rcpts[i], strlen(rcpts[i]), false);
		sink_scan(&sc, SINK_IN_RCPT, rcpts[i], strlen(rcpts[i]));
	}
	r->nrcpts = nrcpts;
	sink_scan(&sc, SINK_IN_SENDER, mail_from, strlen(mail_from));

	r->received = xcalloc(SINK_MAX_RECEIVED, sizeof(char *));
	while (mailmsg_next_header(msg, len, &pos, &h) == 1) {
		size_t n = mailmsg_unfold(h.value, h.value_len, value, sizeof(value));

		if (mailmsg_name_is(&h, "Subject") && r->subject == NULL) {
			r->subject = sink_clean(value, n, false);
			sink_scan(&sc, SINK_IN_SUBJECT, value, n);
		} else if (mailmsg_name_is(&h, "Message-ID") && r->message_id == NULL) {
			r->message_id = sink_clean(value, n, false);
			sink_scan(&sc, SINK_IN_MESSAGE_ID, value, n);
		} else if (mailmsg_name_is(&h, "Received") && r->nreceived < SINK_MAX_RECEIVED) {
			r->received[r->nreceived++] = sink_clean(value, n, false);
		}
	}
	body = pos;

	if (dsn_parse(msg, len, &dsn) == 0) {
		r->dsn = true;
		for (size_t i = 0; i < dsn.nrcpt; i++) {
			sink_scan(&sc, SINK_IN_DSN_RECIPIENT, dsn.rcpt[i].original,
			          strlen(dsn.rcpt[i].original));
			sink_scan(&sc, SINK_IN_DSN_RECIPIENT, dsn.rcpt[i].final,
			          strlen(dsn.rcpt[i].final));
		}
		if (dsn.nrcpt > 0) {
			r->dsn_action = sink_opt(dsn.rcpt[0].action);
			r->dsn_status = sink_opt(dsn.rcpt[0].status);
			r->dsn_original_rcpt = sink_opt(dsn.rcpt[0].original);
			r->dsn_final_rcpt = sink_opt(dsn.rcpt[0].final);
		}
		sink_scan(&sc, SINK_IN_DSN_ORIGINAL, dsn.original, dsn.original_len);
	}
	r->bounce = r->dsn || r->null_sender;
	/* Bounces that are not DSNs quote the original in plain text. */
	sink_scan(&sc, SINK_IN_BODY, msg + body, len - body);

	r->size = len;
	r->excerpt_truncated = len > max_excerpt;
	r->excerpt = sink_clean(msg, len < max_excerpt ? len : max_excerpt, true);
	r->received_ms = now_wall_ms();
	return r;
}

/* ---- sessions ---- */

static void sink_session_process(struct sink_session *ss);

static void
sink_reply(struct sink_session *ss, const char *fmt, ...)
{
	va_list ap;
	struct evbuffer *out = bufferevent_get_output(ss->bev);

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

static void
sink_transaction_reset(struct sink_session *ss)
{
	free(ss->mail_from);
	ss->mail_from = NULL;
	ss->null_sender = false;
	for (size_t i = 0; i < ss->nrcpts; i++)
		free(ss->rcpts[i]);
	ss->nrcpts = 0;
	free(ss->msg);
	ss->sink->buffered -= ss->msg_cap;
	ss->msg = NULL;
	ss->msg_len = ss->msg_cap = ss->msg_size = 0;
	ss->overload = false;
}

/* Marks the session closed; the reaper frees it outside any of its callbacks. */
static void
sink_session_close(struct sink_session *ss, const char *why)
{
	struct sink *s = ss->sink;

	if (ss->dead)
		return;
	ss->dead = true;
	ss->state = SS_CLOSING;
	log_debug("sink_session_end", "peer=%s reason=%s messages=%d", ss->peer_str, why,
	          ss->messages);
	TAILQ_REMOVE(&s->sessions, ss, link);
	TAILQ_INSERT_TAIL(&s->dead, ss, link);
	if (ss->counted)
		s->active--;
	s->total--;
	sink_publish(s);
	bufferevent_disable(ss->bev, EV_READ | EV_WRITE);
	evtimer_del(ss->deadline);
	event_active(s->reaper, EV_TIMEOUT, 0);
}

/* Sends a last reply and closes once it has been written. */
static void
sink_session_finish(struct sink_session *ss, const char *reply)
{
	sink_reply(ss, "%s", reply);
	ss->state = SS_CLOSING;
	bufferevent_disable(ss->bev, EV_READ);
}

static void
sink_session_free(struct sink_session *ss)
{
	sink_transaction_reset(ss);
	free(ss->rcpts);
	free(ss->helo);
	bufferevent_free(ss->bev);
	event_free(ss->deadline);
	free(ss);
}

static void
sink_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink *s = arg;
	struct sink_session *ss;

	while ((ss = TAILQ_FIRST(&s->dead)) != NULL) {
		TAILQ_REMOVE(&s->dead, ss, link);
		sink_session_free(ss);
	}
}

static void sink_destroy(struct sink *s);

static void
sink_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink *s = arg;
	struct sink_pending *pd;

	s->delivering = true;
	while (!s->dying && (pd = s->pending) != NULL) {
		s->pending = pd->next;
		if (s->pending == NULL)
			s->pending_tail = &s->pending;
		s->fn(pd->r, s->arg);
		free(pd);
	}
	s->delivering = false;
	if (s->dying)
		sink_destroy(s); /* sink_free was called from the callback */
}

static void
sink_error(struct sink_session *ss, const char *reply)
{
	sink_reply(ss, "%s", reply);
	if (++ss->errors >= ss->sink->p.max_errors)
		sink_session_finish(ss, "421 4.7.0 Too many errors, closing connection");
}

/* ---- command handlers, one per verb ---- */

static void
sink_cmd_helo(struct sink_session *ss, const struct sink_cmd *c)
{
	struct sink *s = ss->sink;

	if (c->arg_len == 0) {
		sink_error(ss, "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	sink_transaction_reset(ss);
	free(ss->helo);
	ss->helo = xstrndup(c->arg, c->arg_len < SINK_HELO_MAX ? c->arg_len : SINK_HELO_MAX);
	ss->state = SS_READY;
	if (c->verb == SINK_CMD_HELO) {
		sink_reply(ss, "250 %s", s->hostname);
		return;
	}
	sink_reply(ss, "250-%s", s->hostname);
	sink_reply(ss, "250-PIPELINING");
	sink_reply(ss, "250-SIZE %zu", s->p.max_message);
	sink_reply(ss, "250-8BITMIME");
	if (s->tls != NULL && !ss->tls)
		sink_reply(ss, "250-STARTTLS");
	sink_reply(ss, "250 ENHANCEDSTATUSCODES");
}

static void sink_read_cb(struct bufferevent *bev, void *arg);
static void sink_write_cb(struct bufferevent *bev, void *arg);
static void sink_event_cb(struct bufferevent *bev, short what, void *arg);
static void sink_session_limits(struct sink_session *ss);

/*
 * RFC 3207: 220, then the server side of the handshake in an OpenSSL filter
 * over the socket's bufferevent (the 220 already queued there goes out
 * first). Whatever the client sent after STARTTLS is thrown away, so no
 * plaintext can pose as having come through TLS; the session starts over.
 */
static void
sink_cmd_starttls(struct sink_session *ss, const struct sink_cmd *c)
{
	struct sink *s = ss->sink;
	struct bufferevent *under = ss->bev, *filter;
	SSL *ssl;

	if (s->tls == NULL || ss->tls) {
		sink_error(ss, s->tls ? "503 5.5.1 TLS already active" : "502 5.5.1 Command not implemented");
		return;
	}
	if (c->arg_len != 0) {
		sink_error(ss, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	ssl = SSL_new(s->tls);
	if (ssl == NULL) {
		sink_reply(ss, "454 4.7.0 TLS not available due to local problem");
		return;
	}
	sink_reply(ss, "220 2.0.0 Ready to start TLS");
	evbuffer_drain(bufferevent_get_input(under), evbuffer_get_length(bufferevent_get_input(under)));
	filter = bufferevent_openssl_filter_new(s->base, under, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                        BEV_OPT_CLOSE_ON_FREE);
	if (filter == NULL) {
		SSL_free(ssl);
		sink_session_finish(ss, "421 4.7.0 TLS not available due to local problem");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
	ss->bev = filter;
	ss->tls = true;
	sink_transaction_reset(ss);
	free(ss->helo);
	ss->helo = NULL;
	ss->state = SS_GREET;
	bufferevent_setcb(filter, sink_read_cb, sink_write_cb, sink_event_cb, ss);
	sink_session_limits(ss);
	bufferevent_enable(filter, EV_READ | EV_WRITE);
}

static void
sink_cmd_mail(struct sink_session *ss, const struct sink_cmd *c)
{
	struct sink_path path;
	const char *why;

	if (ss->messages >= ss->sink->p.max_messages) {
		sink_session_finish(ss, "421 4.7.0 Too many messages in one session");
		return;
	}
	if (sink_path_parse(c->arg, c->arg_len, &path, &why) < 0) {
		sink_error(ss, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if (path.size > ss->sink->p.max_message) {
		sink_reply(ss, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	ss->null_sender = path.null;
	ss->mail_from = path.null        ? xstrdup("")
	                : path.domain[0] ? xasprintf("%s@%s", path.local, path.domain)
	                                 : xstrdup(path.local);
	ss->state = SS_MAIL;
	sink_reply(ss, "250 2.1.0 Ok");
}

static void
sink_cmd_rcpt(struct sink_session *ss, const struct sink_cmd *c)
{
	struct sink *s = ss->sink;
	struct sink_path path;
	const char *why;
	char clean[128];

	if (sink_path_parse(c->arg, c->arg_len, &path, &why) < 0 || path.null) {
		sink_error(ss, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	/* RFC 5321 4.5.1: unqualified postmaster must be accepted. */
	bool postmaster = path.domain[0] == '\0' && strcasecmp(path.local, "postmaster") == 0;
	if (!postmaster &&
	    !sink_domain_match(path.domain, (const char *const *)s->domains, s->p.ndomains)) {
		s->st.refused_rcpts++;
		sink_publish(s);
		log_info("sink_rcpt_refused", "peer=%s domain=\"%s\"", ss->peer_str,
		         log_censor(clean, sizeof(clean), path.domain, strlen(path.domain)));
		sink_error(ss, "550 5.7.1 Relay access denied");
		return;
	}
	if ((int)ss->nrcpts >= s->p.max_rcpts) {
		sink_reply(ss, "452 4.5.3 Too many recipients");
		return;
	}
	if (ss->nrcpts == ss->rcpts_cap) {
		ss->rcpts_cap = ss->rcpts_cap ? ss->rcpts_cap * 2 : 8;
		ss->rcpts = xrealloc(ss->rcpts, ss->rcpts_cap * sizeof(char *));
	}
	ss->rcpts[ss->nrcpts++] =
	    postmaster ? xstrdup(path.local) : xasprintf("%s@%s", path.local, path.domain);
	ss->state = SS_RCPT;
	sink_reply(ss, "250 2.1.5 Ok");
}

static void
sink_cmd_data(struct sink_session *ss, const struct sink_cmd *c)
{
	if (ss->state == SS_MAIL) {
		sink_reply(ss, "554 5.5.1 No valid recipients");
		return;
	}
	ss->state = SS_DATA;
	ss->line_start = true;
	sink_reply(ss, "354 End data with <CR><LF>.<CR><LF>");
}

static void
sink_cmd_rset(struct sink_session *ss, const struct sink_cmd *c)
{
	sink_transaction_reset(ss);
	ss->state = ss->helo ? SS_READY : SS_GREET;
	sink_reply(ss, "250 2.0.0 Ok");
}

static void
sink_cmd_simple(struct sink_session *ss, const struct sink_cmd *c)
{
	static const char *const replies[SINK_CMD__COUNT] = {
	    [SINK_CMD_NOOP] = "250 2.0.0 Ok",
	    [SINK_CMD_VRFY] = "252 2.0.0 Cannot VRFY user; try RCPT",
	    [SINK_CMD_HELP] = "214 2.0.0 relayaudit sink: see the abuse desk's documentation",
	};
	sink_reply(ss, "%s", replies[c->verb]);
}

static void
sink_cmd_quit(struct sink_session *ss, const struct sink_cmd *c)
{
	sink_session_finish(ss, "221 2.0.0 Bye");
}

static void
sink_cmd_unsupported(struct sink_session *ss, const struct sink_cmd *c)
{
	sink_error(ss, "502 5.5.1 Command not implemented");
}

#define ST(x) (1u << (x))
#define ST_ANY (ST(SS_GREET) | ST(SS_READY) | ST(SS_MAIL) | ST(SS_RCPT))

static const struct {
	void (*fn)(struct sink_session *, const struct sink_cmd *);
	unsigned states; /* where the verb is in sequence */
} sink_handlers[SINK_CMD__COUNT] = {
    [SINK_CMD_HELO] = {sink_cmd_helo, ST_ANY},
    [SINK_CMD_EHLO] = {sink_cmd_helo, ST_ANY},
    [SINK_CMD_MAIL] = {sink_cmd_mail, ST(SS_READY)},
    [SINK_CMD_RCPT] = {sink_cmd_rcpt, ST(SS_MAIL) | ST(SS_RCPT)},
    [SINK_CMD_DATA] = {sink_cmd_data, ST(SS_MAIL) | ST(SS_RCPT)},
    [SINK_CMD_RSET] = {sink_cmd_rset, ST_ANY},
    [SINK_CMD_NOOP] = {sink_cmd_simple, ST_ANY},
    [SINK_CMD_VRFY] = {sink_cmd_simple, ST_ANY},
    [SINK_CMD_HELP] = {sink_cmd_simple, ST_ANY},
    [SINK_CMD_QUIT] = {sink_cmd_quit, ST_ANY},
    [SINK_CMD_UNSUPPORTED] = {sink_cmd_unsupported, ST_ANY},
    [SINK_CMD_STARTTLS] = {sink_cmd_starttls, ST(SS_GREET) | ST(SS_READY)},
};

static void
sink_command(struct sink_session *ss, const char *line, size_t len)
{
	struct sink_cmd c;

	if (sink_cmd_parse(line, len, &c) < 0) {
		sink_error(ss, "501 5.5.4 Syntax error in parameters");
		return;
	}
	if (c.verb == SINK_CMD_UNKNOWN || sink_handlers[c.verb].fn == NULL) {
		sink_error(ss, "500 5.5.2 Command unrecognized");
		return;
	}
	if (!(sink_handlers[c.verb].states & ST(ss->state))) {
		sink_error(ss, "503 5.5.1 Bad sequence of commands");
		return;
	}
	sink_handlers[c.verb].fn(ss, &c);
}

/* ---- data ---- */

static void
sink_message_append(struct sink_session *ss, const char *p, size_t n, bool eol)
{
	size_t max = ss->sink->p.max_message, add = n + (eol ? 1 : 0);

	ss->msg_size += add;
	if (ss->msg_size > max || ss->overload)
		return; /* keep reading to the dot, then refuse with 552 or 452 */
	if (ss->msg_len + add + 1 > ss->msg_cap) {
		struct sink *s = ss->sink;
		size_t cap = ss->msg_cap ? ss->msg_cap : 4096;

		while (cap < ss->msg_len + add + 1)
			cap *= 2;
		/* Many big messages at once must not exhaust memory: defer some instead. */
		if (s->buffered - ss->msg_cap + cap > s->p.max_buffered) {
			ss->overload = true;
			return;
		}
		ss->msg = xrealloc(ss->msg, cap);
		s->buffered += cap - ss->msg_cap;
		ss->msg_cap = cap;
	}
	memcpy(ss->msg + ss->msg_len, p, n);
	ss->msg_len += n;
	if (eol)
		ss->msg[ss->msg_len++] = '\n';
	ss->msg[ss->msg_len] = '\0';
}

static void
sink_message_done(struct sink_session *ss)
{
	struct sink *s = ss->sink;
	struct sink_receipt *r;
	struct sink_pending *pd;

	ss->state = SS_READY;
	if (ss->msg_size > s->p.max_message) {
		log_info("sink_message_refused", "peer=%s reason=size size=%zu", ss->peer_str,
		         ss->msg_size);
		sink_transaction_reset(ss);
		sink_reply(ss, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (ss->overload) {
		log_warn("sink_message_deferred", "peer=%s reason=memory buffered=%zu",
		         ss->peer_str, s->buffered);
		sink_transaction_reset(ss);
		/* Temporary: the sender keeps the message and retries, so no proof is lost. */
		sink_reply(ss, "452 4.3.1 Insufficient system storage, try again later");
		return;
	}
	r = sink_receipt_make(&s->p.key, ss->helo ? ss->helo : "", ss->mail_from,
	                      (const char *const *)ss->rcpts, ss->nrcpts, ss->msg ? ss->msg : "",
	                      ss->msg_len, s->p.max_excerpt);
	r->peer = ss->peer;
	r->peer_port = ss->peer_port;
	r->tls = ss->tls;
	s->seq += s->seq_step;
	snprintf(r->id, sizeof(r->id), "%08" PRIx64 "%06" PRIx64,
	         (uint64_t)(r->received_ms / 1000) & 0xffffffff, s->seq & 0xffffff);
	ss->messages++;
	s->st.messages++;
	s->st.tokens += r->ntokens;
	s->st.forged += (uint64_t)r->forged;
	sink_publish(s);
	log_info("sink_message",
	         "id=%s peer=%s rcpts=%zu size=%zu bounce=%d dsn=%d tokens=%zu forged=%d tls=%d",
	         r->id, ss->peer_str, r->nrcpts, r->size, r->bounce, r->dsn, r->ntokens, r->forged,
	         r->tls);
	if (r->forged > 0)
		log_warn("sink_forged_token", "id=%s peer=%s count=%d", r->id, ss->peer_str,
		         r->forged);
	sink_reply(ss, "250 2.0.0 Ok: queued as %s", r->id);
	sink_transaction_reset(ss);

	pd = xcalloc(1, sizeof(*pd));
	pd->r = r;
	*s->pending_tail = pd;
	s->pending_tail = &pd->next;
	event_active(s->deliver, EV_TIMEOUT, 0);
}

/* One data line (or chunk of an over-long one); false when input ran dry. */
static bool
sink_data_line(struct sink_session *ss)
{
	struct evbuffer *in = bufferevent_get_input(ss->bev);
	struct evbuffer_ptr eol;
	size_t eol_len = 0, avail = evbuffer_get_length(in), n;
	bool has_eol;
	char *line;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	has_eol = eol.pos >= 0 && (size_t)eol.pos < SINK_DATA_CHUNK;
	if (!has_eol && avail < SINK_DATA_CHUNK)
		return false;
	n = has_eol ? (size_t)eol.pos : SINK_DATA_CHUNK;
	line = xmalloc(n + 1);
	evbuffer_remove(in, line, n);
	if (has_eol)
		evbuffer_drain(in, eol_len);
	if (has_eol && n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	if (ss->line_start && n == 1 && line[0] == '.' && has_eol) {
		free(line);
		sink_message_done(ss);
		return true;
	}
	/* Dot-unstuffing (RFC 5321 4.5.2): only at the start of a line. */
	if (ss->line_start && n > 0 && line[0] == '.')
		sink_message_append(ss, line + 1, n - 1, has_eol);
	else
		sink_message_append(ss, line, n, has_eol);
	ss->line_start = has_eol;
	free(line);
	return true;
}

/* One command line; false when input ran dry. */
static bool
sink_command_line(struct sink_session *ss)
{
	struct evbuffer *in = bufferevent_get_input(ss->bev);
	struct evbuffer_ptr eol;
	size_t eol_len = 0, n, max = ss->sink->p.max_line;
	char *line;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos < 0 || (size_t)eol.pos + eol_len > max) {
		if (eol.pos >= 0 || evbuffer_get_length(in) > max) {
			log_info("sink_line_too_long", "peer=%s", ss->peer_str);
			sink_session_finish(ss, "500 5.5.2 Line too long");
			return true;
		}
		return false;
	}
	n = (size_t)eol.pos;
	line = xmalloc(n + 1);
	evbuffer_remove(in, line, n);
	evbuffer_drain(in, eol_len);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	sink_command(ss, line, n);
	free(line);
	return true;
}

static void
sink_session_process(struct sink_session *ss)
{
	struct evbuffer *out = bufferevent_get_output(ss->bev);

	/* Bounded by the input the read watermark lets in. */
	while (!ss->dead && ss->state != SS_CLOSING) {
		if (evbuffer_get_length(out) > SINK_OUTPUT_MAX)
			break; /* a peer that pipelines but never reads: wait for the write side */
		if (ss->state == SS_DATA ? !sink_data_line(ss) : !sink_command_line(ss))
			break;
	}
}

static void
sink_read_cb(struct bufferevent *bev, void *arg)
{
	sink_session_process(arg);
}

/* Inside TLS the last reply may still sit in the socket's bufferevent under the filter. */
static bool
sink_tls_draining(struct sink_session *ss)
{
	struct bufferevent *under = ss->tls ? bufferevent_get_underlying(ss->bev) : NULL;

	return under != NULL && evbuffer_get_length(bufferevent_get_output(under)) > 0 &&
	       ss->drain_checks++ < 100;
}

static void
sink_write_cb(struct bufferevent *bev, void *arg)
{
	struct sink_session *ss = arg;
	struct timeval soon = {0, 20000};

	if (ss->state == SS_CLOSING && sink_tls_draining(ss))
		evtimer_add(ss->deadline, &soon); /* look again shortly (at most 2 s) */
	else if (ss->state == SS_CLOSING)
		sink_session_close(ss, "closed by sink");
	else
		sink_session_process(ss); /* resume after output back-pressure */
}

static void
sink_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sink_session *ss = arg;

	if (what & BEV_EVENT_CONNECTED)
		return; /* the STARTTLS handshake completed: the session goes on inside TLS */
	sink_session_close(ss, (what & BEV_EVENT_TIMEOUT) ? "timeout"
	                       : (what & BEV_EVENT_EOF)   ? "eof"
	                                                  : "error");
}

static void
sink_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink_session *ss = arg;

	if (ss->state == SS_CLOSING) {
		if (sink_tls_draining(ss)) {
			struct timeval soon = {0, 20000};

			evtimer_add(ss->deadline, &soon);
			return;
		}
		sink_session_close(ss, "deadline");
		return;
	}
	bufferevent_enable(ss->bev, EV_WRITE);
	sink_session_finish(ss, "421 4.4.2 Session time limit exceeded");
	/* If even that cannot be written, the next expiry closes for good. */
	struct timeval tv = {5, 0};
	evtimer_add(ss->deadline, &tv);
}

/* ---- the listener ---- */

static size_t
sink_peer_count(const struct sink *s, const struct addr *a)
{
	size_t n = 0;
	const struct sink_session *ss;

	TAILQ_FOREACH(ss, &s->sessions, link)
	n += ss->counted && addr_equal(&ss->peer, a);
	return n;
}

/* Idle timeouts and the read watermark of ss->bev (again on the TLS filter). */
static void
sink_session_limits(struct sink_session *ss)
{
	const struct sink *s = ss->sink;
	struct timeval idle;

	idle.tv_sec = s->p.timeout_ms / 1000;
	idle.tv_usec = (s->p.timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(ss->bev, &idle, &idle);
	/* Stop reading while a whole line or data chunk is already waiting. */
	bufferevent_setwatermark(
	    ss->bev, EV_READ, 0,
	    2 * (s->p.max_line > SINK_DATA_CHUNK ? s->p.max_line : SINK_DATA_CHUNK));
}

static void sink_accept(struct sink *s, evutil_socket_t fd, struct sockaddr *sa);

static void
sink_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
               void *arg)
{
	sink_accept(arg, fd, sa);
	sink_publish(arg);
}

static void
sink_accept(struct sink *s, evutil_socket_t fd, struct sockaddr *sa)
{
	struct sink_session *ss;
	struct addr peer;
	int port = 0;
	const char *busy = NULL;
	struct timeval whole;

	if (addr_from_sockaddr(sa, &peer, &port) < 0) {
		close(fd);
		return;
	}
	if (s->active >= (size_t)s->p.max_sessions)
		busy = "421 4.3.2 Too many connections, try again later";
	else if (sink_peer_count(s, &peer) >= (size_t)s->p.per_peer)
		busy = "421 4.7.0 Too many connections from your address";
	/* Refusals get their 421 while a few spare slots last; beyond that just close. */
	if (busy && s->total >= (size_t)s->p.max_sessions + 64) {
		s->st.refused_sessions++;
		close(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	ss = xcalloc(1, sizeof(*ss));
	ss->sink = s;
	ss->peer = peer;
	ss->peer_port = port;
	addr_format(&peer, ss->peer_str, sizeof(ss->peer_str));
	ss->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	ss->deadline = evtimer_new(s->base, sink_deadline_cb, ss);
	if (ss->bev == NULL || ss->deadline == NULL) {
		/* A connection the loop cannot take on is dropped, not the whole sink. */
		log_warn("sink_session_dropped", "peer=%s reason=\"no memory for a session\"",
			 ss->peer_str);
		if (ss->bev != NULL)
			bufferevent_free(ss->bev);
		else
			close(fd);
		if (ss->deadline != NULL)
			event_free(ss->deadline);
		free(ss);
		s->st.refused_sessions++;
		return;
	}
	TAILQ_INSERT_TAIL(&s->sessions, ss, link);
	s->total++;
	s->st.sessions++;
	bufferevent_setcb(ss->bev, sink_read_cb, sink_write_cb, sink_event_cb, ss);
	whole.tv_sec = s->p.session_ms / 1000;
	whole.tv_usec = (s->p.session_ms % 1000) * 1000;
	sink_session_limits(ss);
	evtimer_add(ss->deadline, &whole);
	if (busy) {
		s->st.refused_sessions++;
		log_info("sink_session_refused", "peer=%s reason=\"%s\"", ss->peer_str, busy + 10);
		bufferevent_enable(ss->bev, EV_WRITE);
		sink_session_finish(ss, busy);
		return;
	}
	ss->counted = true;
	s->active++;
	log_debug("sink_session", "peer=%s port=%d active=%zu", ss->peer_str, port, s->active);
	sink_reply(ss, "220 %s ESMTP relayaudit sink", s->hostname);
	bufferevent_enable(ss->bev, EV_READ | EV_WRITE);
}

static void
sink_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink *s = arg;

	evconnlistener_enable(s->listener);
}

static void
sink_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct sink *s = arg;
	struct timeval tv = {1, 0};
	int err = EVUTIL_SOCKET_ERROR();

	/* Out of descriptors: pause accepting for a second instead of spinning. */
	log_warn("sink_accept_error", "error=\"%s\"", evutil_socket_error_to_string(err));
	evconnlistener_disable(l);
	evtimer_add(s->resume, &tv);
}

/*
 * A group's listeners share the port; the kernel picks one by this program:
 * the peer's address (IPv4, or the last 32 bits of IPv6) modulo the loops,
 * so all of one peer's connections meet in one loop and per_peer holds.
 */
static void
sink_steer(int fd, size_t nloops)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 2, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
		BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 20),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (uint32_t)nloops),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = {ARRAY_LEN(code), code};

	/* without it the kernel hashes the connection: per_peer then counts per loop */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) < 0)
		log_warn("sink_steer", "error=\"%s\" effect=\"per_peer counts per loop\"",
			 strerror(errno));
}

static struct sink *
sink_loop_new(struct event_base *base, const struct sink_params *p, const struct addr *addr,
	      int port, sink_receipt_fn fn, void *arg, bool reuseport, const char **why)
{
	struct sink *s;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (p->ndomains == 0) {
		*why = "no sink domain";
		return NULL;
	}
	if (p->max_rcpts < 1 || p->max_sessions < 1 || p->per_peer < 1 || p->max_line < 64 ||
	    p->timeout_ms < 1 || p->session_ms < 1 || p->max_errors < 1 || p->max_messages < 1 ||
	    p->max_buffered < 4096) {
		*why = "sink limits out of range";
		return NULL;
	}
	SSL_CTX *tls = NULL;
	if (p->tls_cert != NULL && p->tls_cert[0] != '\0') {
		if (p->tls_key == NULL || p->tls_key[0] == '\0') {
			*why = "sink_tls_cert without sink_tls_key";
			return NULL;
		}
		tls = tls_server_ctx_new(p->tls_cert, p->tls_key, why);
		if (tls == NULL)
			return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->tls = tls;
	s->base = base;
	s->p = *p;
	s->hostname = xstrdup(p->hostname ? p->hostname : "relayaudit-sink");
	s->p.hostname = s->hostname;
	s->domains = xcalloc(p->ndomains, sizeof(char *));
	for (size_t i = 0; i < p->ndomains; i++)
		s->domains[i] = xstrdup(p->domains[i]);
	s->p.domains = (const char *const *)s->domains;
	s->p.tls_cert = s->p.tls_key = NULL; /* loaded into s->tls; the caller's strings may go */
	s->fn = fn;
	s->arg = arg;
	TAILQ_INIT(&s->sessions);
	TAILQ_INIT(&s->dead);
	s->pending_tail = &s->pending;
	s->reaper = event_new(base, -1, 0, sink_reap_cb, s);
	s->deliver = event_new(base, -1, 0, sink_deliver_cb, s);
	s->resume = evtimer_new(base, sink_resume_cb, s);
	sl = addr_to_sockaddr(addr, port, &ss);
	s->seq_step = 1;
	s->wake_fd = -1;
	s->listener = evconnlistener_new_bind(base, sink_accept_cb, s,
	                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	                                          (reuseport ? LEV_OPT_REUSEABLE_PORT : 0),
	                                      128, (struct sockaddr *)&ss, (int)sl);
	if (s->listener == NULL) {
		*why = strerror(errno);
		sink_destroy(s);
		return NULL;
	}
	evconnlistener_set_error_cb(s->listener, sink_accept_error_cb);
	{
		struct sockaddr_storage bound;
		socklen_t bl = sizeof(bound);
		struct addr a;

		if (getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&bound,
		                &bl) == 0)
			addr_from_sockaddr((struct sockaddr *)&bound, &a, &s->port);
	}
	return s;
}


static void
sink_group_wake_cb(evutil_socket_t fd, short what, void *arg);

/* On a loop's thread: a receipt goes over to the group, for the caller's loop. */
static void
sink_group_receipt(struct sink_receipt *r, void *arg)
{
	struct sink *g = arg;
	struct sink_pending *pd = xcalloc(1, sizeof(*pd));
	uint64_t one = 1;

	pd->r = r;
	pthread_mutex_lock(&g->mu);
	*g->pending_tail = pd;
	g->pending_tail = &pd->next;
	pthread_mutex_unlock(&g->mu);
	if (write(g->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("sink_wake", "error=\"%s\"", strerror(errno));
}

/* A loop's wakeup: only ever to stop. */
static void
sink_loop_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink *s = arg;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("sink_wake", "error=\"%s\"", strerror(errno));
	event_base_loopbreak(s->base);
}

static void *
sink_loop_thread(void *arg)
{
	struct sink *s = arg;

	event_base_dispatch(s->base);
	return NULL;
}

static void sink_group_destroy(struct sink *g);

static struct sink *
sink_group_new(struct event_base *base, const struct sink_params *p, const struct addr *addr,
	       int port, sink_receipt_fn fn, void *arg, const char **why)
{
	struct sink *g = xcalloc(1, sizeof(*g));
	struct sink_params lp = *p;
	size_t n = (size_t)p->threads;

	g->base = base;
	g->fn = fn;
	g->arg = arg;
	g->pending_tail = &g->pending;
	pthread_mutex_init(&g->mu, NULL);
	g->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g->wake_fd < 0) {
		*why = strerror(errno);
		free(g);
		return NULL;
	}
	g->wake = event_new(base, g->wake_fd, EV_READ | EV_PERSIST, sink_group_wake_cb, g);
	event_add(g->wake, NULL);
	/* the limits are the sink's, shared out over its loops */
	lp.max_sessions = p->max_sessions / (int)n > 0 ? p->max_sessions / (int)n : 1;
	lp.max_buffered = p->max_buffered / n >= 4096 ? p->max_buffered / n : 4096;
	g->loops = xcalloc(n, sizeof(*g->loops));
	for (size_t i = 0; i < n; i++) {
		struct event_base *b = event_base_new();
		struct sink *s;

		s = b ? sink_loop_new(b, &lp, addr, port, sink_group_receipt, g, true, why) : NULL;
		if (s == NULL) {
			if (b == NULL)
				*why = "event_base_new failed";
			else
				event_base_free(b);
			sink_group_destroy(g);
			return NULL;
		}
		g->loops[g->nloops++] = s;
		s->group = g;
		s->seq = i;
		s->seq_step = n;
		pthread_mutex_init(&s->pub_mu, NULL);
		if (i == 0) {
			port = s->port; /* port 0: the others join the one the kernel picked */
			g->port = s->port;
			sink_steer(evconnlistener_get_fd(s->listener), n);
		}
		s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (s->wake_fd < 0) {
			*why = strerror(errno);
			sink_group_destroy(g);
			return NULL;
		}
		s->wake = event_new(b, s->wake_fd, EV_READ | EV_PERSIST, sink_loop_wake_cb, s);
		event_add(s->wake, NULL);
	}
	if (g->loops[0]->tls != NULL) {
		/*
		 * libevent makes its OpenSSL filter's BIO method on first use, unlocked:
		 * make it here, before two loops could race to.
		 */
		struct bufferevent *under = bufferevent_socket_new(base, -1, 0);
		SSL *ssl = SSL_new(g->loops[0]->tls);
		struct bufferevent *f = under && ssl ? bufferevent_openssl_filter_new(
							   base, under, ssl, BUFFEREVENT_SSL_ACCEPTING,
							   BEV_OPT_CLOSE_ON_FREE)
						     : NULL;

		if (f != NULL)
			bufferevent_free(f); /* frees ssl and under with it */
		else {
			if (ssl)
				SSL_free(ssl);
			if (under)
				bufferevent_free(under);
		}
	}
	for (size_t i = 0; i < g->nloops; i++) {
		int rc = pthread_create(&g->loops[i]->thread, NULL, sink_loop_thread, g->loops[i]);

		if (rc != 0)
			fatal("sink: pthread_create: %s", strerror(rc));
		g->loops[i]->running = true;
	}
	return g;
}

/* On the caller's loop: the receipts the loops handed over, to the owner. */
static void
sink_group_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink *g = arg;
	struct sink_pending *pd;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("sink_wake", "error=\"%s\"", strerror(errno));
	g->delivering = true;
	for (;;) {
		pthread_mutex_lock(&g->mu);
		pd = g->dying ? NULL : g->pending;
		if (pd != NULL) {
			g->pending = pd->next;
			if (g->pending == NULL)
				g->pending_tail = &g->pending;
		}
		pthread_mutex_unlock(&g->mu);
		if (pd == NULL)
			break;
		g->fn(pd->r, g->arg);
		free(pd);
	}
	g->delivering = false;
	if (g->dying)
		sink_group_destroy(g); /* sink_free was called from the callback */
}

/* Stops and joins every loop, then frees them and what they handed over. */
static void
sink_group_destroy(struct sink *g)
{
	struct sink_pending *pd;

	for (size_t i = 0; i < g->nloops; i++) {
		struct sink *s = g->loops[i];
		uint64_t one = 1;

		if (s->running) {
			if (write(s->wake_fd, &one, sizeof(one)) < 0)
				log_warn("sink_wake", "error=\"%s\"", strerror(errno));
			pthread_join(s->thread, NULL);
		}
	}
	for (size_t i = 0; i < g->nloops; i++) {
		struct sink *s = g->loops[i];
		struct event_base *b = s->base;

		if (s->wake)
			event_free(s->wake);
		if (s->wake_fd >= 0)
			close(s->wake_fd);
		pthread_mutex_destroy(&s->pub_mu);
		sink_destroy(s);
		event_base_free(b);
	}
	free(g->loops);
	while ((pd = g->pending) != NULL) {
		g->pending = pd->next;
		sink_receipt_free(pd->r);
		free(pd);
	}
	if (g->wake)
		event_free(g->wake);
	if (g->wake_fd >= 0)
		close(g->wake_fd);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

struct sink *
sink_new(struct event_base *base, const struct sink_params *p, const struct addr *addr, int port,
         sink_receipt_fn fn, void *arg, const char **why)
{
	if (p->threads > 1)
		return sink_group_new(base, p, addr, port, fn, arg, why);
	return sink_loop_new(base, p, addr, port, fn, arg, false, why);
}

int
sink_port(const struct sink *s)
{
	return s->port;
}

void
sink_stats(const struct sink *s, struct sink_stats *out)
{
	if (s->loops == NULL) {
		*out = s->st;
		out->active = s->active;
		return;
	}
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < s->nloops; i++) {
		struct sink *l = s->loops[i];
		struct sink_stats st;

		pthread_mutex_lock(&l->pub_mu);
		st = l->pub;
		pthread_mutex_unlock(&l->pub_mu);
		out->sessions += st.sessions;
		out->messages += st.messages;
		out->refused_rcpts += st.refused_rcpts;
		out->refused_sessions += st.refused_sessions;
		out->forged += st.forged;
		out->tokens += st.tokens;
		out->active += st.active;
	}
}

static void
sink_destroy(struct sink *s)
{
	struct sink_session *ss;
	struct sink_pending *pd;

	if (s->listener)
		evconnlistener_free(s->listener);
	while ((ss = TAILQ_FIRST(&s->sessions)) != NULL) {
		TAILQ_REMOVE(&s->sessions, ss, link);
		sink_session_free(ss);
	}
	while ((ss = TAILQ_FIRST(&s->dead)) != NULL) {
		TAILQ_REMOVE(&s->dead, ss, link);
		sink_session_free(ss);
	}
	while ((pd = s->pending) != NULL) {
		s->pending = pd->next;
		sink_receipt_free(pd->r);
		free(pd);
	}
	tls_ctx_free(s->tls);
	event_free(s->reaper);
	event_free(s->deliver);
	event_free(s->resume);
	for (size_t i = 0; i < s->p.ndomains; i++)
		free(s->domains[i]);
	free(s->domains);
	free(s->hostname);
	free(s);
}

void
sink_free(struct sink *s)
{
	if (s == NULL)
		return;
	if (s->delivering) {
		s->dying = true; /* freed when the receipt callback returns */
		return;
	}
	if (s->loops != NULL)
		sink_group_destroy(s);
	else
		sink_destroy(s);
}
