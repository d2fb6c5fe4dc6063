/*
 * The session state machine against a scripted peer on a real loopback
 * socket (127.0.10.x): it waits for the final greeting line, falls back to
 * HELO, reads replies split anywhere, labels its timeouts, gives back the
 * attempts a 421 interrupted, and writes a connection's transactions in one
 * pipelined group where the server allows it (one command a write where not).
 * A trickle does not stretch a state's time; the end callback comes from the
 * loop, and never once the session is freed.
 */
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/session.h"
#include "tests/test.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* The peer: answers each command line with the reply its script gives. */
struct peer {
	struct event_base *base;
	struct evconnlistener *lis;
	int port;
	int fd;
	struct event *rev, *later, *dripper;
	const char *(*script)(struct peer *p, const char *cmd);
	const char *greeting;      /* sent at accept */
	const char *greeting_rest; /* sent rest_ms (default 200) later */
	int rest_ms;
	const char *drip; /* from accept on, one byte of it every 10 ms, round and round */
	size_t dripped;
	bool spoke_early;          /* the client wrote before greeting_rest */
	bool split;                /* send replies one byte per write */
	int commands, rcpts, errors;
	int data_in_group; /* DATA arrived in the same read as a RCPT */
	int datas;
	int reads;         /* reads that carried a command */
	char groups[256];  /* commands per such read, "1 12 " */
	char line[1024];
	size_t len;
	char log[8192];
};

static void
peer_send(struct peer *p, const char *s)
{
	size_t n = strlen(s);

	if (p->split) {
		for (size_t i = 0; i < n; i++) {
			if (write(p->fd, s + i, 1) != 1)
				return;
			usleep(200);
		}
	} else if (write(p->fd, s, n) != (ssize_t)n) {
		return;
	}
}

static void
peer_close(struct peer *p)
{
	if (p->fd >= 0) {
		event_del(p->rev);
		close(p->fd);
		p->fd = -1;
	}
}

static void
peer_read(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0) {
		peer_close(p);
		return;
	}
	bool rcpt_in_read = false;
	int in_read = 0;

	if (p->greeting_rest)
		p->spoke_early = true;
	for (ssize_t i = 0; i < n && p->fd >= 0; i++) {
		if (buf[i] != '\n') {
			if (p->len < sizeof(p->line) - 1)
				p->line[p->len++] = buf[i];
			continue;
		}
		if (p->len && p->line[p->len - 1] == '\r')
			p->len--;
		p->line[p->len] = '\0';
		p->len = 0;
		p->commands++;
		in_read++;
		snprintf(p->log + strlen(p->log), sizeof(p->log) - strlen(p->log), "%s\n", p->line);
		if (strncmp(p->line, "RCPT", 4) == 0)
			rcpt_in_read = true;
		if (strcmp(p->line, "DATA") == 0) {
			p->datas++;
			p->data_in_group += rcpt_in_read;
		}
		const char *r = p->script(p, p->line);

		if (r == NULL) {
			peer_close(p);
			return;
		}
		if (*r)
			peer_send(p, r);
	}
	if (in_read > 0) {
		p->reads++;
		snprintf(p->groups + strlen(p->groups), sizeof(p->groups) - strlen(p->groups), "%d ",
			 in_read);
	}
}

static void
peer_later(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	if (p->fd >= 0 && p->greeting_rest) {
		peer_send(p, p->greeting_rest);
		p->greeting_rest = NULL;
	}
}

static void
peer_drip(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	if (p->fd >= 0 && write(p->fd, p->drip + p->dripped % strlen(p->drip), 1) == 1)
		p->dripped++;
}

