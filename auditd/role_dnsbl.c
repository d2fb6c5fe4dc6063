/*
 * The dnsbl role: every dnsbl_interval, looks each customer address up in
 * the configured DNS blocklist zones with libevent's evdns (its own
 * nameservers from dnsbl_nameservers, never /etc/resolv.conf; at most
 * dnsbl_rate queries a second, each bounded by dnsbl_timeout) and records
 * what changed: a new listing asks for a re-test, a delisting is noted.
 * It runs in its own thread with its own event base and database connection,
 * so neither its queries nor its waits touch the daemon's loop. HUP hands the
 * thread new settings, which it takes up before its next pass.
 */
#include "auditd/daemon.h"
#include "common/addr.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"
#include "db/dnsbl.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DNSBL_BATCH 500      /* targets per database read */
#define DNSBL_MAX_INFLIGHT 64 /* queries awaiting an answer at once */
#define DNSBL_TICK_MS 100

enum dnsbl_answer { DNSBL_PENDING, DNSBL_LISTED, DNSBL_NOT_LISTED, DNSBL_UNKNOWN };

struct dnsbl_query {
	struct dnsbl_batch *b;
	int target, zone;
	enum dnsbl_answer answer;
	char name[320]; /* reversed address + zone; at most 253 in DNS */
	char code[INET_ADDRSTRLEN];
};

struct dnsbl_batch {
	struct event_base *base;
	struct evdns_base *dns;
	struct dnsbl_query *q;
	int n, next, inflight, per_tick;
	atomic_bool *stop;
};

/* What the configuration says; a pass uses one set from start to end. */
struct dnsbl_settings {
	char **zones, **servers;
	int nzones, nservers; /* no zones: the role idles until a reload names some */
	int64_t interval_s, rate, timeout_s;
};

struct dnsbl_role {
	pthread_t thread;
	atomic_bool stop;
	int wake[2];
	char *conninfo;
	struct dnsbl_settings s;        /* the thread's own */
	pthread_mutex_t lock;           /* guards pending */
	struct dnsbl_settings *pending; /* from a reload, not yet taken up */
};

static struct dnsbl_role *dnsbl;

/* A comma-separated option as a vector of new strings. */
static char **
dnsbl_split(const char *list, int *n)
{
	char *copy = xstrdup(list), *save = NULL, **v = NULL;

	*n = 0;
	for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
		v = xrealloc(v, ((size_t)*n + 1) * sizeof(*v));
		v[(*n)++] = xstrdup(w);
	}
	free(copy);
	return v;
}

static void
dnsbl_strv_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
dnsbl_settings_free(struct dnsbl_settings *st)
{
	dnsbl_strv_free(st->zones, st->nzones);
	dnsbl_strv_free(st->servers, st->nservers);
	memset(st, 0, sizeof(*st));
}

/* The settings cfg gives; -1 with *why when zones are named but no nameserver is. */
static int
dnsbl_settings_load(const struct config *cfg, struct dnsbl_settings *st, const char **why)
{
	const char *zones = config_str(cfg, CFG_DNSBL_ZONES);

	memset(st, 0, sizeof(*st));
	if (*zones != '\0' && *config_str(cfg, CFG_DNSBL_NAMESERVERS) == '\0') {
		*why = "dnsbl_zones is set but dnsbl_nameservers is empty";
		return -1;
	}
	st->zones = dnsbl_split(zones, &st->nzones);
	st->servers = dnsbl_split(config_str(cfg, CFG_DNSBL_NAMESERVERS), &st->nservers);
	st->interval_s = config_int(cfg, CFG_DNSBL_INTERVAL);
	st->rate = config_int(cfg, CFG_DNSBL_RATE);
	st->timeout_s = config_int(cfg, CFG_DNSBL_TIMEOUT);
	return 0;
}

/* The thread takes up the settings of the last reload, if there was one since. */
static void
dnsbl_take_pending(struct dnsbl_role *r)
{
	struct dnsbl_settings *p;

	pthread_mutex_lock(&r->lock);
	p = r->pending;
	r->pending = NULL;
	pthread_mutex_unlock(&r->lock);
	if (p == NULL)
		return;
	dnsbl_settings_free(&r->s);
	r->s = *p;
	free(p);
	log_info("dnsbl_settings", "zones=%d nameservers=%d interval_s=%lld rate=%lld",
		 r->s.nzones, r->s.nservers, (long long)r->s.interval_s, (long long)r->s.rate);
}

