/*
 * Runs the enforcer hook (see enforcer.h): fork and execve with a fixed
 * argument vector, the JSON description on stdin, stderr captured (bounded)
 * for the error shown on the case, and a deadline after which the hook is
 * killed. Runs on the workflow thread, never on the probe loop.
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

int
enforcer_exec(char *const argv[], char *const envp_extra[], const char *input, int timeout_ms,
              char *err, size_t errlen)
{
	int inp[2], errp[2], status = 0;
	size_t inlen = strlen(input), written = 0, got = 0;
	int64_t deadline = now_mono_ms() + timeout_ms;
	bool timed_out = false, err_open = true;
	char buf[ENFORCER_ERR_MAX];
	char **envp;
	pid_t pid;

	err[0] = '\0';
	if (pipe2(inp, O_CLOEXEC) < 0)
		goto no_run;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(inp[0]);
		close(inp[1]);
		goto no_run;
	}
	envp = enforcer_env(envp_extra);
	if (access(argv[0], X_OK) < 0) {
		snprintf(err, errlen, "cannot execute %s: %s", argv[0], strerror(errno));
		free(envp);
		close(inp[0]);
		close(inp[1]);
		close(errp[0]);
		close(errp[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		free(envp);
		close(inp[0]);
		close(inp[1]);
		close(errp[0]);
		close(errp[1]);
		goto no_run;
	}
	if (pid == 0)
		enforcer_child(argv, envp, inp[0], errp[1]);
	free(envp);
	close(inp[0]);
	close(errp[1]);
	fcntl(inp[1], F_SETFL, O_NONBLOCK);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);

	/* Feed stdin and drain stderr until both are done or the deadline. */
	while (err_open || inp[1] >= 0) {
		struct pollfd fds[2];
		int nfds = 0, left = (int)(deadline - now_mono_ms());

		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (err_open)
			fds[nfds++] = (struct pollfd){.fd = errp[0], .events = POLLIN};
		if (inp[1] >= 0)
			fds[nfds++] = (struct pollfd){.fd = inp[1], .events = POLLOUT};
		if (poll(fds, (nfds_t)nfds, left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < nfds; i++) {
			if (fds[i].fd == inp[1] && fds[i].revents) {
				ssize_t w = write(inp[1], input + written, inlen - written);

				if (w > 0)
					written += (size_t)w;
				if (w < 0 && errno != EAGAIN) /* the hook did not read: fine */
					written = inlen;
				if (written >= inlen) {
					close(inp[1]);
					inp[1] = -1;
				}
			} else if (fds[i].fd == errp[0] && fds[i].revents) {
				char chunk[256];
				ssize_t r = read(errp[0], chunk, sizeof(chunk));

				if (r > 0 && got < sizeof(buf) - 1) {
					size_t take = (size_t)r < sizeof(buf) - 1 - got
					                  ? (size_t)r
					                  : sizeof(buf) - 1 - got;
					memcpy(buf + got, chunk, take);
					got += take;
				}
				if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
					err_open = false;
			}
		}
	}
	if (inp[1] >= 0)
		close(inp[1]);
	close(errp[0]);
	if (timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	/* stderr closed: the hook is exiting; wait for it, bounded. */
	while (waitpid(pid, &status, timed_out ? 0 : WNOHANG) == 0) {
		if (now_mono_ms() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			timed_out = true;
			waitpid(pid, &status, 0);
			break;
		}
		poll(NULL, 0, 10);
	}
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	log_censor(err, errlen, buf, strlen(buf));
	if (timed_out) {
		snprintf(err, errlen, "timed out after %d ms", timeout_ms);
		return -1;
	}
	if (WIFSIGNALED(status)) {
		snprintf(err, errlen, "killed by signal %d", WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
no_run:
	snprintf(err, errlen, "cannot start hook: %s", strerror(errno));
	return -1;
}

/* Runs one claimed action and records the outcome. */
static int
enforcer_one(PGconn *conn, const struct config *cfg, const struct db_enforcement_job *job)
{
	char case_id[24], key_env[600], id_env[64], attempt_env[64], err[ENFORCER_ERR_MAX];
	char *argv[] = {(char *)config_str(cfg, CFG_ENFORCER_COMMAND),
	                job->action,
	                job->address,
	                job->mode,
	                case_id,
	                NULL};
	char *envp[] = {key_env, id_env, attempt_env, NULL};
	int status;

	snprintf(case_id, sizeof(case_id), "%" PRId64, job->case_id);
	snprintf(key_env, sizeof(key_env), "RELAYAUDIT_ACTION_KEY=%s", job->key);
	snprintf(id_env, sizeof(id_env), "RELAYAUDIT_ACTION_ID=%" PRId64, job->id);
	snprintf(attempt_env, sizeof(attempt_env), "RELAYAUDIT_ATTEMPT=%d", job->attempts);
	status = enforcer_exec(argv, envp, job->json,
	                       (int)config_int(cfg, CFG_ENFORCER_TIMEOUT) * 1000, err, sizeof(err));
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

int
enforcer_run(PGconn *conn, const struct config *cfg, const char *node, int max)
{
	int64_t lease = config_int(cfg, CFG_ENFORCER_TIMEOUT) + 60;
	int ran = 0;

	while (ran < max) {
		struct db_enforcement_job job;
		int found = db_enforcement_claim(conn, node, lease, &job);

		if (found <= 0)
			return found < 0 ? -1 : ran;
		if (enforcer_one(conn, cfg, &job) < 0) {
			db_enforcement_job_clear(&job);
			return -1;
		}
		db_enforcement_job_clear(&job);
		ran++;
	}
	return ran;
}
