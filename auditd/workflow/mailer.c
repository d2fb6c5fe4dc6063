/*
 * The outbox executor (see mailer.h): claim, deliver, record. Results are
 * written after the SMTP loop returns, except the hand-off mark, which must
 * be committed before the final dot goes out and so is written from the
 * session's callback on this thread's own mail loop.
 */
#include "auditd/workflow/mailer.h"
#include "auditd/workflow/enforcer.h"
#include "auditd/workflow/smtp_client.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "db/cases.h"
#include "db/db.h"
#include "db/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAILER_TIMEOUT_MS 60000
#define UNCERTAIN_NOTE                                                                             \
	"hand-off unconfirmed: the connection ended after the final dot, so the smarthost "        \
	"may hold the message; not sent again (RFC 1047)"

static enum smtpc_tls
mailer_tls_mode(const char *v)
{
	static const struct {
		const char *name;
		enum smtpc_tls mode;
	} modes[] = {
	    {"none", SMTPC_TLS_NONE},
	    {"starttls", SMTPC_TLS_STARTTLS},
	    {"required", SMTPC_TLS_REQUIRED},
	};
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		if (strcmp(v, modes[i].name) == 0)
			return modes[i].mode;
	}
	return SMTPC_TLS_REQUIRED; /* the config table allows no other value */
}

/*
 * The first line of smarthost_password_file, read at each run so a changed
 * password needs no restart; the password never sits in the config itself.
 */
static int
mailer_password(const char *path, char **out, const char **why)
{
	char buf[1024];
	FILE *f;
	size_t n;

	*out = NULL;
	if (*path == '\0') {
		*why = "smarthost_user is set but smarthost_password_file is not";
		return -1;
	}
	f = fopen(path, "re");
	if (f == NULL) {
		*why = "cannot open smarthost_password_file";
		return -1;
	}
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		*why = "smarthost_password_file is empty";
		return -1;
	}
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	*out = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int
mailer_handoff(void *arg, struct smtpc_msg *m)
{
	const struct db_outbox_job *job = m->user;

	return db_outbox_handoff(arg, job->id);
}

/*
 * mkdir -p for outbox_dir. The messages hold customer data and working
 * re-test links: folders we create are 0700, and the outbox itself is
 * tightened to 0700 if it was made looser.
 */
static int
mailer_mkdirs(const char *dir)
{
	char *path = xstrdup(dir);
	struct stat st;
	int rc = 0;

	for (char *p = path + 1; *p && rc == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0 && mkdir(path, 0700) < 0 && errno != EEXIST)
		rc = -1;
	if (rc == 0 && stat(path, &st) == 0 && (st.st_mode & 077) != 0 && chmod(path, 0700) < 0)
		rc = -1;
	free(path);
	return rc;
}