/* The query name: the address's labels reversed (nibbles for IPv6), then the zone. */
static int
dnsbl_qname(const char *address, const char *zone, char *buf, size_t len)
{
	struct addr a;
	char rev[80];
	size_t o = 0;

	if (addr_parse(address, &a) != 0)
		return -1;
	if (a.family == AF_INET) {
		o = (size_t)snprintf(rev, sizeof(rev), "%u.%u.%u.%u", a.bytes[3], a.bytes[2],
				     a.bytes[1], a.bytes[0]);
	} else {
		static const char hex[] = "0123456789abcdef";

		for (int i = 15; i >= 0; i--) {
			rev[o++] = hex[a.bytes[i] & 15];
			rev[o++] = '.';
			rev[o++] = hex[a.bytes[i] >> 4];
			rev[o++] = i ? '.' : '\0';
		}
	}
	(void)o;
	return str_fmt(buf, len, "%s.%s", rev, zone);
}

static void dnsbl_send(struct dnsbl_batch *b);

static void
dnsbl_answered(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct dnsbl_query *q = arg;
	struct dnsbl_batch *b = q->b;

	(void)ttl;
	b->inflight--;
	if (result == DNS_ERR_NONE && type == DNS_IPv4_A && count > 0) {
		const uint8_t *ip = addresses;

		inet_ntop(AF_INET, ip, q->code, sizeof(q->code));
		/* 127.0.0.0/8 is a listing; 127.255.255.x is the zone refusing to answer. */
		q->answer = ip[0] == 127 && !(ip[1] == 255 && ip[2] == 255) ? DNSBL_LISTED
									    : DNSBL_UNKNOWN;
	} else if (result == DNS_ERR_NOTEXIST || (result == DNS_ERR_NONE && count == 0)) {
		q->answer = DNSBL_NOT_LISTED;
	} else {
		q->answer = DNSBL_UNKNOWN;
	}
	if (result != DNS_ERR_SHUTDOWN && result != DNS_ERR_CANCEL && b->next == b->n &&
	    b->inflight == 0)
		event_base_loopbreak(b->base);
}

/* Sends this tick's share of the queries, within the in-flight bound. */
static void
dnsbl_send(struct dnsbl_batch *b)
{
	for (int sent = 0; sent < b->per_tick && b->next < b->n && b->inflight < DNSBL_MAX_INFLIGHT;
	     sent++) {
		struct dnsbl_query *q = &b->q[b->next++];

		b->inflight++;
		if (evdns_base_resolve_ipv4(b->dns, q->name, DNS_QUERY_NO_SEARCH, dnsbl_answered, q) ==
		    NULL) {
			b->inflight--;
			q->answer = DNSBL_UNKNOWN;
		}
	}
	if (b->next == b->n && b->inflight == 0)
		event_base_loopbreak(b->base);
}

static void
dnsbl_tick(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_batch *b = arg;

	(void)fd;
	(void)what;
	if (atomic_load(b->stop))
		event_base_loopbreak(b->base);
	else
		dnsbl_send(b);
}

/* A resolver of our own: the configured nameservers, bounded waits, no search list. */
static struct evdns_base *
dnsbl_resolver(struct dnsbl_role *r, struct event_base *base)
{
	struct evdns_base *dns = evdns_base_new(base, 0);
	char timeout[24];

	if (dns == NULL)
		return NULL;
	str_fmt(timeout, sizeof(timeout), "%lld", (long long)r->s.timeout_s);
	evdns_base_set_option(dns, "timeout:", timeout);
	evdns_base_set_option(dns, "attempts:", "2");
	evdns_base_set_option(dns, "randomize-case:", "0");
	for (int i = 0; i < r->s.nservers; i++) {
		if (evdns_base_nameserver_ip_add(dns, r->s.servers[i]) != 0)
			log_warn("dnsbl_nameserver", "nameserver=%s error=\"cannot use it\"",
				 r->s.servers[i]);
	}
	if (evdns_base_count_nameservers(dns) == 0) {
		evdns_base_free(dns, 0);
		return NULL;
	}
	return dns;
}

