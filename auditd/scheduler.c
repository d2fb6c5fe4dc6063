/*
 * The scheduler (see scheduler.h). Claims, lease releases and periodic
 * jobs run on the scheduler's own database thread (which also LISTENs for
 * relayaudit_due); results go to persist's thread, so a slow write never
 * delays the next claim.
 */
#include "auditd/scheduler.h"
#include "auditd/persist.h"
#include "common/log.h"
#include "common/util.h"
#include "db/dbthread.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define HEARTBEAT_S 5
#define CONFIRM_EVERY_TICKS 2  /* heartbeats between confirm-deadline runs */
#define PRUNE_EVERY_TICKS 12   /* heartbeats between retention runs */
#define CONFIRM_LIMIT 1000
#define PRUNE_LIMIT 5000
#define RETRY_CLAIM_MS 1000

struct sched_item {
	struct claimed_target t;
	struct probe_row rows[TARGET_MAX_PORTS];
	bool probed[TARGET_MAX_PORTS];
	bool done[TARGET_MAX_PORTS];    /* rows[port] holds the port's result */
	size_t pending; /* ports submitted and not yet done */
	int64_t started_ms;
	bool released;  /* lease given back at shutdown: write rows only */
	struct sched_item *prev, *next;
};

/*
 * Target ids this node holds: probing, or finished and not yet written. A
 * lease can run out while its result waits in memory (a database outage
 * longer than lease_time); the next claim may then hand this node the same
 * target again, which must not be probed twice. Open addressing, 0 = empty.
 */
struct idset {
	int64_t *keys;
	size_t cap, n;
};

static size_t
idset_slot(const struct idset *s, int64_t id)
{
	return (size_t)((uint64_t)id * UINT64_C(0x9E3779B97F4A7C15) >> 17) & (s->cap - 1);
}

static bool
idset_has(const struct idset *s, int64_t id)
{
	if (s->cap == 0)
		return false;
	for (size_t i = idset_slot(s, id);; i = (i + 1) & (s->cap - 1)) {
		if (s->keys[i] == id)
			return true;
		if (s->keys[i] == 0)
			return false;
	}
}

static void
idset_add(struct idset *s, int64_t id)
{
	if ((s->n + 1) * 2 > s->cap) {
		struct idset bigger = {xcalloc(s->cap ? s->cap * 2 : 1024, sizeof(int64_t)),
				       s->cap ? s->cap * 2 : 1024, 0};

		for (size_t i = 0; i < s->cap; i++) {
			if (s->keys[i] != 0)
				idset_add(&bigger, s->keys[i]);
		}
		free(s->keys);
		*s = bigger;
	}
	for (size_t i = idset_slot(s, id);; i = (i + 1) & (s->cap - 1)) {
		if (s->keys[i] == id)
			return;
		if (s->keys[i] == 0) {
			s->keys[i] = id;
			s->n++;
			return;
		}
	}
}

