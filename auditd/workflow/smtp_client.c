/*
 * The notification SMTP client (see smtp_client.h). One state enum with a
 * name table; smtpc_send() writes each state's command, smtpc_next() picks
 * the next state from the reply code, smtpc_event() maps connection events.
 * Sessions are freed outside their own callbacks (event_base_once).
 */
#include "auditd/workflow/smtp_client.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/reply.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum smtpc_state {
	SMTPC_CONNECT,
	SMTPC_BANNER,
	SMTPC_EHLO,
	SMTPC_HELO,
	SMTPC_MAIL,
	SMTPC_RCPT,
	SMTPC_DATA,
	SMTPC_BODY,
	SMTPC_QUIT,
	SMTPC_END,
};

/* Label for "timeout while ..." / "connection lost while ..." reasons. */
static const char *const state_labels[] = {
    [SMTPC_CONNECT] = "connecting",     [SMTPC_BANNER] = "waiting for the greeting",
    [SMTPC_EHLO] = "sending EHLO",      [SMTPC_HELO] = "sending HELO",
    [SMTPC_MAIL] = "sending MAIL FROM", [SMTPC_RCPT] = "sending RCPT TO",
    [SMTPC_DATA] = "sending DATA",      [SMTPC_BODY] = "waiting for the reply to the final dot",
    [SMTPC_QUIT] = "sending QUIT",      [SMTPC_END] = "done",
};

struct smtpc_batch {
	struct event_base *base;
	size_t live;
	smtpc_handoff_fn handoff;
	void *arg;
};

struct smtpc_session {
	struct smtpc_batch *batch;
	const struct smtpc_params *p;
	struct smtpc_msg *m;
	struct bufferevent *bev;
	struct reply_parser rp;
	enum smtpc_state state;
	bool finished;
};

const char *
smtpc_result_name(enum smtpc_result r)
{
	static const char *const names[] = {
	    [SMTPC_SENT] = "sent",
	    [SMTPC_TEMPFAIL] = "tempfail",
	    [SMTPC_PERMFAIL] = "permfail",
	    [SMTPC_UNCERTAIN] = "uncertain",
	};
	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

static void
smtpc_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc_session *s = arg;
	struct smtpc_batch *b = s->batch;

	if (s->bev)
		bufferevent_free(s->bev);
	free(s);
	if (--b->live == 0)
		event_base_loopexit(b->base, NULL);
}

/* Ends the session with result (first call wins); frees it after this callback. */
static void
smtpc_finish(struct smtpc_session *s, enum smtpc_result result, const char *fmt, const char *text)
{
	char clean[200];

	if (s->finished)
		return;
	s->finished = true;
	s->m->result = result;
	log_censor(clean, sizeof(clean), text ? text : "", text ? strlen(text) : 0);
	snprintf(s->m->reply, sizeof(s->m->reply), fmt, clean);
	if (s->bev)
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	event_base_once(s->batch->base, -1, EV_TIMEOUT, smtpc_free_cb, s, NULL);
}

/* Message body with dot-stuffing and the terminating dot. */
static void
smtpc_write_body(struct evbuffer *out, const char *data)
{
	const char *p = data;

	while (*p) {
		size_t n = strcspn(p, "\n");
		size_t line = n > 0 && p[n - 1] == '\r' ? n - 1 : n;

		if (*p == '.')
			evbuffer_add(out, ".", 1);
		evbuffer_add(out, p, line);
		evbuffer_add(out, "\r\n", 2);
		p += n;
		if (*p == '\n')
			p++;
	}
	evbuffer_add(out, ".\r\n", 3);
}

/* Writes the command of the state just entered. */
static void
smtpc_send(struct smtpc_session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	switch (s->state) {
	case SMTPC_EHLO:
		evbuffer_add_printf(out, "EHLO %s\r\n", s->p->helo);
		break;
	case SMTPC_HELO:
		evbuffer_add_printf(out, "HELO %s\r\n", s->p->helo);
		break;
	case SMTPC_MAIL:
		evbuffer_add_printf(out, "MAIL FROM:<%s>\r\n", s->m->mail_from);
		break;
	case SMTPC_RCPT:
		evbuffer_add_printf(out, "RCPT TO:<%s>\r\n", s->m->rcpt_to);
		break;
	case SMTPC_DATA:
		evbuffer_add_printf(out, "DATA\r\n");
		break;
	case SMTPC_BODY:
		smtpc_write_body(out, s->m->data);
		break;
	case SMTPC_QUIT:
		evbuffer_add_printf(out, "QUIT\r\n");
		break;
	default:
		break;
	}
}

