/*
 * The scheduler against a real PostgreSQL: the claim and result SQL of
 * db/targets.c and db/probes.c, and auditd/scheduler.c driven by a prober
 * that answers every port "no_smtp" on the next loop turn (no network), so
 * leases, priorities, sweeps and NOTIFY wake-ups are tested without the
 * engine. Needs RELAYAUDIT_DATABASE (tests/run.sh sets it); SKIP otherwise.
 */
#include "tests/test.h"

#include "auditd/scheduler.h"
#include "common/log.h"
#include "common/util.h"
#include "db/pgarray.h"
#include "db/probes.h"
#include "db/targets.h"

#include <dirent.h>
#include <event2/event.h>
#include <poll.h>

static PGconn *db;

static void
exec_ok(const char *sql)
{
	PGresult *r = PQexec(db, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "SQL failed: %s\n%s\n", sql, PQresultErrorMessage(r));
		exit(1);
	}
	PQclear(r);
}

static long long
q_int(const char *sql)
{
	PGresult *r = PQexec(db, sql);
	long long v = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "SQL failed: %s\n%s\n", sql, PQresultErrorMessage(r));
	PQclear(r);
	return v;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Until relayctl migrate lands every migration is applied here, in order. */
static void
apply_migrations(void)
{
	DIR *d = opendir("migrations");
	struct dirent *e;
	char *names[64];
	size_t n = 0;

	if (d == NULL) {
		fprintf(stderr, "no migrations/ (run from the repository root)\n");
		exit(1);
	}
	while ((e = readdir(d)) != NULL && n < 64) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".sql") == 0)
			names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char path[512];
		FILE *f;
		char *buf;
		long len;

		str_fmt(path, sizeof(path), "migrations/%s", names[i]);
		f = fopen(path, "r");
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		buf = xmalloc((size_t)len + 1);
		buf[fread(buf, 1, (size_t)len, f)] = '\0';
		fclose(f);
		exec_ok(buf);
		free(buf);
		free(names[i]);
	}
}

static void
reset(void)
{
	exec_ok("TRUNCATE probes, probe_attempts, sweeps, targets, customers, nodes,"
		" retest_requests RESTART IDENTITY CASCADE");
	exec_ok("INSERT INTO customers (ext_id, contact_email) VALUES ('c1', 'a@example.net'),"
		" ('c2', 'b@example.net')");
}

/* n targets 127.0.40.x (customer 1), due in due_s seconds (negative: overdue). */
static void
add_targets(int n, int due_s, int priority, const char *ports)
{
	char sql[512];

	str_fmt(sql, sizeof(sql),
		"INSERT INTO targets (customer_id, address, ports, next_probe_at, priority)"
		" SELECT 1, ('127.0.40.0'::inet + (SELECT count(*) FROM targets) + g), '%s',"
		"  now() + make_interval(secs => %d), %d FROM generate_series(1, %d) g",
		ports, due_s, priority, n);
	exec_ok(sql);
}

static void
free_claim(struct claimed_target *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		claimed_target_free(&t[i]);
	free(t);
}

TEST(claim_takes_due_targets_and_leases_them)
{
	struct claimed_target *t;
	size_t n;

	reset();
	add_targets(5, -10, 0, "{25,587}");
	add_targets(2, 3600, 0, "{25}");
	CHECK_INT(targets_claim(db, "node-a", 100, 60, &t, &n), 0);
	CHECK_INT(n, 5);
	CHECK_INT(t[0].nports, 2);
	CHECK_INT(t[0].ports[0] + t[0].ports[1], 25 + 587);
	CHECK(t[0].probe_ids[0] > 0 && t[0].probe_ids[1] > t[0].probe_ids[0]);
	free_claim(t, n);
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE lease_owner = 'node-a'"
			" AND lease_expires > now() + interval '50 s'"),
		  5);
	/* Leased: due, but nobody else may take them. */
	CHECK_INT(targets_claim(db, "node-b", 100, 60, &t, &n), 0);
	CHECK_INT(n, 0);
	free(t);
}

