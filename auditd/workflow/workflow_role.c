/*
 * The workflow role: one thread with its own PostgreSQL connection and its
 * own event_base (for SMTP delivery), so nothing here ever blocks the probe
 * loop. Each pass runs the case runner, the enforcer, the mailer and the
 * webhook, each within its own budget (cases, mails and webhook requests by
 * count, each request bounded by webhook_timeout; hooks are started and
 * looked at without waiting, so a hook that hangs holds up only its own
 * action); between passes it sleeps poll_interval (a short tick while hooks
 * run) or until NOTIFY relayaudit_workflow or a stop request.
 * `relayctl workflow run` runs the same loop in the foreground.
 */
#include "auditd/workflow/workflow_role.h"
#include "auditd/workflow/enforcer.h"
#include "auditd/workflow/mailer.h"
#include "auditd/workflow/webhook.h"
#include "auditd/workflow/workflow_runner.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "db/cases.h"
#include "db/db.h"
#include "db/outbox.h"
#include "db/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKFLOW_BATCH 100
#define WORKFLOW_MAILS 8       /* mails per pass */
#define WORKFLOW_WEBHOOKS 16   /* webhook requests per pass (one failure ends the pass) */
#define WORKFLOW_HOOK_TICK 100 /* ms between looks at running hooks */

struct workflow_loop {
	struct config *cfg; /* a private copy: the daemon may replace its own on HUP */
	char *conninfo;
	char node[256];
	atomic_bool stop;
	int wake[2]; /* a byte here ends the sleep at once */
};

/* A private copy of cfg, so the thread never reads a configuration being replaced. */
static struct config *
workflow_config_copy(const struct config *cfg)
{
	struct config *copy = config_new();
	const struct config_option *opts = config_options();

	for (int i = 0; i < CFG__COUNT; i++) {
		const char *why = config_set(copy, opts[i].name, config_str(cfg, opts[i].key));

		if (why != NULL)
			log_warn("workflow_config_copy", "option=%s error=\"%s\"", opts[i].name,
			         why);
	}
	return copy;
}

/* Drains NOTIFYs libpq has read; true when there was one. */
static bool
workflow_notified(PGconn *conn)
{
	PGnotify *n;
	bool any = false;

	PQconsumeInput(conn);
	while ((n = PQnotifies(conn)) != NULL) {
		PQfreemem(n);
		any = true;
	}
	return any;
}

/* Sleeps up to ms, waking early on NOTIFY or a stop request. */
static void
workflow_sleep(struct workflow_loop *w, PGconn *conn, int ms)
{
	struct pollfd fds[2] = {{.fd = w->wake[0], .events = POLLIN},
	                        {.fd = conn ? PQsocket(conn) : -1, .events = POLLIN}};

	/* A NOTIFY read along with a query's results is already buffered. */
	if (conn && workflow_notified(conn))
		return;
	if (poll(fds, conn ? 2 : 1, ms) > 0 && (fds[0].revents & POLLIN)) {
		char b[16];
		ssize_t r = read(w->wake[0], b, sizeof(b));

		(void)r;
	}
	if (conn)
		workflow_notified(conn);
}

/* One pass of all three; how much work was done, or -1 on a database error. */
static int
workflow_pass(struct workflow_loop *w, PGconn *conn, struct wf_runner *r,
              struct enforcer_pool *hooks, struct event_base *base, struct evdns_base *dns)
{
	int cases, enforced, mailed, hooked;

	cases = wf_runner_step(r, WORKFLOW_BATCH);
	if (cases < 0)
		return -1;
	enforced = enforcer_pump(hooks, conn, w->cfg, w->node, WORKFLOW_BATCH);
	if (enforced < 0)
		return -1;
	mailed = mailer_run(conn, w->cfg, w->node, base, dns, WORKFLOW_MAILS);
	if (mailed < 0)
		return -1;
	/* After the mails: a receiver that hangs delays them by one webhook_timeout at most. */
	hooked = webhook_run(conn, w->cfg, w->node, &w->stop, WORKFLOW_WEBHOOKS);
	if (hooked < 0)
		return -1;
	return cases + enforced + mailed + hooked;
}

