/*
 * The probe scheduler: a queue of targets, admission under the global
 * in-flight limit, one probe per address, a per-/24 (/64) limit and the
 * descriptor budget, a token bucket for new connections, reconnects after
 * 421/drops/error budgets, greylisting retries, and delivery of results.
 * One shard per event loop: with probe_threads 1 the shard runs on the
 * caller's loop; with more, each shard has a thread and a loop of its own,
 * targets go to a shard by their /24 (/64) so per-network limits hold, and
 * results come back to the caller's loop. Nothing here blocks.
 */
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/probe.h"
#include "probe-engine/rdns.h"
#include "probe-engine/run.h"
#include "probe-engine/session.h"
#include "probe-engine/tls.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#define ENGINE_BUCKETS 4096
#define ENGINE_SCAN_MAX 1024      /* queued targets looked at per admission */
#define ENGINE_RESOURCE_WAIT_MS 100
#define ENGINE_NO_PROGRESS_MAX 3  /* connections in a row that decided nothing */

/* A counted key: probes per address, probes per network. */
struct count_node {
	struct count_node *next;
	uint64_t key;
	struct addr addr; /* for address keys: the hash alone may collide */
	int count;
};

struct count_map {
	struct count_node *b[ENGINE_BUCKETS];
};

enum job_state {
	JOB_QUEUED,
	JOB_RESOLVING, /* waiting for its reverse DNS name (params.rdns), on the caller's loop */
	JOB_CONNECT_WAIT,
	JOB_CONNECTED,
	JOB_SLEEPING,
	JOB_FINISHED
};

struct job {
	struct job *next, *prev; /* in the list its state belongs to */
	enum job_state state;
	int port;
	struct shard *e;
	uint64_t probe_id;
	/* the target: its name and domains are the job's own copies until run_new copies them */
	struct probe_target tgt;
	struct probe_run *run;
	struct session *sess;
	struct event *sleep_ev;
	int decided_before;
};

struct job_list {
	struct job *head, *tail;
	size_t n;
};

/* Wakes a loop from another thread: an eventfd read by an event on that loop. */
struct waker {
	int fd;
	struct event *ev;
};

/* One event loop's share of the targets: everything in it runs on that loop's thread. */
struct shard {
	struct probe_engine *front;
	unsigned id;
	struct event_base *base;
	pthread_t thread;
	struct probe_params p; /* a copy: strings and ports point into the front's */
	SSL_CTX *tls;          /* the front's: one client context for every connection */
	struct job_list queued, connect_wait, active, finished;
	struct count_map by_addr, by_net;
	size_t in_flight, peak_in_flight, ndone;
	uint64_t connects, attempts;
	struct event *pump_ev, *pump_timer;
	bool pump_timer_armed;
	struct session **reap;
	size_t nreap, reap_cap;
	atomic_bool starved; /* stopped admitting at the global limit with work queued */

	/* handed over by other threads (threaded engines only); under mu */
	pthread_mutex_t mu;
	struct job_list inbox;
	int new_per_net;   /* -1: unchanged */
	bool stop;
	struct probe_stats pub; /* the latest snapshot for probe_engine_stats */
	struct waker wake;
};

/* The token bucket for new connections, shared by every shard: the rate is global. */
struct rate_bucket {
	pthread_mutex_t mu;
	int rate;
	double tokens;
	int64_t at;
};

struct probe_engine {
	struct event_base *base; /* the caller's: results are delivered on it */
	struct probe_params p;
	int *ports, *tls_ports;
	SSL_CTX *tls;
	struct cidr *exclude;
	char *helo, *sink, *outside, *contact;
	probe_done_fn done;
	void *arg;
	struct shard **shards;
	size_t nshards;
	bool threaded;
	int fd_budget;
	atomic_int concurrency;
	atomic_size_t in_flight, peak_in_flight;
	struct rate_bucket bucket;
	size_t submitted, delivered; /* caller's thread only */

	/* results from the shards' threads, under out_mu */
	pthread_mutex_t out_mu;
	struct probe_run **out;	/* finished runs for the caller (run_take_result there) */
	size_t nout, out_cap;
	struct waker out_wake;
};

static void engine_pump_cb(evutil_socket_t fd, short what, void *arg);
static size_t engine_threads(int want);

/* ---- counted keys ---- */

static struct count_node **
count_find(struct count_map *m, uint64_t key, const struct addr *a)
{
	struct count_node **pp = &m->b[key % ENGINE_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->key == key && (a == NULL || addr_equal(&(*pp)->addr, a)))
			return pp;
	}
	return pp;
}