/* Records what changed for one batch of targets; the number of changes or -1. */
static int
dnsbl_record(PGconn *conn, struct dnsbl_role *r, struct dnsbl_target *t,
	     const struct dnsbl_query *q, int nq)
{
	int changes = 0;

	for (int i = 0; i < nq; i++) {
		const struct dnsbl_target *tg = &t[q[i].target];
		const char *zone = r->s.zones[q[i].zone];
		char key[300];
		bool was = str_fmt(key, sizeof(key), " %s ", zone) == 0 && strstr(tg->listed, key);
		int rc = 0;

		if (q[i].answer == DNSBL_LISTED) {
			rc = dnsbl_record_listed(conn, tg->id, zone, q[i].code);
			if (rc == 1)
				log_info("dnsbl_listed", "address=%s zone=%s code=%s", tg->address, zone,
					 q[i].code);
		} else if (q[i].answer == DNSBL_NOT_LISTED && was) {
			rc = dnsbl_record_delisted(conn, tg->id, zone);
			if (rc == 1)
				log_info("dnsbl_delisted", "address=%s zone=%s", tg->address, zone);
		}
		if (rc < 0)
			return -1;
		changes += rc;
	}
	return changes;
}

/* One check of every address against every zone; -1 on a database error. */
static int
dnsbl_pass(struct dnsbl_role *r, PGconn *conn)
{
	struct event_base *base = event_base_new();
	struct evdns_base *dns = base ? dnsbl_resolver(r, base) : NULL;
	int64_t after = 0;
	int status = 0, unknown = 0, checked = 0;

	if (dns == NULL) {
		log_error("dnsbl_no_resolver", "reason=\"no usable dnsbl_nameservers\"");
		if (base)
			event_base_free(base);
		return 0;
	}
	while (!atomic_load(&r->stop)) {
		struct dnsbl_target *t = NULL;
		int nt = dnsbl_targets(conn, after, DNSBL_BATCH, &t);
		struct dnsbl_batch b = {base, dns, NULL, 0, 0, 0, 1, &r->stop};
		struct timeval tick = {0, DNSBL_TICK_MS * 1000};
		struct event *ev;

		if (nt <= 0) {
			status = nt < 0 ? -1 : 0;
			dnsbl_targets_free(t, nt < 0 ? 0 : nt);
			break;
		}
		after = t[nt - 1].id;
		b.q = xcalloc((size_t)nt * (size_t)r->s.nzones, sizeof(*b.q));
		for (int i = 0; i < nt; i++) {
			for (int z = 0; z < r->s.nzones; z++) {
				struct dnsbl_query *q = &b.q[b.n];

				q->b = &b;
				q->target = i;
				q->zone = z;
				if (dnsbl_qname(t[i].address, r->s.zones[z], q->name, sizeof(q->name)) == 0)
					b.n++;
			}
		}
		b.per_tick = (int)(r->s.rate * DNSBL_TICK_MS / 1000);
		if (b.per_tick < 1)
			b.per_tick = 1;
		ev = event_new(base, -1, EV_PERSIST, dnsbl_tick, &b);
		event_add(ev, &tick);
		dnsbl_send(&b);
		if (b.next < b.n || b.inflight > 0)
			event_base_dispatch(base);
		event_free(ev);
		if (atomic_load(&r->stop)) {
			/* Fails what is still in flight; the callbacks run now, while b lives. */
			evdns_base_free(dns, 1);
			dns = NULL;
			event_base_loop(base, EVLOOP_NONBLOCK);
			dnsbl_targets_free(t, nt);
			free(b.q);
			break;
		}
		for (int i = 0; i < b.n; i++)
			unknown += b.q[i].answer == DNSBL_UNKNOWN || b.q[i].answer == DNSBL_PENDING;
		checked += b.n;
		if (dnsbl_record(conn, r, t, b.q, b.n) < 0)
			status = -1;
		dnsbl_targets_free(t, nt);
		free(b.q);
		if (status < 0)
			break;
	}
	log_info("dnsbl_pass", "queries=%d unanswered=%d", checked, unknown);
	if (dns != NULL)
		evdns_base_free(dns, 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	return status;
}

static void
dnsbl_sleep(struct dnsbl_role *r, int64_t ms)
{
	struct pollfd p = {.fd = r->wake[0], .events = POLLIN};
	int64_t end = now_mono_ms() + ms;

	while (!atomic_load(&r->stop)) {
		int64_t left = end - now_mono_ms();

		if (left <= 0)
			break;
		if (poll(&p, 1, left > 1000 ? 1000 : (int)left) > 0) {
			char drain[16];

			/* a stop or a reload: either way the caller looks again */
			while (read(r->wake[0], drain, sizeof(drain)) > 0)
				;
			break;
		}
	}
}

static void *
dnsbl_main(void *arg)
{
	struct dnsbl_role *r = arg;
	int64_t backoff_ms = 1000, last_start = -1;

	while (!atomic_load(&r->stop)) {
		PGconn *conn;
		int64_t now;

		dnsbl_take_pending(r);
		now = now_mono_ms();
		if (r->s.nzones == 0) {
			dnsbl_sleep(r, 3600 * 1000); /* off until a reload names zones */
			continue;
		}
		/*
		 * The interval runs from the start of one pass to the start of the
		 * next; a reload wakes the sleep, so a new interval counts at once.
		 */
		if (last_start >= 0 && now - last_start < r->s.interval_s * 1000) {
			dnsbl_sleep(r, r->s.interval_s * 1000 - (now - last_start));
			continue;
		}
		conn = db_connect(r->conninfo);
		if (conn == NULL) {
			dnsbl_sleep(r, backoff_ms);
			backoff_ms = backoff_ms < 30000 ? backoff_ms * 2 : 30000;
			continue;
		}
		backoff_ms = 1000;
		last_start = now;
		dnsbl_pass(r, conn);
		db_close(conn);
	}
	return NULL;
}

static int
role_dnsbl_start(struct daemon *d)
{
	struct dnsbl_settings st;
	struct dnsbl_role *r;
	const char *why = NULL;

	if (dnsbl_settings_load(d->cfg, &st, &why) < 0) {
		log_error("dnsbl_no_nameservers", "reason=\"%s\"", why);
		return -1;
	}
	r = xcalloc(1, sizeof(*r));
	r->conninfo = xstrdup(d->conninfo);
	r->s = st;
	atomic_init(&r->stop, false);
	pthread_mutex_init(&r->lock, NULL);
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pthread_create(&r->thread, NULL, dnsbl_main, r) != 0)
		fatal("reason=\"cannot start the dnsbl thread\"");
	dnsbl = r;
	if (st.nzones == 0)
		log_info("dnsbl_off", "reason=\"no dnsbl_zones\"");
	else
		log_info("dnsbl_started", "zones=%s nameservers=%s interval_s=%lld rate=%lld",
			 config_str(d->cfg, CFG_DNSBL_ZONES), config_str(d->cfg, CFG_DNSBL_NAMESERVERS),
			 (long long)st.interval_s, (long long)st.rate);
	return 0;
}

