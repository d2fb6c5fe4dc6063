/*
 * Notification mail over libcurl's SMTP (see smtp_client.h). libcurl speaks
 * the protocol, TLS and AUTH; this file maps the option set onto a transfer,
 * records the hand-off from the read callback, and turns libcurl's result,
 * the last reply and the last command into the mailer's four outcomes.
 */
#include "auditd/workflow/smtp_client.h"
#include "common/log.h"
#include "common/util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
smtpc_result_name(enum smtpc_result r)
{
	static const char *const names[] = {
	    [SMTPC_SENT] = "sent",
	    [SMTPC_TEMPFAIL] = "tempfail",
	    [SMTPC_PERMFAIL] = "permfail",
	    [SMTPC_UNCERTAIN] = "uncertain",
	};
	return (unsigned)r < ARRAY_LEN(names) ? names[r] : "?";
}

int
smtpc_target_parse(const char *s, struct smtpc_target *out, const char **why)
{
	const char *hp = s, *colon, *hend;
	int64_t port;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (strncmp(s, "smtps://", 8) == 0) {
		out->smtps = true;
		hp = s + 8;
	} else if (strncmp(s, "smtp://", 7) == 0) {
		hp = s + 7;
	} else if (strstr(s, "://") != NULL) {
		*why = "smarthost: want smtp:// or smtps://";
		return -1;
	}
	colon = strrchr(hp, ':');
	if (colon == NULL || colon == hp) {
		*why = "smarthost: want HOST:PORT";
		return -1;
	}
	if (parse_i64(colon + 1, 1, 65535, &port) < 0) {
		*why = "smarthost: bad port";
		return -1;
	}
	hend = colon;
	if (hp[0] == '[') {
		/* [IPv6]:PORT */
		if (hend[-1] != ']' || hend - hp < 3) {
			*why = "smarthost: bad [IPv6] literal";
			return -1;
		}
		hp++;
		hend--;
	}
	hl = (size_t)(hend - hp);
	if (hl == 0 || hl >= sizeof(out->host)) {
		*why = "smarthost: bad host";
		return -1;
	}
	for (size_t i = 0; i < hl; i++) {
		char c = hp[i];

		/* a host name or an address: nothing libcurl's URL parser could read otherwise */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == ':' || c == '_')) {
			*why = "smarthost: bad character in host";
			return -1;
		}
	}
	memcpy(out->host, hp, hl);
	out->host[hl] = '\0';
	out->port = (int)port;
	return 0;
}

static pthread_once_t smtpc_once = PTHREAD_ONCE_INIT;

static void
smtpc_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal("curl_global_init failed");
}

/* One transfer's state for libcurl's callbacks. */
struct smtpc_xfer {
	struct smtpc_msg *m;
	size_t off, len;
	bool handed_off, handoff_failed;
	smtpc_handoff_fn handoff;
	void *arg;
	char last_cmd[16];  /* verb of the last command sent */
	char last_reply[200]; /* last reply line, censored */
	long last_code;
	bool quitting;
};

static size_t
smtpc_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct smtpc_xfer *x = arg;
	size_t room = size * nitems, n;

	/* libcurl asks for the body only after 354: the point of no return */
	if (!x->handed_off) {
		if (x->handoff && x->handoff(x->arg, x->m) != 0) {
			x->handoff_failed = true;
			return CURL_READFUNC_ABORT;
		}
		x->handed_off = true;
	}
	n = x->len - x->off < room ? x->len - x->off : room;
	memcpy(buf, x->m->data + x->off, n);
	x->off += n;
	return n;
}

/* Keeps the last command verb and the last reply line (the protocol, never the body). */
static int
smtpc_debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct smtpc_xfer *x = arg;

	if (type == CURLINFO_HEADER_OUT) {
		size_t n = 0;

		/* the QUIT after a refusal must not hide what was refused */
		if (size >= 4 && strncasecmp(data, "QUIT", 4) == 0) {
			x->quitting = true;
			return 0;
		}
		while (n < size && n < sizeof(x->last_cmd) - 1 && data[n] != ' ' && data[n] != '\r')
			n++;
		memcpy(x->last_cmd, data, n);
		x->last_cmd[n] = '\0';
	} else if (type == CURLINFO_HEADER_IN && size >= 3 && !x->quitting) {
		size_t n = size;

		while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n'))
			n--;
		log_censor(x->last_reply, sizeof(x->last_reply), data, n);
		x->last_code = strtol(x->last_reply, NULL, 10);
	}
	return 0;
}

/* What a refusal at the last command is called in the outbox's last_error. */
static const struct {
	const char *verb;
	const char *label;
} smtpc_refusals[] = {
    {"MAIL", "MAIL FROM refused"}, {"RCPT", "RCPT TO refused"},   {"DATA", "DATA refused"},
    {"AUTH", "AUTH refused"},      {"STARTTLS", "STARTTLS refused"}, {"EHLO", "EHLO refused"},
    {"HELO", "HELO refused"},
};

