/*
 * Runs the enforcer hook (see enforcer.h): fork and execve with a fixed
 * argument vector, the JSON description on stdin, stderr captured (bounded)
 * for the error shown on the case, and a deadline after which the hook's
 * process group is killed. The workflow thread starts hooks and looks at
 * them once per pass without waiting, never on the probe loop.
 */
#include "auditd/workflow/enforcer.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "db/cases.h"
#include "db/db.h"
#include "db/enforcement.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define ENFORCER_ERR_MAX 512
/* Hooks running at once; each address still gets one at a time, in order. */
#define ENFORCER_SLOTS 4

long
enforcer_backoff(long base, int attempt)
{
	long d = base < 1 ? 1 : base;

	for (int i = 1; i < attempt && d < 3600; i++)
		d *= 2;
	return d > 3600 ? 3600 : d;
}

/*
 * Child side: stdin from in, stderr to err, stdout to /dev/null. Only
 * async-signal-safe calls here: the daemon has other threads.
 */
static void
enforcer_child(char *const argv[], char *const envp[], int in, int err)
{
	int devnull = open("/dev/null", O_WRONLY);

	dup2(in, 0);
	dup2(err, 2);
	if (devnull >= 0)
		dup2(devnull, 1);
	/* All of them: the daemon's probe sockets are numbered far above 1024. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	}
	/* Its own process group, so a timeout kills whatever it started. */
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	execve(argv[0], argv, envp);
	{
		static const char msg[] = "cannot execute the enforcer hook\n";
		ssize_t w = write(2, msg, sizeof(msg) - 1);

		(void)w;
	}
	_exit(127);
}

/*
 * What a hook inherits from the daemon's environment: PATH, LANG and the
 * variables the shipped hooks document, nothing else (the daemon's own
 * RELAYAUDIT_DATABASE may hold a password).
 */
static const char *const enforcer_env_passed[] = {
    "PATH", "LANG", "RELAYAUDIT_ENFORCER_LOG", "NFT_TABLE", "RELAYAUDIT_NFT_DRYRUN",
};

/* extra, then the passed variables of environ; a malloc'd array of borrowed strings. */
static char **
enforcer_env(char *const extra[])
{
	size_t n = 0, k = 0;
	char **envp;
	bool have_path = false;

	while (extra && extra[k])
		k++;
	envp = xcalloc(k + ARRAY_LEN(enforcer_env_passed) + 2, sizeof(*envp));
	if (k > 0)
		memcpy(envp, extra, k * sizeof(*envp));
	n = k;
	for (size_t i = 0; i < ARRAY_LEN(enforcer_env_passed); i++) {
		size_t len = strlen(enforcer_env_passed[i]);

		for (char **e = environ; *e != NULL; e++) {
			if (strncmp(*e, enforcer_env_passed[i], len) == 0 && (*e)[len] == '=') {
				envp[n++] = *e;
				have_path |= i == 0;
				break;
			}
		}
	}
	if (!have_path)
		envp[n++] = (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	return envp;
}

/*
 * One hook process, driven without blocking: enforcer_proc_step() feeds its
 * stdin, keeps the first bytes of its stderr, reaps it, and kills its whole
 * process group at the deadline. The workflow thread steps every running
 * hook once per pass, so a slow hook holds up only its own action.
 */
struct enforcer_proc {
	pid_t pid;
	int in, err; /* -1 once closed */
	const char *input;
	size_t inlen, written, got;
	char buf[ENFORCER_ERR_MAX];
	int64_t deadline;
	int timeout_ms;
	bool timed_out;
	int status;
};

/* 0 with the hook running, or -1 with err set (it never ran). */
static int
enforcer_proc_start(struct enforcer_proc *p, char *const argv[], char *const envp_extra[],
                    const char *input, int timeout_ms, char *err, size_t errlen)
{
	int inp[2], errp[2];
	char **envp;

	memset(p, 0, sizeof(*p));
	p->in = p->err = -1;
	err[0] = '\0';
	if (access(argv[0], X_OK) < 0) {
		snprintf(err, errlen, "cannot execute %s: %s", argv[0], strerror(errno));
		return -1;
	}
	if (pipe2(inp, O_CLOEXEC) < 0)
		goto no_run;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(inp[0]);
		close(inp[1]);
		goto no_run;
	}
	envp = enforcer_env(envp_extra);
	p->pid = fork();
	if (p->pid < 0) {
		free(envp);
		close(inp[0]);
		close(inp[1]);
		close(errp[0]);
		close(errp[1]);
		goto no_run;
	}
	if (p->pid == 0)
		enforcer_child(argv, envp, inp[0], errp[1]);
	/* Also from this side, so a kill right after the fork reaches the group. */
	setpgid(p->pid, p->pid);
	free(envp);
	close(inp[0]);
	close(errp[1]);
	p->in = inp[1];
	p->err = errp[0];
	fcntl(p->in, F_SETFL, O_NONBLOCK);
	fcntl(p->err, F_SETFL, O_NONBLOCK);
	p->input = input;
	p->inlen = strlen(input);
	p->timeout_ms = timeout_ms;
	p->deadline = now_mono_ms() + timeout_ms;
	return 0;
no_run:
	snprintf(err, errlen, "cannot start hook: %s", strerror(errno));
	return -1;
}

