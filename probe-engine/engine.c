/*
 * The probe scheduler: a queue of targets, admission under the global
 * in-flight limit, one probe per address, a per-/24 (/64) limit and the
 * descriptor budget, a token bucket for new connections, reconnects after
 * 421/drops/error budgets, greylisting retries, and delivery of results.
 * All of it runs on the caller's event loop; nothing here blocks.
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
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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
	JOB_RESOLVING, /* waiting for its reverse DNS name (params.rdns) */
	JOB_CONNECT_WAIT,
	JOB_CONNECTED,
	JOB_SLEEPING,
	JOB_FINISHED
};

struct job {
	struct job *next, *prev; /* in the list its state belongs to */
	enum job_state state;
	struct probe_engine *e;
	struct probe_target_copy {
		struct addr addr;
		int port;
		uint64_t probe_id;
	} t;
	struct probe_target tgt; /* for run_new */
	char *name;
	char **domains;
	size_t ndomains;
	struct probe_run *run;
	struct session *sess;
	struct event *sleep_ev;
	int decided_before;
};

struct job_list {
	struct job *head, *tail;
	size_t n;
};

struct probe_engine {
	struct event_base *base;
	struct probe_params p;
	int *ports, *tls_ports;
	SSL_CTX *tls; /* one client context for every connection */
	struct cidr *exclude;
	char *helo, *sink, *outside, *contact;
	probe_done_fn done;
	void *arg;
	struct job_list queued, connect_wait, active, finished;
	struct count_map by_addr, by_net;
	size_t in_flight, peak_in_flight, ndone;
	uint64_t connects, attempts;
	int fd_budget;
	double tokens;
	int64_t tokens_at;
	struct event *pump_ev, *pump_timer;
	bool pump_timer_armed;
	struct session **reap;
	size_t nreap, reap_cap;
};

static void engine_pump_cb(evutil_socket_t fd, short what, void *arg);

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
engine_list(struct probe_engine *e, enum job_state s)
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