TEST(claim_skips_targets_another_node_holds)
{
	struct claimed_target *a, *b;
	size_t na, nb;

	reset();
	add_targets(6, -10, 0, "{25}");
	CHECK_INT(targets_claim(db, "node-a", 3, 60, &a, &na), 0);
	CHECK_INT(targets_claim(db, "node-b", 100, 60, &b, &nb), 0);
	CHECK_INT(na, 3);
	CHECK_INT(nb, 3);
	for (size_t i = 0; i < na; i++)
		for (size_t k = 0; k < nb; k++)
			CHECK_MSG(a[i].id != b[k].id, "target %lld claimed twice", (long long)a[i].id);
	free_claim(a, na);
	free_claim(b, nb);
}

TEST(expired_lease_is_claimed_again)
{
	struct claimed_target *a, *b;
	size_t na, nb;

	reset();
	add_targets(4, -10, 0, "{25}");
	CHECK_INT(targets_claim(db, "node-a", 100, 60, &a, &na), 0);
	CHECK_INT(na, 4);
	/* node-a crashed an hour ago. */
	exec_ok("UPDATE targets SET lease_expires = now() - interval '1 s',"
		" next_probe_at = now() - interval '1 s'");
	CHECK_INT(targets_claim(db, "node-b", 100, 60, &b, &nb), 0);
	CHECK_INT(nb, 4);
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE lease_owner = 'node-b'"), 4);
	free_claim(a, na);
	free_claim(b, nb);
}

TEST(claim_takes_retest_before_dnsbl_before_sweep_before_periodic)
{
	static const int want[] = {3, 2, 1, 0};

	reset();
	/* The periodic one is the most overdue: priority still wins. */
	add_targets(1, -3600, 0, "{25}");
	add_targets(1, -10, 1, "{25}");
	add_targets(1, -5, 3, "{25}");
	add_targets(1, -20, 2, "{25}");
	for (int i = 0; i < 4; i++) {
		struct claimed_target *t;
		size_t n;

		CHECK_INT(targets_claim(db, "node-a", 1, 60, &t, &n), 0);
		CHECK_INT(n, 1);
		CHECK_INT(t[0].priority, want[i]);
		free_claim(t, n);
	}
}

static void
fill_row(struct probe_row *r, const struct claimed_target *t, size_t port, const char *verdict)
{
	memset(r, 0, sizeof(*r));
	r->id = t->probe_ids[port];
	r->target_id = t->id;
	r->address = xstrdup(t->address);
	r->port = t->ports[port];
	r->sweep_id = t->sweep_id;
	r->started_ms = now_wall_ms();
	r->duration_ms = 3;
	CHECK(verdict_parse(verdict, &r->verdict) == 0);
	r->backscatter = BACKSCATTER_UNTESTED;
	r->stage = xstrdup("connect");
	r->evidence = xstrdup("{\"note\": \"quote \\\" and {brace}, comma\"}");
}

/* Writes every claimed target as one probe per port with verdict. */
static int
write_all(struct claimed_target *t, size_t n, const char *verdict, int64_t next_s)
{
	struct probe_row *rows = xcalloc(n * TARGET_MAX_PORTS + 1, sizeof(*rows));
	struct probe_row **ptrs = xcalloc(n * TARGET_MAX_PORTS + 1, sizeof(*ptrs));
	struct target_done *td = xcalloc(n + 1, sizeof(*td));
	size_t nr = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		for (size_t p = 0; p < t[i].nports; p++) {
			fill_row(&rows[nr], &t[i], p, verdict);
			ptrs[nr] = &rows[nr];
			nr++;
		}
		td[i].target_id = t[i].id;
		td[i].claimed_priority = t[i].priority;
		td[i].claimed_sweep = t[i].sweep_id;
		td[i].last_probe_id = t[i].probe_ids[0];
		if (verdict_parse(verdict, &td[i].last_verdict) < 0)
			return -1;
		td[i].last_backscatter = BACKSCATTER_UNTESTED;
		td[i].next_in_s = next_s;
		td[i].started_ms = now_wall_ms() - 1000;
	}
	rc = probes_write_batch(db, "node-a", (const struct probe_row *const *)ptrs, nr, td, n);
	for (size_t i = 0; i < nr; i++)
		probe_row_clear(&rows[i]);
	free(rows);
	free(ptrs);
	free(td);
	return rc;
}

