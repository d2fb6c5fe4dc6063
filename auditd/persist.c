/*
 * Result batching (see persist.h). One batch is in flight on the database
 * thread at a time; results arriving meanwhile gather in the next one, so
 * the batch size follows the load: small when idle (written within
 * FLUSH_DELAY_MS), up to BATCH_MAX under a sweep.
 */
#include "auditd/persist.h"
#include "common/log.h"
#include "common/util.h"
#include "db/dbthread.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 1000
#define FLUSH_DELAY_MS 100
/*
 * Batches written at once, each on its own connection: a batch is mostly
 * index maintenance in one backend, so two keep both cores of the database
 * busy. Batches never share a target (a target is claimed again only after
 * its result is committed), so they do not wait on each other's rows.
 */
#define WRITERS 2

struct batch {
	struct persist *p;
	struct target_done *targets;
	size_t ntargets, cap_targets;
	struct probe_row **rows;
	size_t nrows, cap_rows;
	size_t units; /* persist_add calls: targets, or rows-only results */
	int64_t sent_ms;
	struct writer *writer;
	struct batch *next;
};

struct persist {
	struct event_base *base;
	char *node;
	struct writer {
		struct dbthread *db;
		struct batch *inflight;
	} w[WRITERS];
	size_t max_buffer;
	persist_written_fn written;
	void *written_arg;
	struct batch *queue_head, *queue_tail; /* full batches not yet sent */
	struct batch *filling;                 /* gathering new results */
	size_t buffered;                       /* targets in all of them */
	uint64_t written_total, dropped_total;
	struct event *flush_timer;
	bool timer_armed;
};

static struct batch *
batch_new(struct persist *p)
{
	struct batch *b = xcalloc(1, sizeof(*b));

	b->p = p;
	return b;
}

static void
batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->nrows; i++) {
		probe_row_clear(b->rows[i]);
		free(b->rows[i]);
	}
	free(b->rows);
	free(b->targets);
	free(b);
}

static int
persist_run(PGconn *c, void *arg)
{
	struct batch *b = arg;

	return probes_write_batch(c, b->p->node, (const struct probe_row *const *)b->rows,
				  b->nrows, b->targets, b->ntargets);
}

static void persist_send(struct persist *p);

static void
persist_done(void *arg, int status)
{
	struct batch *b = arg;
	struct persist *p = b->p;
	size_t n = b->units;

	b->writer->inflight = NULL;
	p->buffered -= n;
	log_debug("results_written", "targets=%zu probes=%zu ms=%lld status=%d", n, b->nrows,
		  (long long)(now_mono_ms() - b->sent_ms), status);
	if (status == 0) {
		p->written_total += n;
	} else {
		/* Not a lost connection (those are retried): the leases expire, the targets come back. */
		p->dropped_total += n;
		log_error("results_dropped", "targets=%zu probes=%zu total_dropped=%llu", n,
			  b->nrows, (unsigned long long)p->dropped_total);
	}
	persist_send(p);
	if (p->written != NULL)
		p->written(p->written_arg, b->targets, b->ntargets);
	batch_free(b);
}

static bool
persist_busy(const struct persist *p)
{
	for (int i = 0; i < WRITERS; i++) {
		if (p->w[i].inflight != NULL)
			return true;
	}
	return false;
}

/* Gives each idle writer the next full batch, else what is filling. */
static void
persist_send(struct persist *p)
{
	for (int i = 0; i < WRITERS; i++) {
		struct writer *w = &p->w[i];
		struct batch *b;

		if (w->inflight != NULL)
			continue;
		if (p->queue_head == NULL && p->filling != NULL && p->filling->units > 0) {
			p->queue_head = p->queue_tail = p->filling;
			p->filling = NULL;
		}
		if (p->queue_head == NULL)
			return;
		b = p->queue_head;
		p->queue_head = b->next;
		if (p->queue_head == NULL)
			p->queue_tail = NULL;
		b->next = NULL;
		b->sent_ms = now_mono_ms();
		b->writer = w;
		w->inflight = b;
		dbthread_submit(w->db, persist_run, persist_done, b, true);
	}
}

