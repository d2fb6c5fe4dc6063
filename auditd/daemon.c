/*
 * relayauditd's loop: starts the enabled roles (a table), routes TERM/INT
 * and HUP through the event loop, and shuts down in order: drain every role,
 * wait until none is busy or shutdown_grace passes, then stop them in
 * reverse order of start.
 */
#include "auditd/daemon.h"
#include "api/api.h"
#include "auditd/workflow/workflow_role.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the roles that live below the daemon (they cannot include daemon.h) ---- */

static int
role_workflow_start(struct daemon *d)
{
	return workflow_role_start(d->cfg, d->conninfo);
}
static void
role_workflow_stop(struct daemon *d)
{
	workflow_role_stop();
}
static int
role_api_start(struct daemon *d)
{
	return api_role_start(d->cfg, d->conninfo);
}
static void
role_api_stop(struct daemon *d)
{
	api_role_stop();
}

static const struct role_ops role_workflow_ops = {
	.name = "workflow", .start = role_workflow_start, .stop = role_workflow_stop};
static const struct role_ops role_api_ops = {
	.name = "api", .start = role_api_start, .stop = role_api_stop};

/* THE role table. Start order: the sink listens before the first relay test goes out. */
static const struct role_ops *const roles[] = {
	&role_sink_ops, &role_probe_ops, &role_workflow_ops, &role_api_ops, &role_dnsbl_ops,
};

struct daemon_state {
	struct daemon d;
	bool started[ARRAY_LEN(roles)];
	struct config **old_cfgs; /* kept to exit: roles may hold pointers into them */
	size_t nold;
	struct event *sig_term, *sig_int, *sig_hup, *grace_timer;
	bool stop_now;
};

static bool
daemon_any_busy(struct daemon_state *s)
{
	for (size_t i = 0; i < ARRAY_LEN(roles); i++) {
		if (s->started[i] && roles[i]->busy != NULL && roles[i]->busy(&s->d))
			return true;
	}
	return false;
}

void
daemon_role_idle(struct daemon *d)
{
	struct daemon_state *s = (struct daemon_state *)d;

	if (d->stopping && !daemon_any_busy(s))
		event_base_loopexit(d->base, NULL);
}

static void
daemon_on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_state *s = arg;

	log_warn("shutdown_grace_over", "grace_s=%lld",
		 (long long)config_int(s->d.cfg, CFG_SHUTDOWN_GRACE));
	event_base_loopexit(s->d.base, NULL);
}

static void
daemon_on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *s = arg;
	struct timeval tv = {config_int(s->d.cfg, CFG_SHUTDOWN_GRACE), 0};

	if (s->d.stopping) {
		log_warn("stopping_now", "signal=%d", (int)sig);
		event_base_loopexit(s->d.base, NULL);
		return;
	}
	log_info("stopping", "signal=%d grace_s=%lld", (int)sig, (long long)tv.tv_sec);
	s->d.stopping = true;
	for (size_t i = 0; i < ARRAY_LEN(roles); i++) {
		if (s->started[i] && roles[i]->drain != NULL)
			roles[i]->drain(&s->d);
	}
	s->grace_timer = evtimer_new(s->d.base, daemon_on_grace, s);
	evtimer_add(s->grace_timer, &tv);
	daemon_role_idle(&s->d);
}

static void
daemon_report(void *arg, const char *msg)
{
	log_warn("reload_error", "reason=\"%s\"", msg);
}

static void
daemon_on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *s = arg;
	struct config *cfg = config_new();
	enum log_level level;

	if (s->d.config_path != NULL &&
	    config_load(cfg, s->d.config_path, daemon_report, NULL) != 0) {
		log_warn("reload_refused", "file=%s reason=\"errors above; keeping the old settings\"",
			 s->d.config_path);
		config_free(cfg);
		return;
	}
	s->old_cfgs = xrealloc(s->old_cfgs, (s->nold + 1) * sizeof(*s->old_cfgs));
	s->old_cfgs[s->nold++] = s->d.cfg;
	s->d.cfg = cfg;
	if (log_level_parse(config_str(cfg, CFG_LOG_LEVEL), &level) == 0)
		log_set_level(level);
	for (size_t i = 0; i < ARRAY_LEN(roles); i++) {
		if (s->started[i] && roles[i]->reload != NULL)
			roles[i]->reload(&s->d);
	}
	log_info("reloaded", "file=%s", s->d.config_path != NULL ? s->d.config_path : "-");
}