/*
 * HUP: new zones, nameservers, interval, rate and timeout for the next pass
 * (a pass under way ends with the old ones). Never waits for the thread.
 */
static void
role_dnsbl_reload(struct daemon *d)
{
	struct dnsbl_role *r = dnsbl;
	struct dnsbl_settings *st = xcalloc(1, sizeof(*st));
	const char *why = NULL;
	ssize_t w;

	if (r == NULL || dnsbl_settings_load(d->cfg, st, &why) < 0) {
		if (r != NULL)
			log_warn("reload_refused", "role=dnsbl reason=\"%s\"", why);
		free(st);
		return;
	}
	pthread_mutex_lock(&r->lock);
	if (r->pending != NULL) {
		dnsbl_settings_free(r->pending);
		free(r->pending);
	}
	r->pending = st;
	pthread_mutex_unlock(&r->lock);
	w = write(r->wake[1], "x", 1); /* out of its sleep: the new interval counts now */
	(void)w;
	log_info("reloaded", "role=dnsbl zones=%s", config_str(d->cfg, CFG_DNSBL_ZONES));
}

static void
role_dnsbl_stop(struct daemon *d)
{
	struct dnsbl_role *r = dnsbl;
	ssize_t w;

	(void)d;
	if (r == NULL)
		return;
	atomic_store(&r->stop, true);
	w = write(r->wake[1], "x", 1);
	(void)w;
	pthread_join(r->thread, NULL);
	close(r->wake[0]);
	close(r->wake[1]);
	dnsbl_settings_free(&r->s);
	if (r->pending != NULL) {
		dnsbl_settings_free(r->pending);
		free(r->pending);
	}
	pthread_mutex_destroy(&r->lock);
	free(r->conninfo);
	free(r);
	dnsbl = NULL;
}

const struct role_ops role_dnsbl_ops = {
	.name = "dnsbl", .start = role_dnsbl_start, .stop = role_dnsbl_stop,
	.reload = role_dnsbl_reload};
