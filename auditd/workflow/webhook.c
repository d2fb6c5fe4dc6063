/*
 * The webhook executor (see webhook.h): claim one event, POST it with
 * libcurl, record the answer; the signature is OpenSSL's HMAC-SHA-256
 * (common/hmac.h) over the exact body bytes.
 */
#include "auditd/workflow/webhook.h"
#include "auditd/workflow/enforcer.h"
#include "common/config.h"
#include "common/hmac.h"
#include "common/log.h"
#include "common/util.h"
#include "db/db.h"
#include "db/webhook.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t webhook_once = PTHREAD_ONCE_INIT;

static void
webhook_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed");
}

/* The answer's body is not used: read and dropped, so a large one costs nothing. */
static size_t
webhook_discard_cb(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* A stop request aborts the transfer at once instead of waiting out webhook_timeout. */
static int
webhook_progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return atomic_load((const atomic_bool *)arg) ? 1 : 0;
}

/*
 * The signing key: the first line of webhook_secret_file (read at each
 * pass, so a changed key needs no restart), else secret. NULL when neither.
 */
static char *
webhook_key(const struct config *cfg, const char **why)
{
	const char *path = config_str(cfg, CFG_WEBHOOK_SECRET_FILE);
	char buf[1024], *key;
	FILE *f;

	if (*path == '\0') {
		if (*config_str(cfg, CFG_SECRET) == '\0') {
			*why = "neither webhook_secret_file nor secret is set: nothing to sign with";
			return NULL;
		}
		return xstrdup(config_str(cfg, CFG_SECRET));
	}
	f = fopen(path, "re");
	if (f == NULL) {
		*why = "cannot open webhook_secret_file";
		return NULL;
	}
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		*why = "webhook_secret_file is empty";
		return NULL;
	}
	key = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return key;
}

/* One POST; the HTTP status, or 0 with err filled when there was no answer. */
static long
webhook_post(CURL *h, const struct config *cfg, const char *key, const struct db_webhook_job *job,
             const atomic_bool *stop, char *err, size_t errlen)
{
	long timeout_ms = (long)config_int(cfg, CFG_WEBHOOK_TIMEOUT) * 1000, status = 0;
	uint8_t mac[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1], errbuf[CURL_ERROR_SIZE] = "";
	char *sig, *idem, *evid;
	struct curl_slist *hdrs = NULL;
	CURLcode rc;

	hmac_sha256(key, strlen(key), job->body, strlen(job->body), mac);
	hex_encode(mac, sizeof(mac), hex);
	sig = xasprintf("X-Relayaudit-Signature: sha256=%s", hex);
	idem = xasprintf("Idempotency-Key: relayaudit-event-%" PRId64, job->event_id);
	evid = xasprintf("X-Relayaudit-Event-Id: %" PRId64, job->event_id);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, sig);
	hdrs = curl_slist_append(hdrs, idem);
	hdrs = curl_slist_append(hdrs, evid);
	hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, config_str(cfg, CFG_WEBHOOK_URL));
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer, not a 2xx */
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, job->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(job->body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "relayaudit-webhook");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, webhook_discard_cb);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, webhook_progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)stop);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		str_fmt(err, errlen, "%s%s%s", curl_easy_strerror(rc), *errbuf ? ": " : "", errbuf);
	curl_slist_free_all(hdrs);
	free(sig);
	free(idem);
	free(evid);
	return status;
}

/* Records one outcome in its own transaction; true when it was delivered. */
static int
webhook_record(PGconn *conn, const struct config *cfg, const struct db_webhook_job *job,
               long status, const char *err, bool *delivered)
{
	int max = (int)config_int(cfg, CFG_WEBHOOK_MAX_ATTEMPTS);
	char why[CURL_ERROR_SIZE + 64];
	int rc;

	*delivered = status >= 200 && status <= 299;
	if (*delivered) {
		log_info("webhook_sent", "event=%" PRId64 " case=%" PRId64 " status=%ld attempt=%d",
		         job->event_id, job->case_id, status, job->attempts);
		return db_webhook_done(conn, job->id);
	}
	if (status != 0)
		str_fmt(why, sizeof(why), "HTTP status %ld", status);
	else
		str_fmt(why, sizeof(why), "%s", err);
	if (job->attempts < max) {
		long delay = enforcer_backoff(config_int(cfg, CFG_RETRY_BACKOFF), job->attempts);

		log_warn("webhook_deferred",
		         "event=%" PRId64 " attempt=%d retry_in=%ld error=\"%s\"", job->event_id,
		         job->attempts, delay, why);
		rc = db_webhook_retry(conn, job->id, why, delay);
	} else {
		char *msg = xasprintf("gave up after %d attempts: %s", job->attempts, why);

		log_error("webhook_failed", "event=%" PRId64 " case=%" PRId64 " error=\"%s\"",
		          job->event_id, job->case_id, msg);
		rc = db_webhook_failed(conn, job->id, msg);
		free(msg);
	}
	return rc;
}

int
webhook_run(PGconn *conn, const struct config *cfg, const char *node, const atomic_bool *stop,
            int max)
{
	static bool warned; /* only the workflow thread runs this */
	int64_t lease = config_int(cfg, CFG_WEBHOOK_TIMEOUT) + 60;
	const char *why = NULL;
	char *key;
	CURL *h;
	int done = 0;

	if (*config_str(cfg, CFG_WEBHOOK_URL) == '\0')
		return 0;
	key = webhook_key(cfg, &why);
	if (key == NULL) {
		/* Events wait in the queue until there is a key. */
		if (!warned)
			log_warn("webhook_no_key", "error=\"%s\"", why);
		warned = true;
		return 0;
	}
	warned = false;
	pthread_once(&webhook_once, webhook_global_init);
	h = curl_easy_init();
	if (h == NULL) {
		log_error("webhook", "error=\"curl_easy_init failed\"");
		explicit_bzero(key, strlen(key));
		free(key);
		return 0;
	}
	/* One at a time: a row is claimed only when it is about to be sent. */
	while (done < max && !atomic_load(stop)) {
		struct db_webhook_job *jobs = NULL;
		char err[CURL_ERROR_SIZE + 64] = "";
		bool delivered = false;
		long status;
		int n = 0;

		if (db_webhook_claim(conn, node, lease, 1, &jobs, &n) < 0) {
			done = -1;
			break;
		}
		if (n == 0) {
			db_webhook_jobs_free(jobs, n);
			break;
		}
		status = webhook_post(h, cfg, key, &jobs[0], stop, err, sizeof(err));
		if (status == 0 && atomic_load(stop)) {
			/* Cut short by a stop: hand it back unchanged for the next start. */
			db_webhook_retry(conn, jobs[0].id, "stopped", 0);
			db_webhook_jobs_free(jobs, n);
			break;
		}
		if (webhook_record(conn, cfg, &jobs[0], status, err, &delivered) < 0) {
			db_webhook_jobs_free(jobs, n);
			done = -1;
			break;
		}
		db_webhook_jobs_free(jobs, n);
		done++;
		if (!delivered)
			break;
	}
	curl_easy_cleanup(h);
	explicit_bzero(key, strlen(key));
	free(key);
	return done;
}