/* Removal with backward shift, so lookups never need tombstones. */
static void
idset_del(struct idset *s, int64_t id)
{
	size_t i, j;

	if (s->cap == 0)
		return;
	for (i = idset_slot(s, id); s->keys[i] != id; i = (i + 1) & (s->cap - 1)) {
		if (s->keys[i] == 0)
			return;
	}
	s->keys[i] = 0;
	s->n--;
	for (j = (i + 1) & (s->cap - 1); s->keys[j] != 0; j = (j + 1) & (s->cap - 1)) {
		size_t home = idset_slot(s, s->keys[j]);

		/* Move keys[j] into the hole unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			s->keys[i] = s->keys[j];
			s->keys[j] = 0;
			i = j;
		}
	}
}

struct scheduler {
	struct event_base *base;
	struct sched_params p;
	char *node, *roles;
	sched_submit_fn submit;
	void *submit_arg;
	struct dbthread *db;
	struct persist *persist;

	struct sched_item *items; /* in flight */
	size_t in_flight;
	struct idset held;        /* in flight or waiting to be written */
	uint64_t skipped_held;
	bool claiming;     /* a claim job is out */
	bool more;         /* the last claim was full: more may be due */
	bool draining;
	sched_idle_fn idle;
	void *idle_arg;
	bool idle_fired;
	unsigned ticks;
	bool heartbeat_out, confirm_out, prune_out;
	uint64_t rng;

	struct event *poll_timer, *tick_timer, *kick_ev;
	struct sched_stats stats;
};

static const char *const due_channels[] = {"relayaudit_due", NULL};

/* ---- pure helpers ---- */

enum backscatter_result
scheduler_worst_backscatter(const enum backscatter_result *b, size_t n)
{
	enum backscatter_result worst = BACKSCATTER_UNTESTED;

	/* The enum is in order of significance: a confirmed bounce outranks the rest. */
	for (size_t i = 0; i < n; i++) {
		if (b[i] > worst)
			worst = b[i];
	}
	return worst;
}

int64_t
scheduler_next_interval(const struct sched_params *p, const enum probe_verdict *verdicts,
			size_t n, int64_t target_interval_s, double unit_random)
{
	size_t no_smtp = 0;
	int64_t base;
	double spread;

	for (size_t i = 0; i < n; i++) {
		/* Greylisting held the test up: come back once the greylist would pass us. */
		if (verdicts[i] == VERDICT_TEMPFAIL)
			return p->greylist_wait_s > 0 ? p->greylist_wait_s : 60;
		if (verdicts[i] == VERDICT_NO_SMTP)
			no_smtp++;
	}
	if (n > 0 && no_smtp == n)
		base = p->no_smtp_interval_s;
	else
		base = target_interval_s > 0 ? target_interval_s : p->probe_interval_s;
	/* Jitter spreads one big sweep's follow-up over a window instead of one instant. */
	spread = (double)base * p->jitter_pct / 100.0 * (2.0 * unit_random - 1.0);
	base += (int64_t)spread;
	return base < 1 ? 1 : base;
}

static double
sched_random(struct scheduler *s)
{
	/* xorshift64: jitter needs spread, not secrecy. */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (double)(s->rng >> 11) / (double)(UINT64_C(1) << 53);
}

/* ---- items ---- */

static void
item_unlink(struct scheduler *s, struct sched_item *it)
{
	if (it->prev != NULL)
		it->prev->next = it->next;
	else
		s->items = it->next;
	if (it->next != NULL)
		it->next->prev = it->prev;
	s->in_flight--;
}

static void
item_free(struct sched_item *it)
{
	for (size_t i = 0; i < it->t.nports; i++)
		probe_row_clear(&it->rows[i]);
	claimed_target_free(&it->t);
	free(it);
}

static void sched_kick(struct scheduler *s);
static void sched_check_idle(struct scheduler *s);

static void
sched_finish(struct scheduler *s, struct sched_item *it)
{
	enum probe_verdict verdicts[TARGET_MAX_PORTS] = {0};
	enum backscatter_result bs[TARGET_MAX_PORTS] = {0};
	struct probe_row rows[TARGET_MAX_PORTS];
	struct target_done td;
	size_t n = 0;

	memset(&td, 0, sizeof(td));
	for (size_t i = 0; i < it->t.nports; i++) {
		if (!it->probed[i] || !it->done[i])
			continue;
		verdicts[n] = it->rows[i].verdict;
		bs[n] = it->rows[i].backscatter;
		n++;
	}
	td.target_id = it->t.id;
	td.claimed_priority = it->t.priority;
	td.claimed_sweep = it->t.sweep_id;
	td.started_ms = it->started_ms;
	if (verdict_worst(verdicts, n, &td.last_verdict) == 0) {
		for (size_t i = 0; i < it->t.nports && td.last_probe_id == 0; i++) {
			if (it->probed[i] && it->done[i] && it->rows[i].verdict == td.last_verdict)
				td.last_probe_id = it->rows[i].id;
		}
	}
	td.last_backscatter = scheduler_worst_backscatter(bs, n);
	td.next_in_s = scheduler_next_interval(&s->p, verdicts, n, it->t.interval_s, sched_random(s));
	/* The rows move to persist. */
	n = 0;
	for (size_t i = 0; i < it->t.nports; i++) {
		if (it->probed[i] && it->done[i]) {
			rows[n++] = it->rows[i];
			memset(&it->rows[i], 0, sizeof(it->rows[i]));
			it->done[i] = false;
		}
	}
	persist_add(s->persist, it->released ? NULL : &td, rows, n);
	item_unlink(s, it);
	item_free(it);
	s->stats.finished++;
	sched_kick(s);
	sched_check_idle(s);
}

void
scheduler_port_done(struct scheduler *s, struct sched_item *it, size_t port, struct probe_row *row)
{
	if (port >= it->t.nports || !it->probed[port] || it->done[port]) {
		log_error("sched_bad_done", "target=%" PRId64 " port=%zu", it->t.id, port);
		probe_row_clear(row);
		return;
	}
	it->rows[port] = *row;
	it->done[port] = true;
	memset(row, 0, sizeof(*row));
	it->rows[port].id = it->t.probe_ids[port];
	it->rows[port].target_id = it->t.id;
	it->rows[port].sweep_id = it->t.sweep_id;
	if (it->rows[port].address == NULL)
		it->rows[port].address = xstrdup(it->t.address);
	if (it->rows[port].port == 0)
		it->rows[port].port = it->t.ports[port];
	if (--it->pending == 0)
		sched_finish(s, it);
}

/* ---- claims ---- */

struct claim_job {
	struct scheduler *s;
	char *node;
	int limit;
	int64_t lease_s, submitted_ms;
	struct claimed_target *rows;
	size_t n;
};

static int
claim_run(PGconn *c, void *arg)
{
	struct claim_job *j = arg;

	return targets_claim(c, j->node, j->limit, j->lease_s, &j->rows, &j->n);
}

struct release_job {
	char *node;
	int64_t *ids;
	size_t n;
};

static int
release_run(PGconn *c, void *arg)
{
	struct release_job *j = arg;

	return targets_release(c, j->node, j->ids, j->n) < 0 ? -1 : 0;
}

static void
release_done(void *arg, int status)
{
	struct release_job *j = arg;

	if (status == 0)
		log_info("leases_released", "targets=%zu", j->n);
	free(j->ids);
	free(j->node);
	free(j);
}

static void
sched_release(struct scheduler *s, const int64_t *ids, size_t n)
{
	struct release_job *j;

	if (n == 0)
		return;
	j = xcalloc(1, sizeof(*j));
	j->node = xstrdup(s->node);
	j->ids = xmalloc(n * sizeof(*ids));
	memcpy(j->ids, ids, n * sizeof(*ids));
	j->n = n;
	dbthread_submit(s->db, release_run, release_done, j, true);
}

static void
sched_start_item(struct scheduler *s, struct claimed_target *t)
{
	struct sched_item *it = xcalloc(1, sizeof(*it));

	it->t = *t;
	memset(t, 0, sizeof(*t));
	idset_add(&s->held, it->t.id);
	it->started_ms = now_wall_ms();
	it->next = s->items;
	if (s->items != NULL)
		s->items->prev = it;
	s->items = it;
	s->in_flight++;
	s->stats.claimed++;
	/* Count every port first, so a prober answering early cannot finish the item half-way. */
	it->pending = 1;
	for (size_t i = 0; i < it->t.nports; i++) {
		const char *why = NULL;

		it->probed[i] = true;
		it->pending++;
		if (s->submit(s->submit_arg, it, &it->t, i, &why) != 0) {
			it->probed[i] = false;
			it->pending--;
			log_debug("probe_skipped", "target=%" PRId64 " address=%s port=%d reason=\"%s\"",
				  it->t.id, it->t.address, it->t.ports[i], why != NULL ? why : "");
		}
	}
	if (--it->pending == 0)
		sched_finish(s, it);
}

static void
claim_done(void *arg, int status)
{
	struct claim_job *j = arg;
	struct scheduler *s = j->s;

	s->claiming = false;
	if (status != 0) {
		/* The database is away or refused: the poll timer tries again. */
		s->more = false;
	} else if (s->draining) {
		int64_t *ids = xcalloc(j->n + 1, sizeof(*ids));

		for (size_t i = 0; i < j->n; i++)
			ids[i] = j->rows[i].id;
		sched_release(s, ids, j->n);
		free(ids);
	} else {
		s->stats.claims++;
		s->more = j->n == (size_t)j->limit;
		if (j->n > 0)
			log_debug("claimed", "targets=%zu in_flight=%zu ms=%lld", j->n, s->in_flight,
				  (long long)(now_mono_ms() - j->submitted_ms));
		for (size_t i = 0; i < j->n; i++) {
			if (idset_has(&s->held, j->rows[i].id)) {
				/* Ours already; its pending write releases the renewed lease. */
				s->skipped_held++;
				log_debug("claim_held", "target=%" PRId64, j->rows[i].id);
				continue;
			}
			sched_start_item(s, &j->rows[i]);
		}
	}
	for (size_t i = 0; i < j->n; i++)
		claimed_target_free(&j->rows[i]);
	free(j->rows);
	free(j->node);
	free(j);
	sched_kick(s);
	sched_check_idle(s);
}

static void
sched_claim(struct scheduler *s, int limit)
{
	struct claim_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->node = xstrdup(s->node);
	j->limit = limit;
	j->lease_s = s->p.lease_s;
	j->submitted_ms = now_mono_ms();
	s->claiming = true;
	dbthread_submit(s->db, claim_run, claim_done, j, false);
}

static void
sched_kick(struct scheduler *s)
{
	int room, want;

	if (s->draining || s->claiming || !s->more)
		return;
	/*
	 * Results not yet written keep their targets leased, and leased rows
	 * are skipped at the head of the due index by every claim: claiming
	 * ahead of the writers would make each claim slower. Wait for them
	 * (persist's written callback kicks again).
	 */
	if (persist_full(s->persist) || persist_buffered(s->persist) > (size_t)s->p.batch * 2)
		return;
	room = s->p.max_in_flight - (int)s->in_flight;
	want = room < s->p.batch ? room : s->p.batch;
	/* Wait for a worthwhile batch unless almost nothing is in flight. */
	if (want <= 0 || (want < s->p.batch / 2 && s->in_flight > (size_t)s->p.batch / 2))
		return;
	sched_claim(s, want);
}

static void
sched_on_notify(void *arg, const char *channel)
{
	struct scheduler *s = arg;

	s->more = true;
	sched_kick(s);
}

static void
sched_on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct scheduler *s = arg;

	s->more = true;
	sched_kick(s);
}