TEST(result_releases_lease_and_sets_next_probe)
{
	struct claimed_target *t;
	size_t n;

	reset();
	add_targets(3, -10, 0, "{25,587}");
	CHECK_INT(targets_claim(db, "node-a", 100, 60, &t, &n), 0);
	CHECK_INT(write_all(t, n, "no_smtp", 7200), 0);
	free_claim(t, n);
	CHECK_INT(q_int("SELECT count(*) FROM probes WHERE verdict = 'no_smtp'"
			" AND evidence->>'note' = 'quote \" and {brace}, comma'"),
		  6);
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE lease_owner IS NULL"
			" AND last_verdict = 'no_smtp' AND last_probe_id IS NOT NULL"
			" AND next_probe_at BETWEEN now() + interval '7190 s'"
			"                   AND now() + interval '7210 s'"),
		  3);
}

TEST(result_written_twice_counts_once)
{
	struct claimed_target *t;
	size_t n;
	int64_t total;
	const char *why;
	struct sweep_scope sc = {.scope = "all", .priority = 1};

	reset();
	add_targets(2, 3600, 0, "{25}");
	CHECK(targets_sweep(db, &sc, &total, NULL, &why) > 0);
	CHECK_INT(total, 2);
	CHECK_INT(targets_claim(db, "node-a", 100, 60, &t, &n), 0);
	CHECK_INT(n, 2);
	/* The connection dropped after COMMIT: the daemon writes the batch again. */
	CHECK_INT(write_all(t, n, "closed", 600), 0);
	CHECK_INT(write_all(t, n, "closed", 600), 0);
	free_claim(t, n);
	CHECK_INT(q_int("SELECT count(*) FROM probes"), 2);
	CHECK_INT(q_int("SELECT done FROM sweeps"), 2);
	CHECK_INT(q_int("SELECT count(*) FROM sweeps WHERE finished_at IS NOT NULL"), 1);
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE sweep_id IS NULL AND priority = 0"), 2);
}

TEST(sweep_by_cidr_and_customer_marks_only_those)
{
	int64_t total = 0;
	const char *why = NULL;
	struct sweep_scope cidr = {.scope = "cidr", .cidr = "127.0.40.0/30", .priority = 2};
	struct sweep_scope cust = {.scope = "customer", .customer = "c2", .priority = 1};
	struct sweep_scope none = {.scope = "customer", .customer = "nobody", .priority = 1};

	reset();
	add_targets(10, 3600, 0, "{25}");
	exec_ok("UPDATE targets SET customer_id = 2 WHERE address >= '127.0.40.8'");
	CHECK(targets_sweep(db, &cidr, &total, NULL, &why) > 0);
	CHECK_INT(total, 3); /* .1 .2 .3 */
	CHECK(targets_sweep(db, &cust, &total, NULL, &why) > 0);
	CHECK_INT(total, 3); /* .8 .9 .10 */
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE next_probe_at <= now()"), 6);
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE priority = 2"), 3);
	CHECK_INT(targets_sweep(db, &none, &total, NULL, &why), -1);
	CHECK_STR(why, "no such customer");
}

TEST(retest_during_lease_stays_due)
{
	struct claimed_target *t;
	size_t n;

	reset();
	add_targets(1, -10, 0, "{25}");
	CHECK_INT(targets_claim(db, "node-a", 100, 60, &t, &n), 0);
	exec_ok("UPDATE targets SET priority = 3, next_probe_at = now()");
	CHECK_INT(write_all(t, n, "closed", 86400), 0);
	free_claim(t, n);
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE priority = 3 AND next_probe_at <= now()"
			" AND lease_owner IS NULL"),
		  1);
}