static void
peer_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct peer *p = arg;
	int ms = p->rest_ms ? p->rest_ms : 200;
	struct timeval tv = {ms / 1000, ms % 1000 * 1000}, drip_tv = {0, 10000};

	/* one connection at a time: a new one replaces the last */
	peer_close(p);
	if (p->rev)
		event_free(p->rev);
	p->fd = fd;
	p->rev = event_new(p->base, fd, EV_READ | EV_PERSIST, peer_read, p);
	event_add(p->rev, NULL);
	if (p->greeting)
		peer_send(p, p->greeting);
	if (p->greeting_rest) {
		p->later = evtimer_new(p->base, peer_later, p);
		evtimer_add(p->later, &tv);
	}
	if (p->drip) {
		p->dripper = event_new(p->base, -1, EV_PERSIST, peer_drip, p);
		event_add(p->dripper, &drip_tv);
	}
}

static void
peer_start(struct peer *p, struct event_base *base, const char *ip)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);

	p->base = base;
	p->fd = -1;
	inet_pton(AF_INET, ip, &sin.sin_addr);
	p->lis = evconnlistener_new_bind(base, peer_accept, p, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
					 16, (struct sockaddr *)&sin, sizeof(sin));
	if (p->lis == NULL)
		fatal("cannot listen on %s: %s", ip, strerror(errno));
	getsockname(evconnlistener_get_fd(p->lis), (struct sockaddr *)&sin, &sl);
	p->port = ntohs(sin.sin_port);
}

static void
peer_stop(struct peer *p)
{
	peer_close(p);
	if (p->rev)
		event_free(p->rev);
	if (p->later)
		event_free(p->later);
	if (p->dripper)
		event_free(p->dripper);
	evconnlistener_free(p->lis);
}

/* A closed server: 554 to every RCPT. */
static const char *
script_closed(struct peer *p, const char *cmd)
{
	if (strncmp(cmd, "EHLO", 4) == 0)
		return "250-peer.example.org\r\n250 PIPELINING\r\n";
	if (strncmp(cmd, "HELO", 4) == 0)
		return "250 peer.example.org\r\n";
	if (strncmp(cmd, "MAIL", 4) == 0)
		return "250 2.1.0 ok\r\n";
	if (strncmp(cmd, "RCPT", 4) == 0) {
		p->rcpts++;
		p->errors++;
		return "554 5.7.1 Relay access denied\r\n";
	}
	if (strcmp(cmd, "RSET") == 0)
		return "250 ok\r\n";
	if (strcmp(cmd, "QUIT") == 0)
		return "221 bye\r\n";
	return "502 5.5.2 what\r\n";
}

/* An open relay with PIPELINING: the message body is swallowed up to the dot. */
static const char *
script_open(struct peer *p, const char *cmd)
{
	static bool in_data;

	if (in_data) {
		if (strcmp(cmd, ".") == 0) {
			in_data = false;
			return "250 2.0.0 queued\r\n";
		}
		return "";
	}
	if (strncmp(cmd, "RCPT", 4) == 0)
		return "250 2.1.5 ok\r\n";
	if (strcmp(cmd, "DATA") == 0) {
		in_data = true;
		return "354 go on\r\n";
	}
	return script_closed(p, cmd);
}

static const char *
script_no_ehlo(struct peer *p, const char *cmd)
{
	if (strncmp(cmd, "EHLO", 4) == 0)
		return "502 5.5.2 Error: command not recognized\r\n";
	return script_closed(p, cmd);
}

static const char *
script_silent_after_ehlo(struct peer *p, const char *cmd)
{
	return strncmp(cmd, "EHLO", 4) == 0 ? "" : script_closed(p, cmd);
}

static const char *
script_421_after_2_errors(struct peer *p, const char *cmd)
{
	if (strncmp(cmd, "RCPT", 4) == 0 && p->errors >= 2)
		return "421 4.7.0 too many errors\r\n";
	return script_closed(p, cmd);
}

struct outcome {
	bool ended;
	enum session_end why;
	enum session_state state;
	char detail[200];
};

static void
on_end(struct session *s, void *arg)
{
	struct outcome *o = arg;

	o->ended = true;
	o->why = session_end_reason(s);
	o->state = session_end_state(s);
	snprintf(o->detail, sizeof(o->detail), "%s", session_end_detail(s));
}

static struct probe_params params;