static void
enforcer_proc_close(struct enforcer_proc *p)
{
	if (p->in >= 0)
		close(p->in);
	if (p->err >= 0)
		close(p->err);
	p->in = p->err = -1;
}

/* Kills the hook's process group (whatever it started too) and reaps it. */
static void
enforcer_proc_kill(struct enforcer_proc *p)
{
	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &p->status, 0);
	enforcer_proc_close(p);
}

static void
enforcer_proc_read_err(struct enforcer_proc *p)
{
	char chunk[256];
	ssize_t r;

	while (p->err >= 0 && (r = read(p->err, chunk, sizeof(chunk))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				close(p->err);
				p->err = -1;
			}
			return;
		}
		if (p->got < sizeof(p->buf) - 1) {
			size_t take = (size_t)r < sizeof(p->buf) - 1 - p->got
			                  ? (size_t)r
			                  : sizeof(p->buf) - 1 - p->got;
			memcpy(p->buf + p->got, chunk, take);
			p->got += take;
		}
	}
	if (p->err >= 0) { /* end of stream */
		close(p->err);
		p->err = -1;
	}
}

/*
 * Waits at most wait_ms for the hook to make progress. true once it has
 * ended (exited, killed by a signal, or killed at its deadline).
 */
static bool
enforcer_proc_step(struct enforcer_proc *p, int wait_ms)
{
	struct pollfd fds[2];
	int nfds = 0, left = (int)(p->deadline - now_mono_ms());
	pid_t w;

	if (left <= 0) {
		p->timed_out = true;
		enforcer_proc_kill(p);
		return true;
	}
	if (wait_ms > left)
		wait_ms = left;
	if (p->err >= 0)
		fds[nfds++] = (struct pollfd){.fd = p->err, .events = POLLIN};
	if (p->in >= 0)
		fds[nfds++] = (struct pollfd){.fd = p->in, .events = POLLOUT};
	/* Without pipes only the exit is left to see: look again soon. */
	if (poll(nfds ? fds : NULL, (nfds_t)nfds, nfds ? wait_ms : (wait_ms < 10 ? wait_ms : 10)) >
	    0) {
		for (int i = 0; i < nfds; i++) {
			if (fds[i].fd == p->in && fds[i].revents) {
				ssize_t n = write(p->in, p->input + p->written, p->inlen - p->written);

				if (n > 0)
					p->written += (size_t)n;
				if (n < 0 && errno != EAGAIN) /* the hook did not read: fine */
					p->written = p->inlen;
				if (p->written >= p->inlen) {
					close(p->in);
					p->in = -1;
				}
			} else if (fds[i].fd == p->err && fds[i].revents) {
				enforcer_proc_read_err(p);
			}
		}
	}
	w = waitpid(p->pid, &p->status, WNOHANG);
	if (w == 0)
		return false;
	/* Exited: keep what it wrote to stderr; a child it left behind may hold the
	 * pipe open, so read what is there and no more. */
	enforcer_proc_read_err(p);
	enforcer_proc_close(p);
	return true;
}

