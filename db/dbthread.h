/*
 * A database worker thread for the event loop: it owns one PostgreSQL
 * connection, runs queued jobs (plain blocking libpq calls) in order, and
 * hands each job's status back on the loop thread, so the loop never waits
 * on the database. It reconnects with backoff, logs an outage once (db_down
 * ... db_up), re-runs "keep" jobs after a lost connection (they must be
 * idempotent), and LISTENs on channels whose NOTIFYs reach the loop.
 */
#ifndef RELAYAUDIT_DBTHREAD_H
#define RELAYAUDIT_DBTHREAD_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct dbthread;

/* Runs on the worker thread: 0 done, -1 failed (the job logs why). */
typedef int (*dbjob_run_fn)(PGconn *conn, void *arg);
/* Runs on the loop thread once the job is over (status of run, or -1 unrun). */
typedef void (*dbjob_done_fn)(void *arg, int status);
/* A NOTIFY on a listened channel, or channel NULL after a reconnect (may have missed some). */
typedef void (*dbthread_notify_fn)(void *arg, const char *channel);

/* channels: NULL-terminated list of LISTEN channel names, or NULL. name labels the logs. */
struct dbthread *dbthread_new(struct event_base *base, const char *name, const char *conninfo,
			      const char *const *channels, dbthread_notify_fn notify,
			      void *notify_arg);
/*
 * Queues a job. keep: when the connection is lost during or before the job,
 * reconnect and run it again instead of failing it (writes of results).
 */
void dbthread_submit(struct dbthread *t, dbjob_run_fn run, dbjob_done_fn done, void *arg,
		     bool keep);
/* Jobs queued or running. */
size_t dbthread_pending(struct dbthread *t);
bool dbthread_connected(struct dbthread *t);
/*
 * Runs what is queued (giving up on the database after grace_ms), delivers
 * every done callback, joins the thread and frees it. Call from the loop
 * thread, outside any dbthread callback.
 */
void dbthread_free(struct dbthread *t, int grace_ms);

#endif