static int
count_get(struct count_map *m, uint64_t key, const struct addr *a)
{
	struct count_node **pp = count_find(m, key, a);

	return *pp ? (*pp)->count : 0;
}

static void
count_add(struct count_map *m, uint64_t key, const struct addr *a, int delta)
{
	struct count_node **pp = count_find(m, key, a);

	if (*pp == NULL) {
		*pp = xcalloc(1, sizeof(**pp));
		(*pp)->key = key;
		if (a)
			(*pp)->addr = *a;
	}
	(*pp)->count += delta;
	if ((*pp)->count <= 0) {
		struct count_node *n = *pp;

		*pp = n->next;
		free(n);
	}
}

static void
count_clear(struct count_map *m)
{
	for (size_t i = 0; i < ENGINE_BUCKETS; i++) {
		while (m->b[i]) {
			struct count_node *n = m->b[i];

			m->b[i] = n->next;
			free(n);
		}
	}
}

/* ---- job lists ---- */

static void
list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static void
list_remove(struct job_list *l, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->next = j->prev = NULL;
	l->n--;
}

static struct job_list *
engine_list(struct shard *e, enum job_state s)
{
	switch (s) {
	case JOB_QUEUED: return &e->queued;
	case JOB_CONNECT_WAIT: return &e->connect_wait;
	case JOB_FINISHED: return &e->finished;
	default: return &e->active;
	}
}

static void
job_move(struct job *j, enum job_state s)
{
	list_remove(engine_list(j->e, j->state), j);
	j->state = s;
	list_push(engine_list(j->e, s), j);
}

/* The job's copies of the target's name and domains (the run has its own once it exists). */
static void
job_free_target(struct job *j)
{
	for (size_t i = 0; i < j->tgt.ndomains; i++)
		free((char *)j->tgt.domains[i]);
	free((void *)j->tgt.domains);
	free((char *)j->tgt.name);
	j->tgt.domains = NULL;
	j->tgt.ndomains = 0;
	j->tgt.name = NULL;
}

static void
job_free(struct job *j)
{
	job_free_target(j);
	if (j->sleep_ev)
		event_free(j->sleep_ev);
	run_free(j->run);
	free(j);
}

/* ---- the descriptor budget ---- */

int
probe_fd_budget(int reserve)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 64;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = {rl.rlim_max, rl.rlim_max};

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000)
		rl.rlim_cur = 1000000;
	/* stdio, the event loop's own descriptors and the caller's reserve stay free */
	long b = (long)rl.rlim_cur - reserve - 16;
	return b < 1 ? 1 : (int)b;
}

/* ---- waking a loop from another thread ---- */

static void
waker_init(struct waker *w, struct event_base *base, event_callback_fn cb, void *arg)
{
	w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->fd < 0)
		fatal("probe engine: eventfd: %s", strerror(errno));
	w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST, cb, arg);
	event_add(w->ev, NULL);
}

