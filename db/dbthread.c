/*
 * The database worker thread (see dbthread.h). Jobs and completions move
 * through two mutex-protected lists; the thread wakes on a pipe, the loop on
 * another pipe watched by a libevent event.
 */
#include "db/dbthread.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define IDLE_POLL_MS 1000
#define MAX_CHANNELS 8

struct dbjob {
	dbjob_run_fn run;
	dbjob_done_fn done;
	void *arg;
	bool keep;
	int status;
	char *channel; /* a notification instead of a job when run == NULL */
	struct dbjob *next;
};

struct joblist {
	struct dbjob *head, *tail;
};

struct dbthread {
	struct event_base *base;
	char *name;
	char *conninfo;
	char *channels[MAX_CHANNELS];
	size_t nchannels;
	dbthread_notify_fn notify;
	void *notify_arg;

	pthread_t thread;
	pthread_mutex_t mu;
	struct joblist jobs;      /* loop -> thread */
	struct joblist completed; /* thread -> loop */
	size_t pending;
	bool stopping;
	int64_t stop_deadline_ms;
	bool connected;
	int wake_thread[2]; /* pipe: loop writes, thread polls */
	int wake_loop[2];   /* pipe: thread writes, loop event reads */
	struct event *loop_ev;

	/* Thread-only state. */
	PGconn *conn;
	bool down;      /* an outage has been logged and not yet ended */
	int64_t down_since_ms;
	int backoff_ms;
	int64_t next_attempt_ms;
};