static void
sched_on_written(void *arg, const struct target_done *t, size_t n)
{
	struct scheduler *s = arg;

	for (size_t i = 0; i < n; i++)
		idset_del(&s->held, t[i].target_id);
	s->stats.written += n;
	sched_kick(s);
	sched_check_idle(s);
}

/* ---- periodic jobs ---- */

struct maint_job {
	struct scheduler *s;
	char *node, *roles;
	int64_t in_flight, retention_s, count;
	bool *flag;
	int kind; /* 0 heartbeat, 1 confirm, 2 prune */
};

/* The final verdict of a probe whose test message never arrived: its one verdict line. */
static void
maint_expired(void *arg, int64_t probe_id, const char *address, int port)
{
	(void)arg;
	log_info("verdict", "address=%s port=%d verdict=accepted_not_relayed probe=%" PRId64,
		 address, port, probe_id);
}

static int
maint_run(PGconn *c, void *arg)
{
	struct maint_job *j = arg;

	switch (j->kind) {
	case 0: return nodes_heartbeat(c, j->node, j->roles, j->in_flight);
	case 1: j->count = probes_expire_confirm(c, CONFIRM_LIMIT, maint_expired, NULL); break;
	default: j->count = probes_prune(c, j->retention_s, PRUNE_LIMIT); break;
	}
	return j->count < 0 ? -1 : 0;
}