TEST(retest_result_is_noted_and_left_for_the_workflow)
{
	struct claimed_target *t;
	size_t n;

	reset();
	add_targets(1, 3600, 0, "{25}");
	exec_ok("INSERT INTO retest_requests (target_id, requested_by, requested_at)"
		" VALUES (1, 'test', now() - interval '1 min')");
	exec_ok("UPDATE targets SET priority = 3, next_probe_at = now()");
	CHECK_INT(targets_claim(db, "node-a", 100, 60, &t, &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(write_all(t, n, "closed", 86400), 0);
	free_claim(t, n);
	/* The writer notes the answering probe; the workflow answers the request
	 * (done_at), after judging the probe and telling the customer. */
	CHECK_INT(q_int("SELECT count(*) FROM retest_requests r JOIN targets t ON t.id = r.target_id"
			" WHERE r.done_at IS NULL AND r.probe_id = t.last_probe_id"),
		  1);
	CHECK_INT(q_int("SELECT priority FROM targets"), 0);
}

TEST(retest_update_sends_notify)
{
	PGconn *l = PQconnectdb(getenv("RELAYAUDIT_DATABASE"));
	PGnotify *nt = NULL;
	struct pollfd pfd;
	int64_t end;

	reset();
	add_targets(1, 3600, 0, "{25}");
	PQclear(PQexec(l, "LISTEN relayaudit_due"));
	exec_ok("UPDATE targets SET priority = 3, next_probe_at = now()");
	end = now_mono_ms() + 2000;
	while (nt == NULL && now_mono_ms() < end) {
		pfd.fd = PQsocket(l);
		pfd.events = POLLIN;
		poll(&pfd, 1, 100);
		PQconsumeInput(l);
		nt = PQnotifies(l);
	}
	CHECK_MSG(nt != NULL, "no NOTIFY relayaudit_due within 2 s");
	CHECK_STR(nt->relname, "relayaudit_due");
	PQfreemem(nt);
	PQfinish(l);
}

TEST(restarted_node_takes_back_its_leases)
{
	struct claimed_target *t;
	size_t n;

	reset();
	add_targets(3, -10, 0, "{25}");
	CHECK_INT(targets_claim(db, "node-a", 100, 600, &t, &n), 0);
	free_claim(t, n);
	CHECK_INT(targets_release_node(db, "node-b"), 0);
	CHECK_INT(targets_release_node(db, "node-a"), 3);
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE lease_owner IS NULL"
			" AND next_probe_at <= now()"),
		  3);
}

TEST(accepted_past_deadline_becomes_accepted_not_relayed)
{
	reset();
	add_targets(1, 3600, 0, "{25}");
	exec_ok("INSERT INTO probes (id, target_id, address, port, verdict, confirm_deadline)"
		" VALUES (1, 1, '127.0.40.1', 25, 'accepted', now() - interval '1 s'),"
		"        (2, 1, '127.0.40.1', 25, 'accepted', now() + interval '1 h')");
	exec_ok("UPDATE targets SET last_probe_id = 1, last_verdict = 'accepted'");
	CHECK(probes_expire_confirm(db, 100, NULL, NULL) >= 0);
	CHECK_INT(q_int("SELECT count(*) FROM probes WHERE verdict = 'accepted_not_relayed'"), 1);
	CHECK_INT(q_int("SELECT count(*) FROM probes WHERE id = 2 AND verdict = 'accepted'"), 1);
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE last_verdict = 'accepted_not_relayed'"), 1);
}

TEST(prune_deletes_only_probes_past_retention)
{
	reset();
	exec_ok("INSERT INTO probes (address, port, verdict, started_at)"
		" SELECT '127.0.40.1', 25, 'no_smtp', now() - make_interval(days => g)"
		" FROM generate_series(1, 10) g");
	CHECK_INT(probes_prune(db, 5 * 86400 + 60, 3), 3);
	CHECK_INT(probes_prune(db, 5 * 86400 + 60, 100), 2);
	CHECK_INT(q_int("SELECT count(*) FROM probes"), 5);
}

/* ---- pure helpers ---- */

static const struct sched_params base_params = {
	.node = "node-a", .batch = 50, .max_in_flight = 100, .lease_s = 60, .poll_s = 60,
	.probe_interval_s = 7 * 86400, .no_smtp_interval_s = 30 * 86400, .greylist_wait_s = 300,
	.jitter_pct = 10, .retention_s = 180 * 86400, .result_buffer = 1000,
};