static void
joblist_push(struct joblist *l, struct dbjob *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct dbjob *
joblist_pop(struct joblist *l)
{
	struct dbjob *j = l->head;

	if (j != NULL) {
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	return j;
}

static void
dbthread_poke(int fd)
{
	char c = 1;

	/* A full pipe already means "wake up"; nothing to do on EAGAIN. */
	while (write(fd, &c, 1) < 0 && errno == EINTR)
		;
}

static void
dbthread_drain_pipe(int fd)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Thread side: hand a finished job (or a notification) to the loop. */
static void
dbthread_complete(struct dbthread *t, struct dbjob *j)
{
	pthread_mutex_lock(&t->mu);
	joblist_push(&t->completed, j);
	pthread_mutex_unlock(&t->mu);
	dbthread_poke(t->wake_loop[1]);
}

static void
dbthread_post_notify(struct dbthread *t, const char *channel)
{
	struct dbjob *j;

	if (t->notify == NULL)
		return;
	j = xcalloc(1, sizeof(*j));
	j->channel = channel != NULL ? xstrdup(channel) : NULL;
	dbthread_complete(t, j);
}

static void
dbthread_lost(struct dbthread *t, const char *why)
{
	if (t->conn != NULL) {
		PQfinish(t->conn);
		t->conn = NULL;
	}
	pthread_mutex_lock(&t->mu);
	t->connected = false;
	pthread_mutex_unlock(&t->mu);
	if (!t->down) {
		t->down = true;
		t->down_since_ms = now_mono_ms();
		log_warn("db_down", "conn=%s reason=\"%s\"", t->name, why);
	}
	t->backoff_ms = t->backoff_ms == 0 ? BACKOFF_MIN_MS : t->backoff_ms * 2;
	if (t->backoff_ms > BACKOFF_MAX_MS)
		t->backoff_ms = BACKOFF_MAX_MS;
	t->next_attempt_ms = now_mono_ms() + t->backoff_ms;
}

static void
dbthread_reason(PGconn *c, char *buf, size_t len)
{
	db_message_clean(c != NULL ? PQerrorMessage(c) : "out of memory", buf, len);
}

/* Server notices (e.g. "terminating connection" at shutdown) go to the debug log, not stderr. */
static void
dbthread_notice(void *arg, const char *message)
{
	char buf[256];

	db_message_clean(message, buf, sizeof(buf));
	log_debug("db_notice", "conn=%s message=\"%s\"", (const char *)arg, buf);
}

/* True when connected, connecting now if the backoff allows. */
static bool
dbthread_connect(struct dbthread *t)
{
	char why[256];

	if (t->conn != NULL)
		return true;
	if (now_mono_ms() < t->next_attempt_ms)
		return false;
	t->conn = PQconnectdb(t->conninfo);
	if (t->conn == NULL || PQstatus(t->conn) != CONNECTION_OK) {
		dbthread_reason(t->conn, why, sizeof(why));
		dbthread_lost(t, why);
		return false;
	}
	PQsetNoticeProcessor(t->conn, dbthread_notice, t->name);
	PQclear(PQexec(t->conn, "SET client_min_messages = warning"));
	for (size_t i = 0; i < t->nchannels; i++) {
		char *ident = PQescapeIdentifier(t->conn, t->channels[i], strlen(t->channels[i]));
		char *q = xasprintf("LISTEN %s", ident != NULL ? ident : "\"\"");
		PGresult *r = PQexec(t->conn, q);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

		PQclear(r);
		free(q);
		PQfreemem(ident);
		if (!ok) {
			dbthread_reason(t->conn, why, sizeof(why));
			dbthread_lost(t, why);
			return false;
		}
	}
	PQsetnonblocking(t->conn, 0);
	pthread_mutex_lock(&t->mu);
	t->connected = true;
	pthread_mutex_unlock(&t->mu);
	if (t->down) {
		log_info("db_up", "conn=%s outage_ms=%lld", t->name,
			 (long long)(now_mono_ms() - t->down_since_ms));
		t->down = false;
	}
	t->backoff_ms = 0;
	/* Whatever was announced while we were away is due now. */
	if (t->nchannels > 0)
		dbthread_post_notify(t, NULL);
	return true;
}

/* Reads pending NOTIFYs from the connection without blocking. */
static void
dbthread_read_notifies(struct dbthread *t)
{
	PGnotify *n;
	char why[256];

	if (t->conn == NULL)
		return;
	if (PQconsumeInput(t->conn) == 0) {
		dbthread_reason(t->conn, why, sizeof(why));
		dbthread_lost(t, why);
		return;
	}
	while ((n = PQnotifies(t->conn)) != NULL) {
		dbthread_post_notify(t, n->relname);
		PQfreemem(n);
	}
}

/* Waits up to ms for the loop to poke us or a NOTIFY to arrive. */
static void
dbthread_wait(struct dbthread *t, int ms)
{
	struct pollfd pfd[2];
	int n = 1;

	pfd[0].fd = t->wake_thread[0];
	pfd[0].events = POLLIN;
	if (t->conn != NULL && t->nchannels > 0) {
		pfd[1].fd = PQsocket(t->conn);
		pfd[1].events = POLLIN;
		n = 2;
	}
	if (poll(pfd, n, ms) > 0) {
		if (pfd[0].revents != 0)
			dbthread_drain_pipe(t->wake_thread[0]);
		if (n == 2 && pfd[1].revents != 0)
			dbthread_read_notifies(t);
	}
}

static bool
dbthread_give_up(struct dbthread *t)
{
	bool r;

	pthread_mutex_lock(&t->mu);
	r = t->stopping && now_mono_ms() >= t->stop_deadline_ms;
	pthread_mutex_unlock(&t->mu);
	return r;
}

static void
dbthread_run_job(struct dbthread *t, struct dbjob *j)
{
	char why[256];

	for (;;) {
		if (!dbthread_connect(t)) {
			if (!j->keep || dbthread_give_up(t)) {
				j->status = -1;
				break;
			}
			int wait = (int)(t->next_attempt_ms - now_mono_ms());
			dbthread_wait(t, wait > 0 ? wait : 0);
			continue;
		}
		j->status = j->run(t->conn, j->arg);
		/* A broken connection at any statement of the job: reconnect, run it again. */
		if (j->status != 0 && db_conn_broken(t->conn)) {
			dbthread_reason(t->conn, why, sizeof(why));
			dbthread_lost(t, why);
			if (j->keep && !dbthread_give_up(t))
				continue;
		}
		break;
	}
	dbthread_complete(t, j);
}

static void *
dbthread_main(void *arg)
{
	struct dbthread *t = arg;

	for (;;) {
		struct dbjob *j;
		bool stopping;

		pthread_mutex_lock(&t->mu);
		j = joblist_pop(&t->jobs);
		stopping = t->stopping;
		pthread_mutex_unlock(&t->mu);
		if (j != NULL) {
			dbthread_run_job(t, j);
			continue;
		}
		if (stopping)
			break;
		/* Idle: keep the connection (and its LISTEN) up, collect NOTIFYs. */
		if (t->nchannels > 0)
			dbthread_connect(t);
		dbthread_wait(t, IDLE_POLL_MS);
		if (t->conn != NULL && PQstatus(t->conn) == CONNECTION_BAD)
			dbthread_lost(t, "connection lost while idle");
	}
	if (t->conn != NULL)
		PQfinish(t->conn);
	t->conn = NULL;
	return NULL;
}

/* Loop side: deliver completions and notifications. */
static void
dbthread_deliver(struct dbthread *t)
{
	struct joblist done;

	pthread_mutex_lock(&t->mu);
	done = t->completed;
	t->completed.head = t->completed.tail = NULL;
	pthread_mutex_unlock(&t->mu);
	for (struct dbjob *j = done.head, *next; j != NULL; j = next) {
		next = j->next;
		if (j->run == NULL) {
			t->notify(t->notify_arg, j->channel);
			free(j->channel);
		} else {
			pthread_mutex_lock(&t->mu);
			t->pending--;
			pthread_mutex_unlock(&t->mu);
			if (j->done != NULL)
				j->done(j->arg, j->status);
		}
		free(j);
	}
}

static void
dbthread_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct dbthread *t = arg;

	dbthread_drain_pipe(fd);
	dbthread_deliver(t);
}

static void
dbthread_pipe(int fds[2])
{
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		fatal("reason=\"pipe: %s\"", strerror(errno));
}

struct dbthread *
dbthread_new(struct event_base *base, const char *name, const char *conninfo,
	     const char *const *channels, dbthread_notify_fn notify, void *notify_arg)
{
	struct dbthread *t = xcalloc(1, sizeof(*t));

	t->base = base;
	t->name = xstrdup(name);
	t->conninfo = xstrdup(conninfo != NULL ? conninfo : "");
	for (size_t i = 0; channels != NULL && channels[i] != NULL && i < MAX_CHANNELS; i++)
		t->channels[t->nchannels++] = xstrdup(channels[i]);
	t->notify = notify;
	t->notify_arg = notify_arg;
	pthread_mutex_init(&t->mu, NULL);
	dbthread_pipe(t->wake_thread);
	dbthread_pipe(t->wake_loop);
	t->loop_ev = event_new(base, t->wake_loop[0], EV_READ | EV_PERSIST, dbthread_on_wake, t);
	event_add(t->loop_ev, NULL);
	if (pthread_create(&t->thread, NULL, dbthread_main, t) != 0)
		fatal("reason=\"pthread_create failed\"");
	return t;
}

void
dbthread_submit(struct dbthread *t, dbjob_run_fn run, dbjob_done_fn done, void *arg, bool keep)
{
	struct dbjob *j = xcalloc(1, sizeof(*j));

	j->run = run;
	j->done = done;
	j->arg = arg;
	j->keep = keep;
	pthread_mutex_lock(&t->mu);
	joblist_push(&t->jobs, j);
	t->pending++;
	pthread_mutex_unlock(&t->mu);
	dbthread_poke(t->wake_thread[1]);
}

size_t
dbthread_pending(struct dbthread *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->pending;
	pthread_mutex_unlock(&t->mu);
	return n;
}

bool
dbthread_connected(struct dbthread *t)
{
	bool c;

	pthread_mutex_lock(&t->mu);
	c = t->connected;
	pthread_mutex_unlock(&t->mu);
	return c;
}

void
dbthread_free(struct dbthread *t, int grace_ms)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stopping = true;
	t->stop_deadline_ms = now_mono_ms() + grace_ms;
	pthread_mutex_unlock(&t->mu);
	dbthread_poke(t->wake_thread[1]);
	pthread_join(t->thread, NULL);
	dbthread_deliver(t);
	/* Notifications only: nobody wants them any more. */
	event_free(t->loop_ev);
	close(t->wake_thread[0]);
	close(t->wake_thread[1]);
	close(t->wake_loop[0]);
	close(t->wake_loop[1]);
	for (size_t i = 0; i < t->nchannels; i++)
		free(t->channels[i]);
	pthread_mutex_destroy(&t->mu);
	free(t->conninfo);
	free(t->name);
	free(t);
}