static struct probe_run *
make_run(const char *ip)
{
	struct probe_target t = {0};

	probe_params_defaults(&params);
	token_key_init(&params.key, "0123456789abcdef", 16);
	params.timeout_ms = 2000;
	params.deadline_ms = 10000;
	addr_parse(ip, &t.addr);
	return run_new(&params, &t, 0, 7, now_mono_ms());
}

/* Runs one session to its end, at most 5 s. */
static void
drive(struct event_base *base, struct session *s, struct outcome *o)
{
	int64_t until = now_mono_ms() + 5000;

	(void)s;
	while (!o->ended && now_mono_ms() < until)
		event_base_loop(base, EVLOOP_ONCE);
}

/* Attempt i as the result will record it (the run keeps it compact until run_finish). */
static struct probe_attempt
att(struct probe_run *r, size_t i)
{
	struct probe_attempt a = {0};

	run_att_record(r, i, &a);
	return a;
}

/* A test's loop, run, scripted peer (NULL: none) and its current session. */
struct fixture {
	struct event_base *base;
	struct peer *p;
	struct probe_run *r;
	struct session *s;
	struct outcome o;
};

/* The loop and a run for ip; p (when given) listens there. */
static void
fx_start(struct fixture *f, struct peer *p, const char *ip)
{
	*f = (struct fixture){.base = event_base_new(), .p = p, .r = make_run(ip)};
	if (p != NULL)
		peer_start(p, f->base, ip);
}

/* One connection to the peer (port 1 without one) driven to its end; the one before is freed. */
static void
fx_connect(struct fixture *f)
{
	if (f->s != NULL)
		session_free(f->s);
	f->o = (struct outcome){0};
	f->s = session_start(f->base, f->r, f->p != NULL ? f->p->port : 1, NULL, false, on_end,
			     &f->o);
	drive(f->base, f->s, &f->o);
}

/* Until the peer has read what we sent and closed, at most 1 s. */
static void
fx_peer_closed(struct fixture *f)
{
	for (int64_t until = now_mono_ms() + 1000; f->p->fd >= 0 && now_mono_ms() < until;)
		event_base_loop(f->base, EVLOOP_ONCE);
}

static void
fx_end(struct fixture *f)
{
	if (f->s != NULL)
		session_free(f->s);
	run_free(f->r);
	if (f->p != NULL)
		peer_stop(f->p);
	event_base_free(f->base);
}

TEST(state_table_names_every_state)
{
	for (int s = 0; s < SS__COUNT; s++) {
		CHECK(session_state_name((enum session_state)s)[0] != '?');
		CHECK(session_state_label((enum session_state)s)[0] != '?');
		CHECK(session_state_timeout((enum session_state)s, 1000) > 0);
	}
	CHECK_STR(session_state_label(SS_RCPT), "timeout while waiting for the RCPT TO reply");
	CHECK(session_state_timeout(SS_EOD, 1000) > session_state_timeout(SS_RCPT, 1000));
	for (int e = 0; e < SE__COUNT; e++)
		CHECK(session_end_name((enum session_end)e)[0] != '?');
}

TEST(waits_for_the_final_greeting_line_before_speaking)
{
	struct peer p = {.script = script_closed, .greeting = "220-peer.example.org hold on\r\n",
			 .greeting_rest = "220 peer.example.org ESMTP\r\n"};
	struct fixture f;

	fx_start(&f, &p, "127.0.10.11");
	fx_connect(&f);
	CHECK(f.o.ended);
	CHECK_MSG(!p.spoke_early, "client spoke before the final greeting line");
	CHECK(p.commands > 0);
	CHECK_STR(f.r->res->banner, "peer.example.org ESMTP");
	fx_end(&f);
}

TEST(ehlo_502_falls_back_to_helo_and_continues)
{
	struct peer p = {.script = script_no_ehlo, .greeting = "220 peer.example.org ESMTP\r\n"};
	struct fixture f;

	fx_start(&f, &p, "127.0.10.12");
	fx_connect(&f);
	CHECK_CONTAINS(p.log, "EHLO relayaudit.invalid\nHELO relayaudit.invalid\nMAIL FROM:");
	CHECK(p.rcpts > 0);
	CHECK(!f.r->pipelining);
	/* without PIPELINING, never more than one command in flight: replies kept in step */
	CHECK_INT(f.o.why, SE_BUDGET);
	fx_end(&f);
}