static int
workflow_loop_run(struct workflow_loop *w, bool once)
{
	int poll_ms = (int)config_int(w->cfg, CFG_POLL_INTERVAL) * 1000;
	int backoff_ms = 1000, idle_passes = 0, status = 0;
	struct event_base *base = event_base_new();
	struct evdns_base *dns = NULL;
	PGconn *conn = NULL;
	struct wf_runner *r = NULL;
	struct enforcer_pool *hooks = enforcer_pool_new();

	if (base == NULL) {
		enforcer_pool_free(hooks);
		return 1;
	}
	dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (dns == NULL)
		log_warn("workflow_dns", "error=\"no resolver; the smarthost must be an address\"");
	if (*config_str(w->cfg, CFG_SECRET) == '\0')
		log_warn("workflow_no_secret",
		         "error=\"secret is empty: re-test links can be forged; set secret\"");
	while (!atomic_load(&w->stop)) {
		int done;

		if (conn == NULL) {
			conn = db_connect(w->conninfo);
			if (conn == NULL) {
				if (once) {
					status = 1;
					break;
				}
				workflow_sleep(w, NULL, backoff_ms);
				backoff_ms = backoff_ms < 30000 ? backoff_ms * 2 : 30000;
				continue;
			}
			backoff_ms = 1000;
			db_workflow_listen(conn);
			/* This node's unfinished claims belong to a process that died. */
			db_queue_recover_node(conn, w->node);
			r = wf_runner_new(w->cfg, conn);
			log_info("workflow_started", "node=%s", w->node);
		}
		done = workflow_pass(w, conn, r, hooks, base, dns);
		if (done < 0 && PQstatus(conn) != CONNECTION_OK) {
			log_warn("workflow_db_lost", "retry_in_ms=%d", backoff_ms);
			/* On reconnecting, this node's claims are handed back: no hook of
			 * ours may still be running one of them. */
			enforcer_pool_abort(hooks, NULL, w->cfg);
			wf_runner_free(r);
			r = NULL;
			db_close(conn);
			conn = NULL;
			continue;
		}
		if (done < 0 && once) {
			status = 1;
			break;
		}
		if (once) {
			/* Until two passes in a row find nothing (actions queued by the
			 * runner are carried out in the pass after) and no hook runs. */
			idle_passes =
			    done == 0 && enforcer_pool_running(hooks) == 0 ? idle_passes + 1 : 0;
			if (idle_passes >= 2)
				break;
			if (enforcer_pool_running(hooks) > 0)
				workflow_sleep(w, conn, WORKFLOW_HOOK_TICK);
			continue;
		}
		if (done < 0)
			workflow_sleep(w, conn, backoff_ms);
		else if (enforcer_pool_running(hooks) > 0)
			workflow_sleep(w, conn, poll_ms < WORKFLOW_HOOK_TICK ? poll_ms : WORKFLOW_HOOK_TICK);
		else if (done == 0)
			workflow_sleep(w, conn, poll_ms);
	}
	/* Stopping: hooks still running are killed and their actions retried later. */
	enforcer_pool_abort(hooks, conn, w->cfg);
	enforcer_pool_free(hooks);
	wf_runner_free(r);
	if (conn)
		db_close(conn);
	if (dns)
		evdns_base_free(dns, 0);
	event_base_free(base);
	return status;
}

static struct workflow_loop *
workflow_loop_new(const struct config *cfg, const char *conninfo)
{
	struct workflow_loop *w = xcalloc(1, sizeof(*w));
	const char *node = config_str(cfg, CFG_NODE_NAME);

	w->cfg = workflow_config_copy(cfg);
	w->conninfo = xstrdup(conninfo);
	if (*node)
		snprintf(w->node, sizeof(w->node), "%s", node);
	else if (gethostname(w->node, sizeof(w->node) - 1) < 0)
		snprintf(w->node, sizeof(w->node), "relayaudit");
	atomic_init(&w->stop, false);
	if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("reason=\"pipe failed\"");
	return w;
}

static void
workflow_loop_free(struct workflow_loop *w)
{
	close(w->wake[0]);
	close(w->wake[1]);
	config_free(w->cfg);
	free(w->conninfo);
	free(w);
}

static void
workflow_loop_stop(struct workflow_loop *w)
{
	ssize_t r;

	atomic_store(&w->stop, true);
	r = write(w->wake[1], "x", 1);
	(void)r;
}

static struct workflow_loop *volatile foreground;

int
workflow_run_foreground(const struct config *cfg, const char *conninfo, bool once)
{
	struct workflow_loop *w = workflow_loop_new(cfg, conninfo);
	int status;

	foreground = w;
	status = workflow_loop_run(w, once);
	foreground = NULL;
	workflow_loop_free(w);
	return status;
}

void
workflow_foreground_stop(void)
{
	struct workflow_loop *w = foreground;

	if (w)
		workflow_loop_stop(w);
}

/* ---- the daemon's role hooks ---- */

static struct workflow_loop *role_loop;
static pthread_t role_thread;
static bool role_running;

static void *
workflow_thread(void *arg)
{
	sigset_t all;

	/* Signals belong to the daemon's loop thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	workflow_loop_run(arg, false);
	return NULL;
}

int
workflow_role_start(const struct config *cfg, const char *conninfo)
{
	if (role_running)
		return 0;
	signal(SIGPIPE, SIG_IGN); /* a hook that does not read its stdin */
	role_loop = workflow_loop_new(cfg, conninfo);
	if (pthread_create(&role_thread, NULL, workflow_thread, role_loop) != 0) {
		log_error("workflow_start_failed", "error=\"pthread_create failed\"");
		workflow_loop_free(role_loop);
		role_loop = NULL;
		return -1;
	}
	role_running = true;
	return 0;
}

void
workflow_role_stop(void)
{
	if (!role_running)
		return;
	workflow_loop_stop(role_loop);
	pthread_join(role_thread, NULL);
	workflow_loop_free(role_loop);
	role_loop = NULL;
	role_running = false;
	log_info("workflow_stopped", "status=0");
}