static void
maint_done(void *arg, int status)
{
	struct maint_job *j = arg;

	*j->flag = false;
	if (status == 0 && j->kind == 1 && j->count > 0)
		log_info("confirm_expired", "probes=%" PRId64, j->count);
	if (status == 0 && j->kind == 2 && j->count > 0)
		log_info("probes_pruned", "probes=%" PRId64, j->count);
	free(j->node);
	free(j->roles);
	free(j);
}

static void
sched_maint(struct scheduler *s, int kind, bool *flag)
{
	struct maint_job *j;

	if (*flag)
		return;
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->node = xstrdup(s->node);
	j->roles = xstrdup(s->roles);
	j->in_flight = (int64_t)s->in_flight;
	j->retention_s = s->p.retention_s;
	j->kind = kind;
	j->flag = flag;
	*flag = true;
	dbthread_submit(s->db, maint_run, maint_done, j, false);
}

static void
sched_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct scheduler *s = arg;

	s->ticks++;
	sched_maint(s, 0, &s->heartbeat_out);
	if (s->ticks % CONFIRM_EVERY_TICKS == 0)
		sched_maint(s, 1, &s->confirm_out);
	if (s->ticks % PRUNE_EVERY_TICKS == 1)
		sched_maint(s, 2, &s->prune_out);
}

/* ---- life cycle ---- */

static void
sched_arm_poll(struct scheduler *s)
{
	struct timeval tv = {s->p.poll_s > 0 ? s->p.poll_s : 1, 0};

	evtimer_del(s->poll_timer);
	event_add(s->poll_timer, &tv);
}