/* Writes the message to DIR/ID-KIND.eml through a temporary file and rename. */
static int
mailer_write_file(const char *dir, const struct db_outbox_job *job, char **path_out,
                  const char **why)
{
	char *path = xasprintf("%s/%" PRId64 "-%s.eml", dir, job->id, job->kind);
	char *tmp = xasprintf("%s.tmp", path);
	size_t len = strlen(job->body), off = 0;
	int fd;

	*path_out = NULL;
	if (mailer_mkdirs(dir) < 0 ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		*why = strerror(errno);
		goto fail;
	}
	while (off < len) {
		ssize_t w = write(fd, job->body + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*why = strerror(errno);
			close(fd);
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		*why = strerror(errno);
		goto fail;
	}
	free(tmp);
	*path_out = path;
	return 0;
fail:
	unlink(tmp);
	free(tmp);
	free(path);
	return -1;
}

static int
mailer_case_event(PGconn *conn, const struct db_outbox_job *job, const char *event)
{
	char *detail;
	int rc;

	if (job->case_id == 0)
		return 0;
	detail = xasprintf("{\"kind\": \"%s\", \"outbox_id\": %" PRId64 ", \"attempt\": %d}",
	                   job->kind, job->id, job->attempts);
	rc = db_case_note_event(conn, job->case_id, event, "system", detail);
	free(detail);
	return rc;
}

/* Records one delivery outcome in its own transaction. */
static int
mailer_record(PGconn *conn, const struct config *cfg, const struct db_outbox_job *job,
              enum smtpc_result result, const char *delivered_to, const char *reply)
{
	int max = (int)config_int(cfg, CFG_MAIL_MAX_ATTEMPTS);
	int rc;

	if (db_begin(conn) < 0)
		return -1;
	switch (result) {
	case SMTPC_SENT:
	case SMTPC_UNCERTAIN:
		log_info("mail_sent",
		         "outbox_id=%" PRId64 " case=%" PRId64
		         " kind=%s to=%s via=\"%s\" result=%s reply=\"%s\"",
		         job->id, job->case_id, job->kind, job->to, delivered_to,
		         smtpc_result_name(result), reply);
		rc = db_outbox_sent(conn, job->id, delivered_to,
		                    result == SMTPC_UNCERTAIN ? UNCERTAIN_NOTE : NULL);
		if (rc == 0)
			rc = mailer_case_event(conn, job, "mail_sent");
		break;
	case SMTPC_TEMPFAIL:
		if (job->attempts < max) {
			long delay =
			    enforcer_backoff(config_int(cfg, CFG_RETRY_BACKOFF), job->attempts);

			log_warn("mail_deferred",
			         "outbox_id=%" PRId64 " attempt=%d retry_in=%ld "
			         "error=\"%s\"",
			         job->id, job->attempts, delay, reply);
			rc = db_outbox_retry(conn, job->id, reply, delay);
			break;
		}
		/* out of attempts */
		__attribute__((fallthrough));
	default: {
		char *err = result == SMTPC_PERMFAIL
		                ? xstrdup(reply)
		                : xasprintf("gave up after %d attempts: %s", job->attempts, reply);

		log_error("mail_failed",
		          "outbox_id=%" PRId64 " case=%" PRId64 " to=%s error=\"%s\"", job->id,
		          job->case_id, job->to, err);
		rc = db_outbox_failed(conn, job->id, err);
		if (rc == 0)
			rc = mailer_case_event(conn, job, "mail_failed");
		free(err);
		break;
	}
	}
	if (rc < 0 || db_commit(conn) < 0) {
		db_rollback(conn);
		return -1;
	}
	return 0;
}

int
mailer_run(PGconn *conn, const struct config *cfg, const char *node, struct event_base *base,
           struct evdns_base *dns, int max)
{
	const char *smarthost = config_str(cfg, CFG_SMARTHOST);
	struct db_outbox_job *jobs = NULL;
	struct smtpc_msg *msgs;
	size_t nmsgs = 0;
	int n = 0, rc = 0;

	/* The lease outlasts a whole SMTP dialogue (eight replies). */
	if (db_outbox_claim(conn, node, MAILER_TIMEOUT_MS / 1000 * 8 + 60, max, &jobs, &n) < 0)
		return -1;
	msgs = xcalloc((size_t)n + 1, sizeof(*msgs));
	for (int i = 0; i < n && rc == 0; i++) {
		struct db_outbox_job *job = &jobs[i];

		if (job->handed_off) {
			/* An earlier attempt died after the dot: sending again could duplicate. */
			rc = mailer_record(conn, cfg, job, SMTPC_UNCERTAIN, "unknown",
			                   UNCERTAIN_NOTE);
		} else if (*smarthost == '\0') {
			const char *why = NULL;
			char *path = NULL;

			if (mailer_write_file(config_str(cfg, CFG_OUTBOX_DIR), job, &path, &why) <
			    0)
				rc = mailer_record(conn, cfg, job, SMTPC_TEMPFAIL, "",
				                   why ? why : "cannot write the outbox file");
			else
				rc = mailer_record(conn, cfg, job, SMTPC_SENT, path, "written");
			free(path);
		} else {
			msgs[nmsgs].mail_from = config_str(cfg, CFG_NOTIFY_FROM);
			msgs[nmsgs].rcpt_to = job->to;
			msgs[nmsgs].data = job->body;
			msgs[nmsgs].user = job;
			nmsgs++;
		}
	}
	if (rc == 0 && nmsgs > 0) {
		const char *helo = config_str(cfg, CFG_HELO_NAME), *why = NULL;
		struct smtpc_params p = {
		    .helo = *helo ? helo : (*node ? node : "relayaudit.invalid"),
		    .user = config_str(cfg, CFG_SMARTHOST_USER),
		    .tls = mailer_tls_mode(config_str(cfg, CFG_SMARTHOST_TLS)),
		    .ca_file = config_str(cfg, CFG_SMARTHOST_TLS_CA),
		    .timeout_ms = MAILER_TIMEOUT_MS,
		};
		char *password = NULL;

		if (smtpc_target_parse(smarthost, &p.target, &why) < 0 ||
		    (*p.user && mailer_password(config_str(cfg, CFG_SMARTHOST_PASSWORD_FILE),
		                                &password, &why) < 0)) {
			for (size_t i = 0; i < nmsgs; i++) {
				msgs[i].result = SMTPC_TEMPFAIL;
				str_fmt(msgs[i].reply, sizeof(msgs[i].reply), "%s", why);
			}
		} else {
			p.password = password;
			smtpc_deliver(&p, msgs, nmsgs, mailer_handoff, conn);
		}
		if (password) {
			explicit_bzero(password, strlen(password));
			free(password);
		}
		for (size_t i = 0; i < nmsgs && rc == 0; i++)
			rc = mailer_record(conn, cfg, msgs[i].user, msgs[i].result, smarthost,
			                   msgs[i].reply);
	}
	free(msgs);
	db_outbox_jobs_free(jobs, n);
	return rc < 0 ? -1 : n;
}