static char *
daemon_node_name(const struct config *cfg)
{
	char hn[256];

	if (*config_str(cfg, CFG_NODE_NAME) != '\0')
		return xstrdup(config_str(cfg, CFG_NODE_NAME));
	if (gethostname(hn, sizeof(hn)) != 0)
		return xstrdup("relayaudit");
	hn[sizeof(hn) - 1] = '\0';
	return xstrdup(hn);
}

static void
daemon_stop_roles(struct daemon_state *s)
{
	for (size_t i = ARRAY_LEN(roles); i-- > 0;) {
		if (s->started[i] && roles[i]->stop != NULL)
			roles[i]->stop(&s->d);
		s->started[i] = false;
	}
}

int
daemon_check(const struct config *cfg, FILE *out)
{
	int errors = 0;

	/* Every node must mint tokens the sink can verify, so probing needs the shared secret. */
	if (config_list_has(cfg, CFG_ROLES, "probe") && strlen(config_str(cfg, CFG_SECRET)) < 16) {
		fprintf(out, "secret: the probe role needs a secret of at least 16 characters\n");
		errors++;
	}
	/* The checks ask only the configured nameservers, never the system resolver. */
	if (config_list_has(cfg, CFG_ROLES, "dnsbl") && *config_str(cfg, CFG_DNSBL_ZONES) != '\0' &&
	    *config_str(cfg, CFG_DNSBL_NAMESERVERS) == '\0') {
		fprintf(out, "dnsbl_nameservers: dnsbl_zones is set, so the dnsbl role needs "
			     "nameservers to ask\n");
		errors++;
	}
	return errors;
}

int
daemon_run(struct config *cfg, const char *config_path)
{
	struct daemon_state *s = xcalloc(1, sizeof(*s));
	const char *why = NULL;
	char *conninfo, *node;
	int status = 0;
	size_t nstarted = 0;

	conninfo = db_conninfo(cfg, &why);
	if (conninfo == NULL) {
		log_error("config_error", "reason=\"%s\"", why);
		free(s);
		return 1;
	}
	node = daemon_node_name(cfg);
	signal(SIGPIPE, SIG_IGN);
	s->d.base = event_base_new();
	if (s->d.base == NULL)
		fatal("reason=\"event_base_new failed\"");
	s->d.cfg = cfg;
	s->d.config_path = config_path;
	s->d.conninfo = conninfo;
	s->d.node_name = node;
	fd_budget_plan(cfg, &s->d.fds);
	fd_budget_log(cfg, &s->d.fds);
	s->sig_term = evsignal_new(s->d.base, SIGTERM, daemon_on_stop, s);
	s->sig_int = evsignal_new(s->d.base, SIGINT, daemon_on_stop, s);
	s->sig_hup = evsignal_new(s->d.base, SIGHUP, daemon_on_hup, s);
	evsignal_add(s->sig_term, NULL);
	evsignal_add(s->sig_int, NULL);
	evsignal_add(s->sig_hup, NULL);
	for (size_t i = 0; i < ARRAY_LEN(roles); i++) {
		if (!config_list_has(cfg, CFG_ROLES, roles[i]->name))
			continue;
		if (roles[i]->start != NULL && roles[i]->start(&s->d) != 0) {
			log_error("role_failed", "role=%s", roles[i]->name);
			status = 1;
			break;
		}
		s->started[i] = true;
		nstarted++;
	}
	if (status == 0) {
		char *redacted = db_conninfo_redact(conninfo);

		log_info("started", "node=%s roles=%s database=\"%s\" pid=%d", node,
			 config_str(cfg, CFG_ROLES), redacted, (int)getpid());
		free(redacted);
		event_base_dispatch(s->d.base);
	}
	daemon_stop_roles(s);
	if (s->grace_timer != NULL)
		event_free(s->grace_timer);
	event_free(s->sig_term);
	event_free(s->sig_int);
	event_free(s->sig_hup);
	event_base_free(s->d.base);
	/* The caller's cfg is the caller's to free. */
	for (size_t i = 0; i < s->nold; i++) {
		if (s->old_cfgs[i] != cfg)
			config_free(s->old_cfgs[i]);
	}
	free(s->old_cfgs);
	if (s->d.cfg != cfg)
		config_free(s->d.cfg);
	free(conninfo);
	free(node);
	free(s);
	log_info("stopped", "status=%d", status);
	return status;
}