TEST(error_budget_keeps_under_postfix_soft_limit)
{
	struct peer p = {.script = script_closed, .greeting = "220 peer.example.org\r\n"};
	struct fixture f;

	fx_start(&f, &p, "127.0.10.13");
	fx_connect(&f);
	CHECK_INT(f.o.why, SE_BUDGET);
	/* the peer reads the QUIT we sent before closing */
	fx_peer_closed(&f);
	CHECK_MSG(p.errors < 10, "got %d errors on one connection, want < 10", p.errors);
	CHECK(p.errors >= 8);
	CHECK_CONTAINS(p.log, "QUIT\n");
	fx_end(&f);
}

TEST(replies_split_byte_by_byte_keep_the_dialogue_in_step)
{
	struct peer p = {.script = script_closed, .greeting = "220-peer.example.org\r\n220 ok\r\n",
			 .split = true};
	struct fixture f;

	fx_start(&f, &p, "127.0.10.14");
	fx_connect(&f);
	CHECK_INT(f.o.why, SE_BUDGET);
	CHECK(f.r->pipelining);
	CHECK_INT(att(f.r, 0).rcpt.code, 554);
	CHECK_STR(att(f.r, 0).rcpt.enhanced, "5.7.1");
	CHECK_STR(outcome_name(att(f.r, 0).outcome), "refused");
	fx_end(&f);
}

TEST(open_server_gets_data_pipelined_after_its_first_accepted_recipient)
{
	struct peer p = {.script = script_open, .greeting = "220 peer.example.org\r\n"};
	struct fixture f;

	fx_start(&f, &p, "127.0.10.18");
	/* the first connection's group, sent before any RCPT was accepted, has no DATA */
	fx_connect(&f);
	CHECK_INT(f.o.why, SE_BUDGET);
	CHECK_INT(p.datas, 0);
	CHECK(f.r->rcpt_ok_seen);
	/* the accepted attempts were put back, not counted as tries; the next transaction is theirs */
	CHECK_INT(f.r->st[0].state, ATT_PENDING);
	CHECK_INT(f.r->st[0].tries, 0);
	CHECK_INT(att(f.r, 0).rcpt.code, 0);
	CHECK(run_replay_pending(f.r));
	/* the second connection runs them again, with DATA */
	fx_connect(&f);
	CHECK(p.datas >= 2);
	CHECK_INT(f.r->st[0].tries, 1);
	/* the first DATA waits for the RCPT replies; later ones ride in the group */
	CHECK_INT(p.data_in_group, p.datas - 1);
	CHECK_STR(outcome_name(att(f.r, 0).outcome), "accepted");
	CHECK_INT(att(f.r, 0).data.code, 354);
	CHECK_INT(att(f.r, 0).eod.code, 250);
	CHECK_STR(outcome_name(att(f.r, 1).outcome), "accepted");
	fx_end(&f);
}

TEST(reply_timeout_is_labelled_with_its_state)
{
	struct peer p = {.script = script_silent_after_ehlo, .greeting = "220 peer.example.org\r\n"};
	struct fixture f;

	fx_start(&f, &p, "127.0.10.15");
	params.timeout_ms = 300;
	int64_t t0 = now_mono_ms();
	fx_connect(&f);
	CHECK_INT(f.o.why, SE_TIMEOUT);
	CHECK_STR(session_state_name(f.o.state), "ehlo");
	CHECK_STR(f.o.detail, "timeout while waiting for the EHLO reply");
	CHECK(now_mono_ms() - t0 < 2000);
	fx_end(&f);
}