static void
sched_copy_params(struct scheduler *s, const struct sched_params *p)
{
	free(s->node);
	free(s->roles);
	s->p = *p;
	s->node = xstrdup(p->node != NULL ? p->node : "");
	s->roles = xstrdup(p->roles != NULL ? p->roles : "probe");
	s->p.node = s->node;
	s->p.roles = s->roles;
	if (s->p.batch < 1)
		s->p.batch = 1;
	if (s->p.max_in_flight < 1)
		s->p.max_in_flight = 1;
}

static int
release_node_run(PGconn *c, void *arg)
{
	struct release_job *j = arg;
	int64_t n = targets_release_node(c, j->node);

	if (n > 0)
		log_info("leases_recovered", "node=%s targets=%" PRId64, j->node, n);
	return n < 0 ? -1 : 0;
}

static void
release_node_done(void *arg, int status)
{
	struct release_job *j = arg;

	free(j->node);
	free(j);
}

struct scheduler *
scheduler_new(struct event_base *base, const char *conninfo, const struct sched_params *p,
	      sched_submit_fn submit, void *submit_arg)
{
	struct scheduler *s = xcalloc(1, sizeof(*s));
	struct timeval tick = {HEARTBEAT_S, 0};
	struct release_job *rj = xcalloc(1, sizeof(*rj));

	s->base = base;
	sched_copy_params(s, p);
	s->submit = submit;
	s->submit_arg = submit_arg;
	random_bytes(&s->rng, sizeof(s->rng));
	s->rng |= 1;
	s->db = dbthread_new(base, "scheduler", conninfo, due_channels, sched_on_notify, s);
	s->persist = persist_new(base, conninfo, s->node, s->p.result_buffer, sched_on_written, s);
	s->poll_timer = event_new(base, -1, EV_PERSIST, sched_on_poll, s);
	s->tick_timer = event_new(base, -1, EV_PERSIST, sched_on_tick, s);
	sched_arm_poll(s);
	event_add(s->tick_timer, &tick);
	/*
	 * Leases still held under our name belong to an earlier life of this
	 * node (node names are unique): take them back before the first claim.
	 */
	rj->node = xstrdup(s->node);
	dbthread_submit(s->db, release_node_run, release_node_done, rj, true);
	sched_maint(s, 0, &s->heartbeat_out);
	s->more = true;
	sched_kick(s);
	return s;
}

void
scheduler_set_params(struct scheduler *s, const struct sched_params *p)
{
	char *node = xstrdup(s->node);
	struct sched_params q = *p;

	/* The node name is the lease owner: it cannot change under running leases. */
	q.node = node;
	sched_copy_params(s, &q);
	free(node);
	sched_arm_poll(s);
	s->more = true;
	sched_kick(s);
}

static void
sched_check_idle(struct scheduler *s)
{
	if (s->draining && !s->idle_fired && !scheduler_busy(s)) {
		s->idle_fired = true;
		if (s->idle != NULL)
			s->idle(s->idle_arg);
	}
}

void
scheduler_drain(struct scheduler *s, sched_idle_fn idle, void *arg)
{
	s->draining = true;
	s->idle = idle;
	s->idle_arg = arg;
	evtimer_del(s->poll_timer);
	sched_check_idle(s);
}

bool
scheduler_busy(const struct scheduler *s)
{
	return s->in_flight > 0 || s->claiming || persist_buffered(s->persist) > 0;
}

void
scheduler_release_unfinished(struct scheduler *s)
{
	int64_t *ids = xcalloc(s->in_flight + 1, sizeof(*ids));
	size_t n = 0;

	for (struct sched_item *it = s->items; it != NULL; it = it->next) {
		if (!it->released) {
			it->released = true;
			ids[n++] = it->t.id;
		}
	}
	sched_release(s, ids, n);
	free(ids);
}

void
scheduler_free(struct scheduler *s, int grace_ms)
{
	if (s == NULL)
		return;
	event_free(s->poll_timer);
	event_free(s->tick_timer);
	s->draining = true;
	/* Items the prober never answered: their leases were released or will expire. */
	while (s->items != NULL) {
		struct sched_item *it = s->items;

		item_unlink(s, it);
		item_free(it);
	}
	persist_free(s->persist, grace_ms);
	s->persist = NULL;
	free(s->held.keys);
	dbthread_free(s->db, grace_ms);
	free(s->node);
	free(s->roles);
	free(s);
}

void
scheduler_stats(const struct scheduler *s, struct sched_stats *out)
{
	*out = s->stats;
	out->in_flight = s->in_flight;
	out->buffered = persist_buffered(s->persist);
	out->written = persist_written_total(s->persist);
}