TEST(next_interval_follows_the_verdicts)
{
	const enum probe_verdict tempfail[] = {VERDICT_CLOSED, VERDICT_TEMPFAIL};
	const enum probe_verdict nosmtp[] = {VERDICT_NO_SMTP, VERDICT_NO_SMTP};
	const enum probe_verdict mixed[] = {VERDICT_NO_SMTP, VERDICT_CLOSED};

	CHECK_INT(scheduler_next_interval(&base_params, tempfail, 2, 0, 0.5), 300);
	CHECK_INT(scheduler_next_interval(&base_params, nosmtp, 2, 0, 0.5), 30 * 86400);
	CHECK_INT(scheduler_next_interval(&base_params, mixed, 2, 0, 0.5), 7 * 86400);
	CHECK_INT(scheduler_next_interval(&base_params, mixed, 2, 3600, 0.5), 3600);
	/* Jitter: +-10 % at the extremes. */
	CHECK_INT(scheduler_next_interval(&base_params, mixed, 2, 1000, 0.0), 900);
	CHECK_INT(scheduler_next_interval(&base_params, mixed, 2, 1000, 1.0), 1100);
}

TEST(worst_verdict_stands_for_the_target)
{
	const enum probe_verdict v[] = {VERDICT_NO_SMTP, VERDICT_RELAY_CONFIRMED, VERDICT_CLOSED};
	const enum backscatter_result b[] = {BACKSCATTER_UNTESTED, BACKSCATTER_REFUSED};
	enum probe_verdict w;

	CHECK_STR(verdict_worst(v, 3, &w) == 0 ? verdict_name(w) : NULL, "relay_confirmed");
	CHECK_STR(verdict_worst(v, 1, &w) == 0 ? verdict_name(w) : NULL, "no_smtp");
	CHECK_STR(verdict_worst(v, 0, &w) == 0 ? verdict_name(w) : NULL, NULL);
	CHECK_STR(backscatter_name(scheduler_worst_backscatter(b, 2)), "refused");
}

TEST(sql_verdict_class_matches_the_verdict_table)
{
	for (int v = 0; v < VERDICT__COUNT; v++) {
		char sql[160];
		PGresult *r;
		const char *want = verdict_class_name(verdict_class((enum probe_verdict)v));

		snprintf(sql, sizeof(sql), "SELECT verdict_class('%s'::verdict)",
		         verdict_name((enum probe_verdict)v));
		r = PQexec(db, sql);
		CHECK_STR(PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "(failed)", want);
		PQclear(r);
	}
	/* Every name of the database's verdict enum is in the table too. */
	CHECK_INT(q_int("SELECT count(*) FROM unnest(enum_range(NULL::verdict))"), VERDICT__COUNT);
}

TEST(pgarray_quotes_text)
{
	struct pgarray a;

	pgarray_init(&a);
	CHECK_STR(pgarray_str(&a), "{}");
	pgarray_add_text(&a, "a\"b\\c,{}");
	pgarray_add_null(&a);
	pgarray_add_i64(&a, -5);
	CHECK_STR(pgarray_str(&a), "{\"a\\\"b\\\\c,{}\",NULL,-5}");
	pgarray_free(&a);
}

/* ---- the scheduler on a loop, with a prober that answers no_smtp ---- */

struct fake_prober {
	struct scheduler *s;
	struct event_base *base;
	int submits;
	int delay_ms;            /* how long each answer takes */
	int64_t target_seen;     /* a target to watch for */
	int64_t target_seen_ms;  /* when it was submitted */
	struct fake_answer **live; /* answers not delivered yet (NULL = delivered) */
	size_t nlive;
};

struct fake_answer {
	struct fake_prober *fp;
	struct sched_item *it;
	size_t port;
	char *address;
	int portnum;
	size_t slot; /* in fp->live */
};

static void
fake_answer(evutil_socket_t fd, short what, void *arg)
{
	struct fake_answer *a = arg;
	struct probe_row row;

	memset(&row, 0, sizeof(row));
	row.address = a->address;
	row.port = a->portnum;
	row.started_ms = now_wall_ms();
	row.verdict = VERDICT_NO_SMTP;
	row.backscatter = BACKSCATTER_UNTESTED;
	row.stage = xstrdup("connect");
	row.error = xstrdup("connection refused");
	a->fp->live[a->slot] = NULL;
	scheduler_port_done(a->fp->s, a->it, a->port, &row);
	free(a);
}