/* The result of an ended hook, as enforcer_exec() returns it. */
static int
enforcer_proc_result(struct enforcer_proc *p, char *err, size_t errlen)
{
	p->buf[p->got] = '\0';
	p->buf[strcspn(p->buf, "\n")] = '\0';
	log_censor(err, errlen, p->buf, strlen(p->buf));
	if (p->timed_out) {
		snprintf(err, errlen, "timed out after %d ms", p->timeout_ms);
		return -1;
	}
	if (WIFSIGNALED(p->status)) {
		snprintf(err, errlen, "killed by signal %d", WTERMSIG(p->status));
		return -1;
	}
	return WEXITSTATUS(p->status);
}

int
enforcer_exec(char *const argv[], char *const envp_extra[], const char *input, int timeout_ms,
              char *err, size_t errlen)
{
	struct enforcer_proc p;

	if (enforcer_proc_start(&p, argv, envp_extra, input, timeout_ms, err, errlen) < 0)
		return -1;
	while (!enforcer_proc_step(&p, 100))
		;
	return enforcer_proc_result(&p, err, errlen);
}

/* A claimed action with its running hook. */
struct enforcer_slot {
	struct db_enforcement_job job;
	struct enforcer_proc proc;
};

struct enforcer_pool {
	struct enforcer_slot *slot[ENFORCER_SLOTS];
};

/* Starts the hook of a claimed action; -1 with err when it could not run. */
static int
enforcer_start(struct enforcer_slot *sl, const struct config *cfg, char *err, size_t errlen)
{
	const struct db_enforcement_job *job = &sl->job;
	char case_id[24], key_env[600], id_env[64], attempt_env[64];
	char *argv[] = {(char *)config_str(cfg, CFG_ENFORCER_COMMAND),
	                job->action,
	                job->address,
	                job->mode,
	                case_id,
	                NULL};
	char *envp[] = {key_env, id_env, attempt_env, NULL};

	snprintf(case_id, sizeof(case_id), "%" PRId64, job->case_id);
	snprintf(key_env, sizeof(key_env), "RELAYAUDIT_ACTION_KEY=%s", job->key);
	snprintf(id_env, sizeof(id_env), "RELAYAUDIT_ACTION_ID=%" PRId64, job->id);
	snprintf(attempt_env, sizeof(attempt_env), "RELAYAUDIT_ATTEMPT=%d", job->attempts);
	return enforcer_proc_start(&sl->proc, argv, envp, job->json,
	                           (int)config_int(cfg, CFG_ENFORCER_TIMEOUT) * 1000, err, errlen);
}

/* Records the outcome of one action's hook: status as enforcer_exec() returns it. */
static int
enforcer_record(PGconn *conn, const struct config *cfg, const struct db_enforcement_job *job,
                int status, const char *err)
{
	if (status == 0) {
		log_info("enforcer_applied",
		         "action_id=%" PRId64 " case=%" PRId64
		         " action=%s address=%s mode=%s attempt=%d",
		         job->id, job->case_id, job->action, job->address, job->mode,
		         job->attempts);
		if (db_begin(conn) < 0 || db_enforcement_done(conn, job->id) < 0)
			goto fail;
		if (job->case_id) {
			char *detail = xasprintf("{\"action\": \"%s\", \"action_id\": %" PRId64
			                         ", \"attempt\": %d}",
			                         job->action, job->id, job->attempts);
			int rc = db_case_enforcement_error(conn, job->case_id, NULL) < 0 ||
			         db_case_note_event(conn, job->case_id, "enforcer_applied",
			                            "system", detail) < 0;

			free(detail);
			if (rc)
				goto fail;
		}
		return db_commit(conn);
	}
	{
		long delay = enforcer_backoff(config_int(cfg, CFG_RETRY_BACKOFF), job->attempts);
		char *shown =
		    status < 0
		        ? xasprintf("%s failing (attempt %d): %s", job->action, job->attempts, err)
		        : xasprintf("%s failing (attempt %d): exit %d%s%s", job->action,
		                    job->attempts, status, err[0] ? ": " : "", err);

		log_warn("enforcer_failed",
		         "action_id=%" PRId64 " case=%" PRId64
		         " action=%s address=%s attempt=%d retry_in=%ld error=\"%s\"",
		         job->id, job->case_id, job->action, job->address, job->attempts, delay,
		         shown);
		if (db_begin(conn) < 0 || db_enforcement_retry(conn, job->id, shown, delay) < 0 ||
		    (job->case_id && db_case_enforcement_error(conn, job->case_id, shown) < 0)) {
			free(shown);
			goto fail;
		}
		/* The event log notes the first failure; the case row shows the latest. */
		if (job->case_id && job->attempts == 1) {
			char *detail = xasprintf("{\"action\": \"%s\", \"action_id\": %" PRId64 "}",
			                         job->action, job->id);
			int rc = db_case_note_event(conn, job->case_id, "enforcer_failed", "system",
			                            detail);

			free(detail);
			if (rc < 0) {
				free(shown);
				goto fail;
			}
		}
		free(shown);
		return db_commit(conn);
	}
fail:
	db_rollback(conn);
	return -1;
}