static void
job_free(struct job *j)
{
	for (size_t i = 0; i < j->ndomains; i++)
		free(j->domains[i]);
	free(j->domains);
	free(j->name);
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

/* ---- engine ---- */

static void
engine_wake(struct probe_engine *e)
{
	event_active(e->pump_ev, EV_TIMEOUT, 0);
}

static char *
strdup_or(const char *s, const char *def)
{
	return xstrdup(s ? s : def);
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
	e->pump_ev = event_new(base, -1, 0, engine_pump_cb, e);
	e->pump_timer = evtimer_new(base, engine_pump_cb, e);
	e->tokens_at = now_mono_ms();
	probe_engine_set_limits(e, p->concurrency, p->rate, p->per_net, p->exclude, p->nexclude);
	e->tokens = e->p.rate > 0 ? 1 : 0;
	return e;
}

void
probe_engine_set_limits(struct probe_engine *e, int concurrency, int rate, int per_net,
			const struct cidr *exclude, size_t nexclude)
{
	e->p.concurrency = concurrency > 0 ? concurrency : 1;
	e->p.rate = rate > 0 ? rate : 0;
	e->p.per_net = per_net > 0 ? per_net : 0;
	free(e->exclude);
	e->exclude = NULL;
	if (nexclude > 0) {
		e->exclude = xcalloc(nexclude, sizeof(*e->exclude));
		memcpy(e->exclude, exclude, nexclude * sizeof(*exclude));
	}
	e->p.exclude = e->exclude;
	e->p.nexclude = nexclude;
	engine_wake(e);
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

static void
engine_queue_one(struct probe_engine *e, const struct probe_target *t, int port, uint64_t id)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->e = e;
	j->t.addr = t->addr;
	j->t.port = port;
	j->t.probe_id = id;
	j->name = t->name ? xstrdup(t->name) : NULL;
	if (t->ndomains > 0) {
		j->domains = xcalloc(t->ndomains, sizeof(char *));
		for (size_t i = 0; i < t->ndomains; i++)
			j->domains[i] = xstrdup(t->domains[i]);
		j->ndomains = t->ndomains;
	}
	j->tgt = *t;
	j->tgt.name = j->name;
	j->tgt.domains = (const char *const *)j->domains;
	j->state = JOB_QUEUED;
	list_push(&e->queued, j);
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
	engine_wake(e);
	return 0;
}

static size_t
engine_limit(const struct probe_engine *e)
{
	size_t lim = (size_t)e->p.concurrency;

	return (size_t)e->fd_budget < lim ? (size_t)e->fd_budget : lim;
}

/* Holds or releases the job's address and network slots. */
static void
engine_hold(struct probe_engine *e, struct job *j, int delta)
{
	count_add(&e->by_addr, addr_hash(&j->t.addr), &j->t.addr, delta);
	count_add(&e->by_net, addr_net_key(&j->t.addr) ^ (uint64_t)j->t.addr.family << 62, NULL,
		  delta);
}

static bool
engine_admissible(struct probe_engine *e, const struct job *j)
{
	if (count_get(&e->by_addr, addr_hash(&j->t.addr), &j->t.addr) > 0)
		return false;
	if (e->p.per_net > 0 &&
	    count_get(&e->by_net, addr_net_key(&j->t.addr) ^ (uint64_t)j->t.addr.family << 62,
		      NULL) >= e->p.per_net)
		return false;
	return true;
}

static void engine_session_end(struct session *s, void *arg);

/* The PTR answer (or none): the name is H's last resort before the address literal. */
static void
engine_rdns_cb(const char *name, void *arg)
{
	struct job *j = arg;

	if (name != NULL && j->run->res->name == NULL)
		j->run->res->name = xstrdup(name);
	job_move(j, JOB_CONNECT_WAIT);
	engine_wake(j->e);
}

/* An admitted job: first its reverse DNS name when it has none and a resolver is given. */
static void
engine_admit(struct probe_engine *e, struct job *j)
{
	job_move(j, JOB_RESOLVING);
	if (e->p.rdns == NULL || j->name != NULL ||
	    rdns_lookup(e->p.rdns, &j->t.addr, engine_rdns_cb, j) < 0)
		job_move(j, JOB_CONNECT_WAIT);
}

static void
engine_finish_job(struct probe_engine *e, struct job *j)
{
	run_finish(j->run, now_mono_ms());
	engine_hold(e, j, -1);
	e->in_flight--;
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
engine_sleep(struct probe_engine *e, struct job *j, int64_t until)
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
engine_after_session(struct probe_engine *e, struct job *j, struct session *s)
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
	struct probe_engine *e = j->e;

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
engine_take_token(struct probe_engine *e, int64_t now)
{
	double cap;

	if (e->p.rate <= 0)
		return true;
	/* a burst of a tenth of a second's worth, at least one */
	cap = e->p.rate / 10.0 < 1 ? 1 : e->p.rate / 10.0;
	e->tokens += (double)(now - e->tokens_at) * e->p.rate / 1000.0;
	e->tokens_at = now;
	if (e->tokens > cap)
		e->tokens = cap;
	if (e->tokens < 1)
		return false;
	e->tokens -= 1;
	return true;
}

static bool
engine_implicit_tls(const struct probe_engine *e, int port)
{
	for (size_t i = 0; i < e->p.ntls_ports; i++) {
		if (e->p.tls_ports[i] == port)
			return true;
	}
	return false;
}

static void
engine_connect(struct probe_engine *e, struct job *j)
{
	job_move(j, JOB_CONNECTED);
	j->decided_before = j->run->decided;
	e->connects++;
	j->sess = session_start(e->base, j->run, j->t.port, e->tls, engine_implicit_tls(e, j->t.port),
				engine_session_end, j);
}

static void
engine_deliver(struct probe_engine *e)
{
	struct job *j;

	while ((j = e->finished.head) != NULL) {
		struct probe_result *res = j->run->res;

		list_remove(&e->finished, j);
		for (size_t i = 0; i < res->nattempts; i++)
			e->attempts += res->attempts[i].outcome != OUTCOME_NOT_RUN &&
					res->attempts[i].outcome != OUTCOME_SKIPPED;
		j->run->res = NULL;
		job_free(j);
		e->ndone++;
		e->done(res, e->arg);
	}
}

static void
engine_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe_engine *e = arg;
	int64_t now = now_mono_ms();

	if (what & EV_TIMEOUT && fd == -1)
		e->pump_timer_armed = false;
	for (size_t i = 0; i < e->nreap; i++)
		session_free(e->reap[i]);
	e->nreap = 0;

	/* admit queued targets while there is room and the connect line is short */
	size_t scanned = 0, admitted = 0;
	struct job *j = e->queued.head;
	while (j != NULL && e->in_flight < engine_limit(e) && scanned < ENGINE_SCAN_MAX &&
	       (e->p.rate <= 0 || e->connect_wait.n < 64)) {
		struct job *next = j->next;

		scanned++;
		if (engine_admissible(e, j)) {
			engine_hold(e, j, +1);
			e->in_flight++;
			if (e->in_flight > e->peak_in_flight)
				e->peak_in_flight = e->in_flight;
			j->run = run_new(&e->p, &j->tgt, j->t.port, j->t.probe_id, now);
			engine_admit(e, j);
			admitted++;
		}
		j = next;
	}
	/*
	 * More to admit than one pass looks at: carry on in the next loop turn
	 * (only after progress, or a queue blocked by per-net limits would spin).
	 */
	if (scanned == ENGINE_SCAN_MAX && admitted > 0 && e->in_flight < engine_limit(e) &&
	    (e->p.rate <= 0 || e->connect_wait.n < 64))
		engine_wake(e);
	/* connect as the token bucket allows */
	while ((j = e->connect_wait.head) != NULL) {
		if (!engine_take_token(e, now)) {
			int64_t wait = (int64_t)((1 - e->tokens) * 1000 / e->p.rate) + 1;
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
}

bool
probe_engine_busy(const struct probe_engine *e)
{
	return e->queued.n + e->connect_wait.n + e->active.n + e->finished.n > 0 || e->nreap > 0;
}

void
probe_engine_stats(const struct probe_engine *e, struct probe_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->queued = e->queued.n;
	out->in_flight = e->in_flight;
	out->peak_in_flight = e->peak_in_flight;
	out->done = e->ndone;
	out->connects = e->connects;
	out->attempts = e->attempts;
	out->fd_budget = e->fd_budget;
}

void
probe_engine_free(struct probe_engine *e)
{
	if (e == NULL)
		return;
	while (probe_engine_busy(e))
		event_base_loop(e->base, EVLOOP_ONCE);
	for (size_t i = 0; i < e->nreap; i++)
		session_free(e->reap[i]);
	free(e->reap);
	count_clear(&e->by_addr);
	count_clear(&e->by_net);
	event_free(e->pump_ev);
	event_free(e->pump_timer);
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