/* After the base is freed: the answers still on their timers when the test ended. */
static void
fake_prober_free(struct fake_prober *fp)
{
	for (size_t i = 0; i < fp->nlive; i++) {
		if (fp->live[i] != NULL) {
			free(fp->live[i]->address);
			free(fp->live[i]);
		}
	}
	free(fp->live);
}

static int
fake_submit(void *arg, struct sched_item *it, const struct claimed_target *t, size_t port,
	    const char **why)
{
	struct fake_prober *fp = arg;
	struct fake_answer *a = xcalloc(1, sizeof(*a));
	struct timeval tv = {fp->delay_ms / 1000, 1000 + (fp->delay_ms % 1000) * 1000};

	fp->submits++;
	if (t->id == fp->target_seen && fp->target_seen_ms == 0)
		fp->target_seen_ms = now_mono_ms();
	a->fp = fp;
	a->it = it;
	a->port = port;
	a->address = xstrdup(t->address);
	a->portnum = t->ports[port];
	a->slot = fp->nlive;
	fp->live = xrealloc(fp->live, (fp->nlive + 1) * sizeof(*fp->live));
	fp->live[fp->nlive++] = a;
	event_base_once(fp->base, -1, EV_TIMEOUT, fake_answer, a, &tv);
	return 0;
}

struct wait_ctx {
	struct event_base *base;
	int (*cond)(void *);
	void *arg;
	int64_t deadline;
	int met;
};

static void
wait_tick(evutil_socket_t fd, short what, void *arg)
{
	struct wait_ctx *w = arg;

	if (w->cond(w->arg)) {
		w->met = 1;
		event_base_loopbreak(w->base);
	} else if (now_mono_ms() > w->deadline) {
		event_base_loopbreak(w->base);
	}
}

/* Runs the loop until cond holds (checked every 20 ms) or ms pass. */
static int
run_until(struct event_base *base, int (*cond)(void *), void *arg, int ms)
{
	struct wait_ctx w = {base, cond, arg, now_mono_ms() + ms, 0};
	struct event *ev = event_new(base, -1, EV_PERSIST, wait_tick, &w);
	struct timeval tv = {0, 20000};

	event_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
	return w.met;
}

static int
all_probed(void *arg)
{
	(void)arg;
	return q_int("SELECT count(*) FROM targets WHERE last_probe_id IS NULL"
		     " OR lease_owner IS NOT NULL") == 0;
}

TEST(scheduler_probes_every_due_target_once)
{
	struct event_base *base = event_base_new();
	struct fake_prober fp = {.base = base};
	struct sched_params p = base_params;

	reset();
	add_targets(300, -10, 0, "{25,587}");
	bool done;

	fp.s = scheduler_new(base, getenv("RELAYAUDIT_DATABASE"), &p, fake_submit, &fp);
	done = run_until(base, all_probed, NULL, 15000);
	scheduler_free(fp.s, 2000);
	event_base_free(base);
	fake_prober_free(&fp);
	CHECK_MSG(done, "not all targets probed in 15 s");
	CHECK_INT(fp.submits, 600);
	CHECK_INT(q_int("SELECT count(*) FROM probes"), 600);
	CHECK_INT(q_int("SELECT count(DISTINCT target_id) FROM probes"), 300);
	CHECK_INT(q_int("SELECT count(*) FROM targets WHERE last_verdict = 'no_smtp'"
			" AND next_probe_at > now() + interval '20 days'"),
		  300);
	CHECK_INT(q_int("SELECT count(*) FROM nodes WHERE name = 'node-a'"), 1);
}

static int
seen(void *arg)
{
	return ((struct fake_prober *)arg)->target_seen_ms != 0;
}

static int
idle_sched(void *arg)
{
	struct sched_stats st;

	scheduler_stats(((struct fake_prober *)arg)->s, &st);
	return st.finished == 20 && st.in_flight == 0 && st.buffered == 0;
}