static void
smtpc_outcome(struct smtpc_xfer *x, CURLcode rc, const char *errbuf)
{
	struct smtpc_msg *m = x->m;
	const char *label = NULL;
	/* the reply text starts after "NNN " or "NNN-" */
	const char *text = strlen(x->last_reply) > 4 ? x->last_reply + 4 : "";

	if (rc == CURLE_OK) {
		m->result = SMTPC_SENT;
		str_fmt(m->reply, sizeof(m->reply), "%s", x->last_reply);
		return;
	}
	if (x->handoff_failed) {
		m->result = SMTPC_TEMPFAIL;
		str_fmt(m->reply, sizeof(m->reply), "hand-off could not be recorded");
		return;
	}
	if (x->handed_off && x->off == x->len && x->last_code / 100 == 5) {
		m->result = SMTPC_PERMFAIL;
		str_fmt(m->reply, sizeof(m->reply), "message refused: %s", text);
		return;
	}
	if (x->handed_off) {
		/* the dot may have reached the smarthost: never send it again */
		m->result = x->last_code / 100 == 4 ? SMTPC_TEMPFAIL : SMTPC_UNCERTAIN;
		str_fmt(m->reply, sizeof(m->reply), "%s: %s",
		         x->last_code / 100 == 4 ? "message refused" : "after the final dot",
		         x->last_code / 100 == 4 ? text : errbuf);
		return;
	}
	if (rc == CURLE_USE_SSL_FAILED) {
		m->result = SMTPC_TEMPFAIL;
		str_fmt(m->reply, sizeof(m->reply),
		         "the smarthost offers no STARTTLS and TLS is required (smarthost_tls, or "
		         "credentials that never travel unencrypted)");
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(smtpc_refusals); i++) {
		if (strcasecmp(x->last_cmd, smtpc_refusals[i].verb) == 0)
			label = smtpc_refusals[i].label;
	}
	if (label != NULL && (x->last_code / 100 == 4 || x->last_code / 100 == 5)) {
		/* a refused sender or recipient is final; a refused AUTH or EHLO is configuration */
		bool final = x->last_code / 100 == 5 && (strcmp(label, "MAIL FROM refused") == 0 ||
		                                        strcmp(label, "RCPT TO refused") == 0 ||
		                                        strcmp(label, "DATA refused") == 0);

		m->result = final ? SMTPC_PERMFAIL : SMTPC_TEMPFAIL;
		str_fmt(m->reply, sizeof(m->reply), "%s: %s", label, text);
		return;
	}
	m->result = SMTPC_TEMPFAIL;
	str_fmt(m->reply, sizeof(m->reply), "%s%s%s", curl_easy_strerror(rc), *errbuf ? ": " : "",
	         errbuf);
}

static void
smtpc_one(CURL *h, const struct smtpc_params *p, struct smtpc_msg *m, smtpc_handoff_fn handoff,
          void *arg)
{
	struct smtpc_xfer x = {.m = m, .len = strlen(m->data), .handoff = handoff, .arg = arg};
	char errbuf[CURL_ERROR_SIZE] = "", url[400], from[300], rcpt[300];
	struct curl_slist *rcpts = NULL;
	bool v6 = strchr(p->target.host, ':') != NULL;
	bool auth = p->user != NULL && p->user[0] != '\0';
	CURLcode rc;

	if (auth && p->tls == SMTPC_TLS_NONE && !p->target.smtps) {
		m->result = SMTPC_TEMPFAIL;
		str_fmt(m->reply, sizeof(m->reply),
		         "refused to send credentials unencrypted: smarthost_tls = none with "
		         "smarthost_user on smtp://");
		return;
	}
	/* the URL's path is the EHLO name; a cut address would go elsewhere: refuse */
	if (str_fmt(url, sizeof(url), "%s://%s%s%s:%d/%s", p->target.smtps ? "smtps" : "smtp",
	            v6 ? "[" : "", p->target.host, v6 ? "]" : "", p->target.port, p->helo) < 0 ||
	    str_fmt(from, sizeof(from), "<%s>", m->mail_from) < 0 ||
	    str_fmt(rcpt, sizeof(rcpt), "<%s>", m->rcpt_to) < 0) {
		m->result = SMTPC_PERMFAIL;
		str_fmt(m->reply, sizeof(m->reply), "address or EHLO name too long");
		return;
	}
	rcpts = curl_slist_append(NULL, rcpt);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, smtpc_read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &x);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x.len);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L); /* feeds the debug callback, which logs nothing */
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, smtpc_debug_cb);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, &x);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	/* with credentials TLS is required whatever smarthost_tls says */
	curl_easy_setopt(h, CURLOPT_USE_SSL,
	                 auth || p->tls == SMTPC_TLS_REQUIRED ? (long)CURLUSESSL_ALL
	                 : p->tls == SMTPC_TLS_STARTTLS      ? (long)CURLUSESSL_TRY
	                                                     : (long)CURLUSESSL_NONE);
	if (p->ca_file != NULL && p->ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_file);
	if (auth) {
		curl_easy_setopt(h, CURLOPT_USERNAME, p->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, p->password ? p->password : "");
	}
	rc = curl_easy_perform(h);
	smtpc_outcome(&x, rc, errbuf);
	curl_slist_free_all(rcpts);
}

void
smtpc_deliver(const struct smtpc_params *p, struct smtpc_msg *msgs, size_t n,
              smtpc_handoff_fn handoff, void *arg)
{
	CURL *h;

	pthread_once(&smtpc_once, smtpc_global_init);
	h = curl_easy_init();
	if (h == NULL) {
		for (size_t i = 0; i < n; i++) {
			msgs[i].result = SMTPC_TEMPFAIL;
			str_fmt(msgs[i].reply, sizeof(msgs[i].reply), "curl_easy_init failed");
		}
		return;
	}
	for (size_t i = 0; i < n; i++)
		smtpc_one(h, p, &msgs[i], handoff, arg);
	curl_easy_cleanup(h);
}