static void
persist_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct persist *p = arg;

	p->timer_armed = false;
	persist_send(p);
}

struct persist *
persist_new(struct event_base *base, const char *conninfo, const char *node, size_t max_buffer,
	    persist_written_fn written, void *arg)
{
	struct persist *p = xcalloc(1, sizeof(*p));

	p->base = base;
	p->node = xstrdup(node);
	p->max_buffer = max_buffer;
	p->written = written;
	p->written_arg = arg;
	for (int i = 0; i < WRITERS; i++) {
		char name[16];

		str_fmt(name, sizeof(name), "persist%d", i + 1);
		p->w[i].db = dbthread_new(base, name, conninfo, NULL, NULL, NULL);
	}
	p->flush_timer = evtimer_new(base, persist_on_timer, p);
	return p;
}

void
persist_add(struct persist *p, const struct target_done *t, struct probe_row *rows, size_t n)
{
	struct batch *b;

	if (p->filling == NULL)
		p->filling = batch_new(p);
	b = p->filling;
	if (b->ntargets == b->cap_targets) {
		b->cap_targets = b->cap_targets == 0 ? 64 : b->cap_targets * 2;
		b->targets = xrealloc(b->targets, b->cap_targets * sizeof(*b->targets));
	}
	if (t != NULL)
		b->targets[b->ntargets++] = *t;
	b->units++;
	for (size_t i = 0; i < n; i++) {
		struct probe_row *r = xmalloc(sizeof(*r));

		*r = rows[i];
		memset(&rows[i], 0, sizeof(rows[i]));
		if (b->nrows == b->cap_rows) {
			b->cap_rows = b->cap_rows == 0 ? 64 : b->cap_rows * 2;
			b->rows = xrealloc(b->rows, b->cap_rows * sizeof(*b->rows));
		}
		b->rows[b->nrows++] = r;
	}
	p->buffered++;
	if (b->units >= BATCH_MAX) {
		if (p->queue_tail != NULL)
			p->queue_tail->next = b;
		else
			p->queue_head = b;
		p->queue_tail = b;
		p->filling = NULL;
		persist_send(p);
	} else if (!persist_busy(p) && !p->timer_armed) {
		/* Wait a moment so a burst of results shares one transaction. */
		struct timeval tv = {0, FLUSH_DELAY_MS * 1000};

		p->timer_armed = true;
		evtimer_add(p->flush_timer, &tv);
	}
}

size_t
persist_buffered(const struct persist *p)
{
	return p->buffered;
}

bool
persist_full(const struct persist *p)
{
	return p->buffered >= p->max_buffer;
}

uint64_t
persist_written_total(const struct persist *p)
{
	return p->written_total;
}

void
persist_free(struct persist *p, int grace_ms)
{
	struct batch *rest;
	int k = 0;

	if (p == NULL)
		return;
	evtimer_del(p->flush_timer);
	p->written = NULL;
	/* Hand every batch to a thread at once; persist_done then finds nothing left to send. */
	if (p->filling != NULL && p->filling->units > 0) {
		p->filling->next = NULL;
		if (p->queue_tail != NULL)
			p->queue_tail->next = p->filling;
		else
			p->queue_head = p->filling;
	} else if (p->filling != NULL) {
		batch_free(p->filling);
	}
	rest = p->queue_head;
	p->queue_head = p->queue_tail = p->filling = NULL;
	for (struct batch *b = rest, *next; b != NULL; b = next) {
		next = b->next;
		b->writer = &p->w[k++ % WRITERS];
		dbthread_submit(b->writer->db, persist_run, persist_done, b, true);
	}
	for (int i = 0; i < WRITERS; i++)
		dbthread_free(p->w[i].db, grace_ms);
	if (p->buffered > 0)
		log_error("results_lost", "targets=%zu reason=\"database unavailable at shutdown\"",
			  p->buffered);
	event_free(p->flush_timer);
	free(p->node);
	free(p);
}