TEST(reply_421_ends_the_connection_and_returns_running_attempts)
{
	struct peer p = {.script = script_421_after_2_errors, .greeting = "220 peer.example.org\r\n"};
	struct fixture f;
	size_t ready = 0;

	fx_start(&f, &p, "127.0.10.16");
	fx_connect(&f);
	CHECK_INT(f.o.why, SE_DROPPED);
	CHECK_INT(session_errors(f.s), 2);
	CHECK_INT(f.r->decided, 2);
	/* the transaction being answered counts the break (attempt 8: its third RCPT) */
	CHECK_INT(f.r->st[8].breaks, 1);
	/* the group's next transaction (attempt 1), not yet reached, is put back untried */
	CHECK_INT(f.r->st[1].breaks, 0);
	CHECK_INT(f.r->st[1].tries, 0);
	/* nothing stays "running" after the connection is gone */
	for (size_t i = 0; i < f.r->natt; i++)
		CHECK(f.r->st[i].state != ATT_RUNNING);
	CHECK_INT(run_unfinished(f.r, now_mono_ms(), &ready, NULL), f.r->natt - 2);
	fx_end(&f);
}

TEST(closed_pipelining_server_gets_every_transaction_and_quit_in_one_write)
{
	struct peer p = {.script = script_closed, .greeting = "220 peer.example.org\r\n"};
	struct fixture f;

	fx_start(&f, &p, "127.0.10.19");
	fx_connect(&f);
	fx_peer_closed(&f);
	CHECK_INT(f.o.why, SE_BUDGET);
	/* EHLO alone, then MAIL, 8 RCPT, RSET, MAIL, RCPT, QUIT in one read */
	CHECK_STR(p.groups, "1 13 ");
	CHECK_INT(p.reads, 2);
	CHECK_INT(p.errors, 9);
	CHECK_CONTAINS(p.log, "RSET\nMAIL FROM:<probe@relayaudit-outside.invalid>\nRCPT TO:");
	CHECK(strstr(p.log, "QUIT\n") != NULL && strcmp(strstr(p.log, "QUIT\n"), "QUIT\n") == 0);
	/* the same attempts as one transaction at a time: 8 under <>, 1 under the next sender */
	for (size_t i = 0; i < 32; i += 4)
		CHECK_STR(outcome_name(att(f.r, i).outcome), "refused");
	CHECK_STR(outcome_name(att(f.r, 1).outcome), "refused");
	CHECK_INT(f.r->decided, 9);
	fx_end(&f);
}

TEST(server_without_pipelining_gets_one_command_per_write)
{
	struct peer p = {.script = script_no_ehlo, .greeting = "220 peer.example.org ESMTP\r\n"};
	struct fixture f;

	fx_start(&f, &p, "127.0.10.20");
	fx_connect(&f);
	fx_peer_closed(&f);
	CHECK_INT(f.o.why, SE_BUDGET);
	CHECK(p.commands > 10);
	CHECK_MSG(p.reads == p.commands, "got %d commands in %d reads (%s), want one a read",
		  p.commands, p.reads, p.groups);
	/* the refused EHLO is one error of the nine */
	CHECK_INT(f.r->decided, 8);
	fx_end(&f);
}

TEST(connect_refused_ends_as_connect_failed)
{
	struct fixture f;

	fx_start(&f, NULL, "127.0.10.17");
	/* port 1 on a loopback address nobody listens on */
	fx_connect(&f);
	CHECK_INT(f.o.why, SE_CONNECT_FAILED);
	fx_end(&f);
}

TEST(greeting_cut_in_two_reads_at_any_byte_keeps_its_whole_text)
{
	static const char whole[] = "220 peer.example.org ESMTP Postfix (Debian/GNU) ready\r\n";

	for (size_t cut = 1; cut < sizeof(whole) - 1; cut++) {
		char head[sizeof(whole)];
		struct peer p = {.script = script_closed, .greeting = head,
				 .greeting_rest = whole + cut, .rest_ms = 20};
		struct fixture f;

		snprintf(head, sizeof(head), "%.*s", (int)cut, whole);
		fx_start(&f, &p, "127.0.10.21");
		fx_connect(&f);
		CHECK_MSG(f.o.why == SE_BUDGET && f.r->res->banner != NULL &&
				  strcmp(f.r->res->banner,
					 "peer.example.org ESMTP Postfix (Debian/GNU) ready") == 0,
			  "cut %zu: got end %s banner \"%s\", want error_budget and the whole text", cut,
			  session_end_name(f.o.why), f.r->res->banner ? f.r->res->banner : "(none)");
		fx_end(&f);
	}
}