TEST(retest_notify_wakes_scheduler_within_a_second)
{
	struct event_base *base = event_base_new();
	struct fake_prober fp = {.base = base, .target_seen = 7};
	struct sched_params p = base_params;
	int64_t t0;

	reset();
	add_targets(20, -10, 0, "{25}");
	p.poll_s = 3600; /* only NOTIFY can wake it in time */
	bool first_round, retested = false;

	fp.s = scheduler_new(base, getenv("RELAYAUDIT_DATABASE"), &p, fake_submit, &fp);
	first_round = run_until(base, idle_sched, &fp, 10000);
	if (first_round) {
		fp.target_seen_ms = 0;
		t0 = now_mono_ms();
		exec_ok("UPDATE targets SET priority = 3, next_probe_at = now() WHERE id = 7");
		retested = run_until(base, seen, &fp, 3000);
	}
	/* Free before any check returns: a scheduler left running would outlive the test. */
	scheduler_free(fp.s, 2000);
	event_base_free(base);
	fake_prober_free(&fp);
	CHECK_MSG(first_round, "first round not done in 10 s");
	CHECK_MSG(retested, "re-test not started within 3 s");
	CHECK_MSG(fp.target_seen_ms - t0 < 1000, "re-test started after %lld ms, want < 1000",
		  (long long)(fp.target_seen_ms - t0));
}

static int
all_probed_cond(void *arg)
{
	return all_probed(arg);
}

TEST(target_held_in_memory_is_not_probed_twice_when_its_lease_runs_out)
{
	struct event_base *base = event_base_new();
	struct fake_prober fp = {.base = base, .delay_ms = 2500};
	struct sched_params p = base_params;

	reset();
	add_targets(10, -10, 0, "{25}");
	/* Leases of one second, polled every second, answers after 2.5 s. */
	p.lease_s = 1;
	p.poll_s = 1;
	bool done;

	fp.s = scheduler_new(base, getenv("RELAYAUDIT_DATABASE"), &p, fake_submit, &fp);
	done = run_until(base, all_probed_cond, NULL, 15000);
	scheduler_free(fp.s, 2000);
	event_base_free(base);
	fake_prober_free(&fp);
	CHECK_MSG(done, "not all probed in 15 s");
	CHECK_INT(fp.submits, 10);
	CHECK_INT(q_int("SELECT count(*) FROM probes"), 10);
}

int
main(void)
{
	const char *conninfo = getenv("RELAYAUDIT_DATABASE");

	test_suite = "scheduler";
	RUN(next_interval_follows_the_verdicts);
	RUN(worst_verdict_stands_for_the_target);
	RUN(pgarray_quotes_text);
	if (conninfo == NULL) {
		printf("SKIP scheduler: database tests (RELAYAUDIT_DATABASE unset)\n");
		return test_summary();
	}
	log_set_level(LOG_WARN);
	db = PQconnectdb(conninfo);
	if (PQstatus(db) != CONNECTION_OK) {
		printf("FAIL scheduler: connect: %s\n", PQerrorMessage(db));
		return 1;
	}
	PQclear(PQexec(db, "SET client_min_messages = warning"));
	apply_migrations();
	RUN(claim_takes_due_targets_and_leases_them);
	RUN(claim_skips_targets_another_node_holds);
	RUN(expired_lease_is_claimed_again);
	RUN(claim_takes_retest_before_dnsbl_before_sweep_before_periodic);
	RUN(result_releases_lease_and_sets_next_probe);
	RUN(result_written_twice_counts_once);
	RUN(sweep_by_cidr_and_customer_marks_only_those);
	RUN(retest_during_lease_stays_due);
	RUN(retest_result_is_noted_and_left_for_the_workflow);
	RUN(retest_update_sends_notify);
	RUN(restarted_node_takes_back_its_leases);
	RUN(accepted_past_deadline_becomes_accepted_not_relayed);
	RUN(prune_deletes_only_probes_past_retention);
	RUN(sql_verdict_class_matches_the_verdict_table);
	RUN(scheduler_probes_every_due_target_once);
	RUN(retest_notify_wakes_scheduler_within_a_second);
	RUN(target_held_in_memory_is_not_probed_twice_when_its_lease_runs_out);
	PQfinish(db);
	return test_summary();
}