/* A complete reply arrived in state s->state: pick the next state. */
static void
smtpc_next(struct smtpc_session *s, int code, const char *text)
{
	int cls = code / 100;

	switch (s->state) {
	case SMTPC_BANNER:
		if (cls != 2)
			return smtpc_finish(s, SMTPC_TEMPFAIL, "greeting refused: %s", text);
		s->state = SMTPC_EHLO;
		break;
	case SMTPC_EHLO:
		if (cls == 5) {
			s->state = SMTPC_HELO;
			break;
		}
		/* fall through */
	case SMTPC_HELO:
		if (cls != 2)
			return smtpc_finish(s, SMTPC_TEMPFAIL, "HELO refused: %s", text);
		s->state = SMTPC_MAIL;
		break;
	case SMTPC_MAIL:
	case SMTPC_RCPT:
		if (cls != 2)
			return smtpc_finish(s, cls == 5 ? SMTPC_PERMFAIL : SMTPC_TEMPFAIL,
			                    s->state == SMTPC_MAIL ? "MAIL FROM refused: %s"
			                                           : "RCPT TO refused: %s",
			                    text);
		s->state = s->state == SMTPC_MAIL ? SMTPC_RCPT : SMTPC_DATA;
		break;
	case SMTPC_DATA:
		if (cls != 3)
			return smtpc_finish(s, cls == 5 ? SMTPC_PERMFAIL : SMTPC_TEMPFAIL,
			                    "DATA refused: %s", text);
		/* The point of no return: the owner records it before the dot. */
		if (s->batch->handoff && s->batch->handoff(s->batch->arg, s->m) != 0)
			return smtpc_finish(s, SMTPC_TEMPFAIL, "%s",
			                    "hand-off could not be recorded");
		s->state = SMTPC_BODY;
		break;
	case SMTPC_BODY:
		if (cls != 2) {
			smtpc_finish(s, cls == 5 ? SMTPC_PERMFAIL : SMTPC_TEMPFAIL,
			             "message refused: %s", text);
			return;
		}
		s->m->result = SMTPC_SENT;
		{
			char clean[200];

			log_censor(clean, sizeof(clean), text, strlen(text));
			snprintf(s->m->reply, sizeof(s->m->reply), "%d %s", code, clean);
		}
		s->state = SMTPC_QUIT;
		break;
	case SMTPC_QUIT:
		s->state = SMTPC_END;
		smtpc_finish(s, SMTPC_SENT, "%s", s->m->reply);
		return;
	default:
		return;
	}
	smtpc_send(s);
}

static void
smtpc_read(struct bufferevent *bev, void *arg)
{
	struct smtpc_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!s->finished && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t used = 0;
		enum reply_event ev;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		ev = reply_feed(&s->rp, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (ev == REPLY_ERROR) {
			smtpc_finish(s, s->state == SMTPC_BODY ? SMTPC_UNCERTAIN : SMTPC_TEMPFAIL,
			             "bad reply from the smarthost: %s", s->rp.why);
			return;
		}
		if (ev == REPLY_FINAL) {
			if (s->state == SMTPC_CONNECT)
				s->state = SMTPC_BANNER;
			smtpc_next(s, s->rp.code, s->rp.text);
		}
	}
}

static void
smtpc_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpc_session *s = arg;
	char why[160];

	if (what & BEV_EVENT_CONNECTED) {
		s->state = SMTPC_BANNER;
		return;
	}
	snprintf(why, sizeof(why), "%s while %s",
	         (what & BEV_EVENT_TIMEOUT) ? "timeout" : "connection lost",
	         state_labels[s->state]);
	if (s->state == SMTPC_QUIT || s->state == SMTPC_END) {
		smtpc_finish(s, SMTPC_SENT, "%s", s->m->reply);
		return;
	}
	/* After the dot the smarthost may have the message: never a failure. */
	smtpc_finish(s, s->state == SMTPC_BODY ? SMTPC_UNCERTAIN : SMTPC_TEMPFAIL, "%s", why);
}

void
smtpc_deliver(struct event_base *base, struct evdns_base *dns, const struct smtpc_params *p,
              struct smtpc_msg *msgs, size_t n, smtpc_handoff_fn handoff, void *arg)
{
	struct smtpc_batch b = {base, 0, handoff, arg};
	struct timeval tv = {p->timeout_ms / 1000, (p->timeout_ms % 1000) * 1000};
	int64_t port = 25;

	parse_i64(p->port, 1, 65535, &port);
	for (size_t i = 0; i < n; i++) {
		struct smtpc_session *s = xcalloc(1, sizeof(*s));

		msgs[i].result = SMTPC_TEMPFAIL;
		snprintf(msgs[i].reply, sizeof(msgs[i].reply), "not started");
		s->batch = &b;
		s->p = p;
		s->m = &msgs[i];
		s->state = SMTPC_CONNECT;
		reply_init(&s->rp);
		s->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (s->bev == NULL) {
			free(s);
			continue;
		}
		b.live++;
		bufferevent_setcb(s->bev, smtpc_read, NULL, smtpc_event, s);
		bufferevent_set_timeouts(s->bev, &tv, &tv);
		bufferevent_enable(s->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect_hostname(s->bev, dns, AF_UNSPEC, p->host,
		                                        (int)port) < 0)
			smtpc_finish(s, SMTPC_TEMPFAIL, "cannot connect to the smarthost%s", "");
	}
	if (b.live > 0)
		event_base_dispatch(base);
}