TEST(trickled_greeting_lines_do_not_stretch_the_greeting_time)
{
	/* a line every 70 ms, a byte every 10: alive, never done (128 lines would take 9 s) */
	struct peer p = {.script = script_closed, .drip = "220-a\r\n"};
	struct fixture f;

	fx_start(&f, &p, "127.0.10.22");
	params.timeout_ms = 300;
	int64_t t0 = now_mono_ms();
	fx_connect(&f);
	int64_t took = now_mono_ms() - t0;

	CHECK_STR(session_end_name(f.o.why), "timeout");
	CHECK_STR(session_state_name(f.o.state), "banner");
	CHECK_STR(f.o.detail, "timeout while waiting for the greeting");
	CHECK_MSG(took >= 290 && took < 900, "ended after %lld ms, want the greeting's 300",
		  (long long)took);
	CHECK_MSG(p.dripped > 10, "the peer dripped %zu bytes, want a steady trickle", p.dripped);
	fx_end(&f);
}

/* Starts a session while no descriptor is left (the soft limit at the lowest free one). */
static struct session *
start_without_descriptors(struct event_base *base, struct probe_run *r, struct outcome *o)
{
	struct rlimit old, low;
	int lowest = dup(0);
	struct session *s;

	close(lowest);
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)lowest;
	setrlimit(RLIMIT_NOFILE, &low);
	s = session_start(base, r, 25, NULL, false, on_end, o);
	setrlimit(RLIMIT_NOFILE, &old);
	return s;
}

TEST(no_descriptor_ends_as_resource_from_the_loop_not_inside_start)
{
	struct event_base *base = event_base_new();
	struct outcome o = {0};
	struct probe_run *r = make_run("127.0.10.23");
	struct session *s = start_without_descriptors(base, r, &o);

	CHECK_MSG(!o.ended, "the end callback ran inside session_start");
	drive(base, s, &o);
	CHECK_STR(session_end_name(o.why), "resource");
	CHECK_CONTAINS(o.detail, "socket: ");
	session_free(s);
	run_free(r);
	event_base_free(base);
}

TEST(session_freed_while_its_end_is_queued_is_never_called_back)
{
	struct event_base *base = event_base_new();
	struct outcome o = {0};
	struct probe_run *r = make_run("127.0.10.24");
	struct session *s = start_without_descriptors(base, r, &o);

	/* ended, its end callback queued for the next loop turn: the owner gives up on it */
	session_free(s);
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_MSG(!o.ended, "the end callback ran for a freed session");
	run_free(r);
	event_base_free(base);
}

int
main(void)
{
	test_suite = "session";
	RUN(state_table_names_every_state);
	RUN(waits_for_the_final_greeting_line_before_speaking);
	RUN(ehlo_502_falls_back_to_helo_and_continues);
	RUN(error_budget_keeps_under_postfix_soft_limit);
	RUN(replies_split_byte_by_byte_keep_the_dialogue_in_step);
	RUN(open_server_gets_data_pipelined_after_its_first_accepted_recipient);
	RUN(reply_timeout_is_labelled_with_its_state);
	RUN(reply_421_ends_the_connection_and_returns_running_attempts);
	RUN(closed_pipelining_server_gets_every_transaction_and_quit_in_one_write);
	RUN(server_without_pipelining_gets_one_command_per_write);
	RUN(connect_refused_ends_as_connect_failed);
	RUN(greeting_cut_in_two_reads_at_any_byte_keeps_its_whole_text);
	RUN(trickled_greeting_lines_do_not_stretch_the_greeting_time);
	RUN(no_descriptor_ends_as_resource_from_the_loop_not_inside_start);
	RUN(session_freed_while_its_end_is_queued_is_never_called_back);
	return test_summary();
}