static void
waker_poke(struct waker *w)
{
	uint64_t one = 1;

	/* a full counter (EAGAIN) is still a wakeup */
	if (write(w->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("probe_engine_wake", "error=\"%s\"", strerror(errno));
}

static void
waker_drain(struct waker *w)
{
	uint64_t n;

	if (read(w->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("probe_engine_wake", "error=\"%s\"", strerror(errno));
}

static void
waker_free(struct waker *w)
{
	if (w->ev)
		event_free(w->ev);
	if (w->fd >= 0)
		close(w->fd);
	w->ev = NULL;
	w->fd = -1;
}

/* ---- engine ---- */

static void
engine_wake(struct shard *e)
{
	event_active(e->pump_ev, EV_TIMEOUT, 0);
}

static char *
strdup_or(const char *s, const char *def)
{
	return xstrdup(s ? s : def);
}

/* Another thread (or the caller's loop) has something for this shard. */
static void
shard_poke(struct shard *e)
{
	if (e->front->threaded)
		waker_poke(&e->wake);
	else
		engine_wake(e);
}

/* On the shard's loop: takes over what other threads handed in. */
static void
shard_take_inbox(struct shard *e)
{
	struct job *j;

	pthread_mutex_lock(&e->mu);
	while ((j = e->inbox.head) != NULL) {
		list_remove(&e->inbox, j);
		list_push(&e->queued, j);
	}
	if (e->new_per_net >= 0) {
		e->p.per_net = e->new_per_net;
		e->new_per_net = -1;
	}
	pthread_mutex_unlock(&e->mu);
}

static void
shard_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shard *e = arg;
	bool stop;

	waker_drain(&e->wake);
	pthread_mutex_lock(&e->mu);
	stop = e->stop;
	pthread_mutex_unlock(&e->mu);
	if (stop)
		event_base_loopbreak(e->base);
	else
		engine_pump_cb(-1, 0, e);
}

static void *
shard_thread(void *arg)
{
	struct shard *e = arg;

	event_base_dispatch(e->base);
	return NULL;
}

static struct shard *
shard_new(struct probe_engine *f, unsigned id, struct event_base *base)
{
	struct shard *e = xcalloc(1, sizeof(*e));

	e->front = f;
	e->id = id;
	e->base = base;
	e->p = f->p;
	e->p.exclude = NULL; /* submissions are checked by the front */
	e->p.nexclude = 0;
	e->tls = f->tls;
	e->new_per_net = -1;
	e->wake.fd = -1;
	pthread_mutex_init(&e->mu, NULL);
	e->pump_ev = event_new(base, -1, 0, engine_pump_cb, e);
	e->pump_timer = evtimer_new(base, engine_pump_cb, e);
	if (f->threaded)
		waker_init(&e->wake, base, shard_wake_cb, e);
	return e;
}

/* Results handed back by the shards' threads, delivered on the caller's loop. */
static void
engine_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe_engine *f = arg;
	struct probe_run **out;
	size_t n;

	waker_drain(&f->out_wake);
	pthread_mutex_lock(&f->out_mu);
	out = f->out;
	n = f->nout;
	f->out = NULL;
	f->nout = f->out_cap = 0;
	pthread_mutex_unlock(&f->out_mu);
	for (size_t i = 0; i < n; i++) {
		f->delivered++;
		f->done(run_take_result(out[i]), f->arg);
	}
	free(out);
	if (f->submitted == f->delivered)
		event_del(f->out_wake.ev);
}

int
probe_threads_count(int want)
{
	return (int)engine_threads(want);
}

/* probe_threads 0: one loop per online core. */
static size_t
engine_threads(int want)
{
	long n = want > 0 ? want : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > PROBE_THREADS_MAX ? PROBE_THREADS_MAX : (size_t)n;
}

struct probe_engine *
probe_engine_new(struct event_base *base, const struct probe_params *p, probe_done_fn done,
		 void *arg)
{
	struct probe_engine *e = xcalloc(1, sizeof(*e));

	e->base = base;
	e->p = *p;
	e->helo = strdup_or(p->helo_name, "relayaudit.invalid");
	e->sink = strdup_or(p->sink_domain, "sink.relayaudit.test");
	e->outside = strdup_or(p->outside_domain, "relayaudit-outside.invalid");
	e->contact = p->contact ? xstrdup(p->contact) : xasprintf("abuse@%s", e->sink);
	e->p.helo_name = e->helo;
	e->p.sink_domain = e->sink;
	e->p.outside_domain = e->outside;
	e->p.contact = e->contact;
	if (p->nports > 0) {
		e->ports = xcalloc(p->nports, sizeof(int));
		memcpy(e->ports, p->ports, p->nports * sizeof(int));
	}
	e->p.ports = e->ports;
	if (p->ntls_ports > 0) {
		e->tls_ports = xcalloc(p->ntls_ports, sizeof(int));
		memcpy(e->tls_ports, p->tls_ports, p->ntls_ports * sizeof(int));
	}
	e->p.tls_ports = e->tls_ports;
	const char *why = NULL;
	e->tls = tls_client_ctx_new(&why);
	if (e->tls == NULL)
		fatal("probe engine: TLS client context: %s", why);
	e->p.exclude = NULL;
	e->p.nexclude = 0;
	if (e->p.timeout_ms <= 0)
		e->p.timeout_ms = 30000;
	if (e->p.deadline_ms <= 0)
		e->p.deadline_ms = 600000;
	if (e->p.greylist_wait_ms < 0)
		e->p.greylist_wait_ms = 0;
	e->done = done;
	e->arg = arg;
	e->fd_budget = probe_fd_budget(p->fd_reserve > 0 ? p->fd_reserve : 64);
	pthread_mutex_init(&e->bucket.mu, NULL);
	pthread_mutex_init(&e->out_mu, NULL);
	e->bucket.at = now_mono_ms();
	e->nshards = engine_threads(p->threads);
	e->threaded = e->nshards > 1;
	e->p.threads = (int)e->nshards;
	e->out_wake.fd = -1;
	if (e->threaded) {
		waker_init(&e->out_wake, base, engine_out_cb, e);
		event_del(e->out_wake.ev);
	}
	e->shards = xcalloc(e->nshards, sizeof(*e->shards));
	for (size_t i = 0; i < e->nshards; i++) {
		struct event_base *b = base;

		if (e->threaded && (b = event_base_new()) == NULL)
			fatal("probe engine: event_base_new failed");
		e->shards[i] = shard_new(e, (unsigned)i, b);
	}
	probe_engine_set_limits(e, p->concurrency, p->rate, p->per_net, p->exclude, p->nexclude);
	e->bucket.tokens = e->bucket.rate > 0 ? 1 : 0;
	for (size_t i = 0; e->threaded && i < e->nshards; i++) {
		int rc = pthread_create(&e->shards[i]->thread, NULL, shard_thread, e->shards[i]);

		if (rc != 0)
			fatal("probe engine: pthread_create: %s", strerror(rc));
	}
	return e;
}

void
probe_engine_set_limits(struct probe_engine *e, int concurrency, int rate, int per_net,
			const struct cidr *exclude, size_t nexclude)
{
	atomic_store(&e->concurrency, concurrency > 0 ? concurrency : 1);
	pthread_mutex_lock(&e->bucket.mu);
	e->bucket.rate = rate > 0 ? rate : 0;
	pthread_mutex_unlock(&e->bucket.mu);
	free(e->exclude);
	e->exclude = NULL;
	if (nexclude > 0) {
		e->exclude = xcalloc(nexclude, sizeof(*e->exclude));
		memcpy(e->exclude, exclude, nexclude * sizeof(*exclude));
	}
	e->p.exclude = e->exclude;
	e->p.nexclude = nexclude;
	for (size_t i = 0; i < e->nshards; i++) {
		struct shard *s = e->shards[i];

		pthread_mutex_lock(&s->mu);
		s->new_per_net = per_net > 0 ? per_net : 0;
		pthread_mutex_unlock(&s->mu);
		shard_poke(s);
	}
}

static bool
engine_excluded(const struct probe_engine *e, const struct addr *a)
{
	for (size_t i = 0; i < e->p.nexclude; i++) {
		if (cidr_contains(&e->p.exclude[i], a))
			return true;
	}
	return false;
}

static uint64_t
engine_random_id(void)
{
	uint64_t id = 0;

	while (id == 0) {
		random_bytes(&id, sizeof(id));
		id &= TOKEN_PROBE_ID_MAX;
	}
	return id;
}

/* The shard of an address: by its /24 (/64), so that per_net is one shard's count. */
static struct shard *
engine_shard_of(const struct probe_engine *e, const struct addr *a)
{
	uint64_t k = (addr_net_key(a) ^ (uint64_t)a->family << 62) * UINT64_C(0x9E3779B97F4A7C15);

	return e->shards[(k >> 32) % e->nshards];
}

/* On the caller's thread: the job goes into its shard's inbox. */
static void
engine_hand_over(struct job *j)
{
	struct shard *e = j->e;
	bool was_empty;

	j->state = JOB_QUEUED;
	pthread_mutex_lock(&e->mu);
	was_empty = e->inbox.n == 0;
	list_push(&e->inbox, j);
	pthread_mutex_unlock(&e->mu);
	if (was_empty)
		shard_poke(e);
}

/*
 * The PTR answer (or none), on the caller's loop: the name is H's last resort
 * before the address literal. The lookup runs here, before the job goes to
 * its shard, because the resolver belongs to the caller's loop.
 */
static void
engine_rdns_cb(const char *name, void *arg)
{
	struct job *j = arg;

	if (name != NULL && j->tgt.name == NULL)
		j->tgt.name = xstrdup(name);
	engine_hand_over(j);
}

static void
engine_queue_one(struct probe_engine *f, const struct probe_target *t, int port, uint64_t id)
{
	struct job *j = xcalloc(1, sizeof(*j));
	struct shard *e = engine_shard_of(f, &t->addr);

	j->e = e;
	j->port = port;
	j->probe_id = id;
	j->tgt = *t;
	j->tgt.name = t->name ? xstrdup(t->name) : NULL;
	j->tgt.domains = NULL;
	j->tgt.ndomains = 0;
	if (t->ndomains > 0) {
		char **d = xcalloc(t->ndomains, sizeof(char *));

		for (size_t i = 0; i < t->ndomains; i++)
			d[i] = xstrdup(t->domains[i]);
		j->tgt.domains = (const char *const *)d;
		j->tgt.ndomains = t->ndomains;
	}
	/* the caller's loop waits for results only while some are due */
	if (f->threaded && f->submitted == f->delivered)
		event_add(f->out_wake.ev, NULL);
	f->submitted++;
	/* first its reverse DNS name when it has none and a resolver is given */
	j->state = JOB_RESOLVING;
	if (f->p.rdns == NULL || j->tgt.name != NULL ||
	    rdns_lookup(f->p.rdns, &j->tgt.addr, engine_rdns_cb, j) < 0)
		engine_hand_over(j);
}

int
probe_engine_submit(struct probe_engine *e, const struct probe_target *t, const char **why)
{
	if (t->addr.family != AF_INET && t->addr.family != AF_INET6) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	if (t->port < 0 || t->port > 65535) {
		*why = "port out of range";
		return -1;
	}
	if (t->probe_id > TOKEN_PROBE_ID_MAX) {
		*why = "probe id out of range";
		return -1;
	}
	if (engine_excluded(e, &t->addr)) {
		*why = "excluded";
		return -1;
	}
	if (e->p.loopback_only && !addr_is_loopback(&t->addr)) {
		*why = "outside loopback (loopback_only)";
		return -1;
	}
	if (addr_target_check(&t->addr, e->p.loopback_only, why) < 0)
		return -1;
	if (t->port == 0 && e->p.nports == 0) {
		*why = "no port given and no default ports";
		return -1;
	}
	if (t->port == 0 && e->p.nports > 1 && t->probe_id != 0) {
		/* one probe id per port, or their tokens could not be told apart */
		*why = "a probe id needs an explicit port";
		return -1;
	}
	if (t->port != 0) {
		engine_queue_one(e, t, t->port, t->probe_id ? t->probe_id : engine_random_id());
	} else {
		for (size_t i = 0; i < e->p.nports; i++)
			engine_queue_one(e, t, e->p.ports[i],
					 t->probe_id ? t->probe_id : engine_random_id());
	}
	return 0;
}

/* The global in-flight limit (concurrency, descriptors), shared by every shard. */
static size_t
engine_limit(const struct probe_engine *f)
{
	size_t lim = (size_t)atomic_load(&f->concurrency);

	return (size_t)f->fd_budget < lim ? (size_t)f->fd_budget : lim;
}

static bool
engine_take_slot(struct probe_engine *f)
{
	size_t lim = engine_limit(f), cur = atomic_load(&f->in_flight), peak;

	do {
		if (cur >= lim)
			return false;
	} while (!atomic_compare_exchange_weak(&f->in_flight, &cur, cur + 1));
	peak = atomic_load(&f->peak_in_flight);
	while (cur + 1 > peak && !atomic_compare_exchange_weak(&f->peak_in_flight, &peak, cur + 1))
		;
	return true;
}

/* A slot freed: shards that stopped at the global limit with work queued look again. */
static void
engine_give_slot(struct shard *e)
{
	struct probe_engine *f = e->front;

	atomic_fetch_sub(&f->in_flight, 1);
	for (size_t i = 0; i < f->nshards; i++) {
		struct shard *o = f->shards[i];

		if (o != e && atomic_exchange(&o->starved, false))
			shard_poke(o);
	}
}

/* Holds or releases the job's address and network slots. */
static void
engine_hold(struct shard *e, struct job *j, int delta)
{
	count_add(&e->by_addr, addr_hash(&j->tgt.addr), &j->tgt.addr, delta);
	count_add(&e->by_net, addr_net_key(&j->tgt.addr) ^ (uint64_t)j->tgt.addr.family << 62, NULL,
		  delta);
}

static bool
engine_admissible(struct shard *e, const struct job *j)
{
	if (count_get(&e->by_addr, addr_hash(&j->tgt.addr), &j->tgt.addr) > 0)
		return false;
	if (e->p.per_net > 0 &&
	    count_get(&e->by_net, addr_net_key(&j->tgt.addr) ^ (uint64_t)j->tgt.addr.family << 62,
		      NULL) >= e->p.per_net)
		return false;
	return true;
}

static void engine_session_end(struct session *s, void *arg);

static void
engine_finish_job(struct shard *e, struct job *j)
{
	j->run->end_mono = now_mono_ms(); /* run_finish when the result is handed over */
	engine_hold(e, j, -1);
	e->in_flight--;
	engine_give_slot(e);
	job_move(j, JOB_FINISHED);
	engine_wake(e);
}

static void
engine_sleep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	job_move(j, JOB_CONNECT_WAIT);
	engine_wake(j->e);
}

static void
engine_sleep(struct shard *e, struct job *j, int64_t until)
{
	int64_t ms = until - now_mono_ms();
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	if (j->sleep_ev == NULL)
		j->sleep_ev = evtimer_new(e->base, engine_sleep_cb, j);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	job_move(j, JOB_SLEEPING);
	evtimer_add(j->sleep_ev, &tv);
}

/* The reason a connection ended, as the run's reason when it comes to that. */
static void
engine_note(struct probe_run *r, struct session *s)
{
	char buf[200];

	snprintf(buf, sizeof(buf), "%s: %s", session_end_name(session_end_reason(s)),
		 session_end_detail(s));
	free(r->conn_reason);
	r->conn_reason = xstrdup(buf);
}

/* Decides what follows one connection: a verdict, a reconnect or a wait. */
static void
engine_after_session(struct shard *e, struct job *j, struct session *s)
{
	struct probe_run *r = j->run;
	enum session_end why = session_end_reason(s);
	int64_t now = now_mono_ms(), next_retry;
	size_t ready, left;

	if (why == SE_RESOURCE) {
		engine_sleep(e, j, now + ENGINE_RESOURCE_WAIT_MS);
		return;
	}
	if (why == SE_DEADLINE || now >= r->deadline_mono) {
		engine_note(r, s);
		if (!r->prepared)
			run_set_conn(r, VERDICT_ERROR, STAGE_BANNER, r->conn_reason);
		run_abandon(r, OUTCOME_NOT_RUN);
		engine_finish_job(e, j);
		return;
	}
	if (why == SE_TLS) {
		/* a failed handshake is inconclusive, never closed: asking again changes nothing */
		engine_note(r, s);
		if (!r->prepared)
			run_set_conn(r, VERDICT_ERROR, STAGE_TLS, r->conn_reason);
		run_abandon_at(r, OUTCOME_ERROR, STAGE_TLS);
		engine_finish_job(e, j);
		return;
	}
	if (!r->prepared) {
		/* the first connection(s): no attempt ran yet */
		switch (why) {
		case SE_CONNECT_FAILED:
			if (!r->bytes_seen) {
				engine_note(r, s);
				run_set_conn(r, VERDICT_NO_SMTP, STAGE_CONNECT, r->conn_reason);
				engine_finish_job(e, j);
				return;
			}
			break;
		case SE_REJECTED:
			engine_note(r, s);
			run_set_conn(r, VERDICT_REJECTED_BANNER,
				     session_end_state(s) == SS_BANNER ? STAGE_BANNER : STAGE_EHLO,
				     r->conn_reason);
			engine_finish_job(e, j);
			return;
		case SE_PROTOCOL:
			/* garbage where a greeting belongs: no point asking again */
			engine_note(r, s);
			run_set_conn(r, VERDICT_ERROR, STAGE_BANNER, r->conn_reason);
			engine_finish_job(e, j);
			return;
		case SE_TIMEOUT:
			if (session_end_state(s) == SS_BANNER) {
				/* silence is no SMTP service; a trickle is an SMTP server too slow */
				engine_note(r, s);
				run_set_conn(r, r->bytes_seen ? VERDICT_ERROR : VERDICT_NO_SMTP,
					     STAGE_BANNER, r->conn_reason);
				engine_finish_job(e, j);
				return;
			}
			break;
		default:
			break;
		}
	}
	/* a server that cut us off after n errors tolerates n per connection */
	if (why == SE_DROPPED && session_errors(s) > 0 && session_errors(s) < r->err_budget)
		r->err_budget = session_errors(s);
	if (r->decided > j->decided_before || why == SE_FINISHED || why == SE_BUDGET)
		r->no_progress = 0;
	else
		r->no_progress++;
	if (why != SE_FINISHED && why != SE_BUDGET)
		engine_note(r, s);
	if (r->no_progress >= ENGINE_NO_PROGRESS_MAX) {
		if (!r->prepared)
			run_set_conn(r, VERDICT_ERROR, STAGE_BANNER, r->conn_reason);
		run_abandon(r, OUTCOME_ERROR);
		engine_finish_job(e, j);
		return;
	}
	if (r->relay_stop)
		run_abandon(r, OUTCOME_NOT_RUN);
	left = run_unfinished(r, now, &ready, &next_retry);
	if (r->prepared && left == 0) {
		engine_finish_job(e, j);
		return;
	}
	if (!r->prepared || ready > 0) {
		job_move(j, JOB_CONNECT_WAIT);
		engine_wake(e);
		return;
	}
	/* only greylisting retries are left: no connection held meanwhile */
	engine_sleep(e, j, next_retry);
}

static void
engine_session_end(struct session *s, void *arg)
{
	struct job *j = arg;
	struct shard *e = j->e;

	j->sess = NULL;
	/* freed from the pump, not inside the session's own callback */
	if (e->nreap == e->reap_cap) {
		e->reap_cap = e->reap_cap ? e->reap_cap * 2 : 64;
		e->reap = xrealloc(e->reap, e->reap_cap * sizeof(*e->reap));
	}
	e->reap[e->nreap++] = s;
	engine_after_session(e, j, s);
	engine_wake(e);
}


static bool
engine_take_token(struct shard *e, int64_t now, int64_t *wait_ms)
{
	struct rate_bucket *b = &e->front->bucket;
	double cap;
	bool ok = true;

	pthread_mutex_lock(&b->mu);
	if (b->rate > 0) {
		/* a burst of a tenth of a second's worth, at least one */
		cap = b->rate / 10.0 < 1 ? 1 : b->rate / 10.0;
		b->tokens += (double)(now - b->at) * b->rate / 1000.0;
		b->at = now;
		if (b->tokens > cap)
			b->tokens = cap;
		if (b->tokens < 1) {
			*wait_ms = (int64_t)((1 - b->tokens) * 1000 / b->rate) + 1;
			ok = false;
		} else {
			b->tokens -= 1;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return ok;
}

static bool
engine_rated(struct shard *e)
{
	struct rate_bucket *b = &e->front->bucket;
	bool rated;

	pthread_mutex_lock(&b->mu);
	rated = b->rate > 0;
	pthread_mutex_unlock(&b->mu);
	return rated;
}

static bool
engine_implicit_tls(const struct shard *e, int port)
{
	for (size_t i = 0; i < e->p.ntls_ports; i++) {
		if (e->p.tls_ports[i] == port)
			return true;
	}
	return false;
}

static void
engine_connect(struct shard *e, struct job *j)
{
	job_move(j, JOB_CONNECTED);
	j->decided_before = j->run->decided;
	e->connects++;
	j->sess = session_start(e->base, j->run, j->port, e->tls, engine_implicit_tls(e, j->port),
				engine_session_end, j);
}

/* What probe_engine_stats reads from other threads. */
static void
shard_publish(struct shard *e)
{
	pthread_mutex_lock(&e->mu);
	e->pub.queued = e->queued.n + e->inbox.n;
	e->pub.in_flight = e->in_flight;
	e->pub.peak_in_flight = e->peak_in_flight;
	e->pub.done = e->ndone;
	e->pub.connects = e->connects;
	e->pub.attempts = e->attempts;
	e->pub.fd_budget = e->front->fd_budget;
	pthread_mutex_unlock(&e->mu);
}

/*
 * Results to the caller: directly on its own loop, else through the front's
 * queue, counted and published first so that stats read after the last
 * result include it.
 */
static void
engine_deliver(struct shard *e)
{
	struct probe_engine *f = e->front;
	struct job *j;
	bool poke;

	if (e->finished.n == 0)
		return;
	for (j = e->finished.head; j != NULL; j = j->next) {
		e->attempts += run_attempts_made(j->run);
		e->ndone++;
	}
	if (f->threaded)
		shard_publish(e);
	poke = false;
	while ((j = e->finished.head) != NULL) {
		struct probe_run *run = j->run;

		list_remove(&e->finished, j);
		j->run = NULL;
		job_free(j);
		if (!f->threaded) {
			f->delivered++;
			f->done(run_take_result(run), f->arg);
			continue;
		}
		pthread_mutex_lock(&f->out_mu);
		if (f->nout == f->out_cap) {
			f->out_cap = f->out_cap ? f->out_cap * 2 : 64;
			f->out = xrealloc(f->out, f->out_cap * sizeof(*f->out));
		}
		poke |= f->nout == 0;
		f->out[f->nout++] = run;
		pthread_mutex_unlock(&f->out_mu);
	}
	if (f->threaded && poke)
		waker_poke(&f->out_wake);
}

static bool
shard_busy(const struct shard *e)
{
	return e->queued.n + e->connect_wait.n + e->active.n + e->finished.n > 0 || e->nreap > 0;
}

static void
engine_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shard *e = arg;
	int64_t now = now_mono_ms();
	bool rated = engine_rated(e);

	if (what & EV_TIMEOUT && fd == -1)
		e->pump_timer_armed = false;
	for (size_t i = 0; i < e->nreap; i++)
		session_free(e->reap[i]);
	e->nreap = 0;
	shard_take_inbox(e);

	/* admit queued targets while there is room and the connect line is short */
	size_t scanned = 0, admitted = 0;
	bool room = true;
	struct job *j = e->queued.head;
	while (j != NULL && scanned < ENGINE_SCAN_MAX && (!rated || e->connect_wait.n < 64)) {
		struct job *next = j->next;

		scanned++;
		if (engine_admissible(e, j)) {
			if (!engine_take_slot(e->front)) {
				room = false;
				break;
			}
			engine_hold(e, j, +1);
			e->in_flight++;
			if (e->in_flight > e->peak_in_flight)
				e->peak_in_flight = e->in_flight;
			j->run = run_new(&e->p, &j->tgt, j->port, j->probe_id, now);
			job_free_target(j); /* the run keeps its own copies */
			job_move(j, JOB_CONNECT_WAIT);
			admitted++;
		}
		j = next;
	}
	if (!room) {
		/* another shard's finished probe frees a slot: it wakes this one */
		atomic_store(&e->starved, true);
		/* ... unless it freed one between the check and the flag */
		if (atomic_load(&e->front->in_flight) < engine_limit(e->front) &&
		    atomic_exchange(&e->starved, false))
			engine_wake(e);
	}
	/*
	 * More to admit than one pass looks at: carry on in the next loop turn
	 * (only after progress, or a queue blocked by per-net limits would spin).
	 */
	if (room && scanned == ENGINE_SCAN_MAX && admitted > 0 && (!rated || e->connect_wait.n < 64))
		engine_wake(e);
	/* connect as the token bucket allows */
	while ((j = e->connect_wait.head) != NULL) {
		int64_t wait = 0;

		if (!engine_take_token(e, now, &wait)) {
			struct timeval tv = {wait / 1000, (wait % 1000) * 1000};

			if (!e->pump_timer_armed) {
				evtimer_add(e->pump_timer, &tv);
				e->pump_timer_armed = true;
			}
			break;
		}
		engine_connect(e, j);
	}
	engine_deliver(e);
	if (e->front->threaded)
		shard_publish(e);
}

bool
probe_engine_busy(const struct probe_engine *e)
{
	if (!e->threaded)
		return shard_busy(e->shards[0]) || e->submitted != e->delivered;
	return e->submitted != e->delivered;
}

static void
shard_stats(const struct shard *e, struct probe_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (e->front->threaded) {
		pthread_mutex_lock((pthread_mutex_t *)&e->mu);
		*out = e->pub;
		pthread_mutex_unlock((pthread_mutex_t *)&e->mu);
		return;
	}
	out->queued = e->queued.n + e->inbox.n;
	out->in_flight = e->in_flight;
	out->peak_in_flight = e->peak_in_flight;
	out->done = e->ndone;
	out->connects = e->connects;
	out->attempts = e->attempts;
	out->fd_budget = e->front->fd_budget;
}

void
probe_engine_stats(const struct probe_engine *e, struct probe_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < e->nshards; i++) {
		struct probe_stats s;

		shard_stats(e->shards[i], &s);
		out->queued += s.queued;
		out->in_flight += s.in_flight;
		out->done += s.done;
		out->connects += s.connects;
		out->attempts += s.attempts;
	}
	out->peak_in_flight = atomic_load(&((struct probe_engine *)e)->peak_in_flight);
	out->fd_budget = e->fd_budget;
	out->threads = (int)e->nshards;
}

size_t
probe_engine_threads(const struct probe_engine *e)
{
	return e->nshards;
}

int
probe_engine_thread_stats(const struct probe_engine *e, size_t i, struct probe_stats *out)
{
	if (i >= e->nshards)
		return -1;
	shard_stats(e->shards[i], out);
	out->threads = (int)e->nshards;
	return 0;
}

/* After its thread (if any) has ended: nothing else touches the shard. */
static void
shard_free(struct shard *e)
{
	for (size_t i = 0; i < e->nreap; i++)
		session_free(e->reap[i]);
	free(e->reap);
	count_clear(&e->by_addr);
	count_clear(&e->by_net);
	event_free(e->pump_ev);
	event_free(e->pump_timer);
	waker_free(&e->wake);
	if (e->front->threaded)
		event_base_free(e->base);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

/* Stops each shard's loop where it is and joins its thread. */
static void
engine_join_shards(struct probe_engine *e)
{
	for (size_t i = 0; e->threaded && i < e->nshards; i++) {
		struct shard *s = e->shards[i];

		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_mutex_unlock(&s->mu);
		waker_poke(&s->wake);
		pthread_join(s->thread, NULL);
	}
}

void
probe_engine_abandon(struct probe_engine *e)
{
	if (e != NULL)
		engine_join_shards(e);
}

void
probe_engine_free(struct probe_engine *e)
{
	if (e == NULL)
		return;
	while (probe_engine_busy(e))
		event_base_loop(e->base, EVLOOP_ONCE);
	engine_join_shards(e);
	for (size_t i = 0; i < e->nshards; i++)
		shard_free(e->shards[i]);
	free(e->shards);
	waker_free(&e->out_wake);
	free(e->out);
	pthread_mutex_destroy(&e->out_mu);
	pthread_mutex_destroy(&e->bucket.mu);
	free(e->ports);
	free(e->tls_ports);
	tls_ctx_free(e->tls);
	free(e->exclude);
	free(e->helo);
	free(e->sink);
	free(e->outside);
	free(e->contact);
	free(e);
}