struct enforcer_pool *
enforcer_pool_new(void)
{
	return xcalloc(1, sizeof(struct enforcer_pool));
}

int
enforcer_pool_running(const struct enforcer_pool *pool)
{
	int n = 0;

	for (int i = 0; i < ENFORCER_SLOTS; i++)
		n += pool->slot[i] != NULL;
	return n;
}

static void
enforcer_slot_free(struct enforcer_pool *pool, int i)
{
	db_enforcement_job_clear(&pool->slot[i]->job);
	free(pool->slot[i]);
	pool->slot[i] = NULL;
}

int
enforcer_pump(struct enforcer_pool *pool, PGconn *conn, const struct config *cfg,
              const char *node, int max_starts)
{
	int64_t lease = config_int(cfg, CFG_ENFORCER_TIMEOUT) + 60;
	int changed = 0, started = 0, rc = 0;
	char err[ENFORCER_ERR_MAX];

	/* Hooks that ended since the last pass: their outcome. */
	for (int i = 0; i < ENFORCER_SLOTS && rc == 0; i++) {
		struct enforcer_slot *sl = pool->slot[i];

		if (sl == NULL || !enforcer_proc_step(&sl->proc, 0))
			continue;
		rc = enforcer_record(conn, cfg, &sl->job, enforcer_proc_result(&sl->proc, err,
		                                                                sizeof(err)),
		                     err);
		enforcer_slot_free(pool, i);
		changed++;
	}
	/* Free slots take the next due actions (the claim keeps each address in order). */
	for (int i = 0; i < ENFORCER_SLOTS && rc == 0 && started < max_starts; i++) {
		struct enforcer_slot *sl;
		int found;

		if (pool->slot[i] != NULL)
			continue;
		sl = xcalloc(1, sizeof(*sl));
		found = db_enforcement_claim(conn, node, lease, &sl->job);
		if (found <= 0) {
			db_enforcement_job_clear(&sl->job);
			free(sl);
			rc = found < 0 ? -1 : 0;
			break;
		}
		pool->slot[i] = sl;
		started++;
		changed++;
		if (enforcer_start(sl, cfg, err, sizeof(err)) < 0) {
			rc = enforcer_record(conn, cfg, &sl->job, -1, err);
			enforcer_slot_free(pool, i);
		}
	}
	return rc < 0 ? -1 : changed;
}

void
enforcer_pool_abort(struct enforcer_pool *pool, PGconn *conn, const struct config *cfg)
{
	bool db_ok = conn != NULL && PQstatus(conn) == CONNECTION_OK;
	char err[ENFORCER_ERR_MAX];

	for (int i = 0; i < ENFORCER_SLOTS; i++) {
		struct enforcer_slot *sl = pool->slot[i];

		if (sl == NULL)
			continue;
		/* A hook that has already ended keeps its outcome. */
		if (db_ok && enforcer_proc_step(&sl->proc, 0)) {
			enforcer_record(conn, cfg, &sl->job,
			                enforcer_proc_result(&sl->proc, err, sizeof(err)), err);
			enforcer_slot_free(pool, i);
			continue;
		}
		enforcer_proc_kill(&sl->proc);
		log_warn("enforcer_interrupted",
		         "action_id=%" PRId64 " case=%" PRId64 " action=%s address=%s attempt=%d",
		         sl->job.id, sl->job.case_id, sl->job.action, sl->job.address,
		         sl->job.attempts);
		/* Without a connection the lease runs out and it is claimed again. */
		if (db_ok)
			db_enforcement_retry(conn, sl->job.id,
			                     "interrupted: the workflow stopped; retried", 0);
		enforcer_slot_free(pool, i);
	}
}

void
enforcer_pool_free(struct enforcer_pool *pool)
{
	free(pool);
}
