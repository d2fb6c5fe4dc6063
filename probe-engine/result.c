/*
 * The names of verdicts, backscatter results, stages and outcomes (one table
 * each, shared by logs, JSON and the database), parameter defaults, and
 * freeing a result.
 */
#include "common/util.h"
#include "probe-engine/probe.h"

#include <stdlib.h>
#include <string.h>

/*
 * THE verdict table: name (logs, JSON, the database's verdict enum), rank (the
 * most significant verdict of a target's ports stands for the target; higher
 * wins) and class (what the workflow makes of it). migrations/005_verdict_class.sql
 * mirrors the class column for SQL; test_scheduler checks the two agree.
 */
static const struct {
	const char *name;
	int rank;
	enum verdict_class class;
} verdicts[VERDICT__COUNT] = {
	[VERDICT_NO_SMTP] = {"no_smtp", 0, VERDICT_CLEAN},
	[VERDICT_REJECTED_BANNER] = {"rejected_banner", 1, VERDICT_CLEAN},
	[VERDICT_CLOSED] = {"closed", 2, VERDICT_CLEAN},
	[VERDICT_ERROR] = {"error", 3, VERDICT_INCONCLUSIVE},
	[VERDICT_TEMPFAIL] = {"tempfail", 4, VERDICT_INCONCLUSIVE},
	[VERDICT_ACCEPTED_NOT_RELAYED] = {"accepted_not_relayed", 5, VERDICT_FINDING},
	/* Still waiting for the sink: nothing to act on yet, but it outranks a
	 * window that closed empty because it may still become a relay. */
	[VERDICT_ACCEPTED] = {"accepted", 6, VERDICT_INCONCLUSIVE},
	[VERDICT_RELAY_CONFIRMED] = {"relay_confirmed", 7, VERDICT_FINDING},
};

static const char *const class_names[] = {
	[VERDICT_CLEAN] = "clean",
	[VERDICT_INCONCLUSIVE] = "inconclusive",
	[VERDICT_FINDING] = "finding",
};

static const char *const backscatter_names[BACKSCATTER__COUNT] = {
	[BACKSCATTER_UNTESTED] = "untested",
	[BACKSCATTER_REFUSED] = "refused",
	[BACKSCATTER_ACCEPTED] = "accepted",
	[BACKSCATTER_CONFIRMED] = "confirmed",
};

static const char *const stage_names[STAGE__COUNT] = {
	[STAGE_NONE] = "none",
	[STAGE_CONNECT] = "connect",
	[STAGE_BANNER] = "banner",
	[STAGE_EHLO] = "ehlo",
	[STAGE_MAIL] = "mail",
	[STAGE_RCPT] = "rcpt",
	[STAGE_DATA] = "data",
	[STAGE_EOD] = "eod",
	[STAGE_SINK] = "sink",
	[STAGE_TLS] = "tls",
};

static const char *const outcome_names[OUTCOME__COUNT] = {
	[OUTCOME_NOT_RUN] = "not_run",
	[OUTCOME_REFUSED] = "refused",
	[OUTCOME_DEFERRED_REFUSAL] = "deferred_refusal",
	[OUTCOME_TEMPFAIL] = "tempfail",
	[OUTCOME_ACCEPTED] = "accepted",
	[OUTCOME_RELAYED] = "relayed",
	[OUTCOME_AUTH_REQUIRED] = "auth_required",
	[OUTCOME_ERROR] = "error",
	[OUTCOME_SKIPPED] = "skipped",
};

static const char *const helo_names[PROBE_HELO__COUNT] = {
	[PROBE_HELO_OURS] = "",
	[PROBE_HELO_HOST] = "host",
	[PROBE_HELO_LITERAL] = "literal",
	[PROBE_HELO_LOCALHOST] = "localhost",
};

static int
name_parse(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i], s) == 0)
			return i;
	}
	return -1;
}

const char *
verdict_name(enum probe_verdict v)
{
	return (unsigned)v < VERDICT__COUNT ? verdicts[v].name : "?";
}

int
verdict_parse(const char *s, enum probe_verdict *out)
{
	for (int i = 0; s != NULL && i < VERDICT__COUNT; i++) {
		if (strcmp(verdicts[i].name, s) == 0) {
			*out = (enum probe_verdict)i;
			return 0;
		}
	}
	return -1;
}

int
verdict_rank(enum probe_verdict v)
{
	return (unsigned)v < VERDICT__COUNT ? verdicts[v].rank : -1;
}

enum verdict_class
verdict_class(enum probe_verdict v)
{
	return (unsigned)v < VERDICT__COUNT ? verdicts[v].class : VERDICT_INCONCLUSIVE;
}

const char *
verdict_class_name(enum verdict_class c)
{
	return (unsigned)c < ARRAY_LEN(class_names) ? class_names[c] : "?";
}

int
verdict_worst(const enum probe_verdict *v, size_t n, enum probe_verdict *out)
{
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		if (verdict_rank(v[i]) > best) {
			best = verdict_rank(v[i]);
			*out = v[i];
		}
	}
	return best < 0 ? -1 : 0;
}

const char *
backscatter_name(enum backscatter_result b)
{
	return (unsigned)b < BACKSCATTER__COUNT ? backscatter_names[b] : "?";
}

int
backscatter_parse(const char *s, enum backscatter_result *out)
{
	int i = name_parse(backscatter_names, BACKSCATTER__COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum backscatter_result)i;
	return 0;
}

const char *
stage_name(enum probe_stage s)
{
	return (unsigned)s < STAGE__COUNT ? stage_names[s] : "?";
}

const char *
outcome_name(enum attempt_outcome o)
{
	return (unsigned)o < OUTCOME__COUNT ? outcome_names[o] : "?";
}

const char *
probe_helo_name(enum probe_helo h)
{
	return (unsigned)h < PROBE_HELO__COUNT ? helo_names[h] : "?";
}

void
probe_params_defaults(struct probe_params *p)
{
	static const int default_ports[] = {25, 465, 587};
	static const int tls_ports[] = {465};

	memset(p, 0, sizeof(*p));
	p->helo_name = "relayaudit.invalid";
	p->sink_domain = "sink.relayaudit.test";
	p->outside_domain = "relayaudit-outside.invalid";
	p->contact = "abuse@sink.relayaudit.test";
	p->ports = default_ports;
	p->nports = ARRAY_LEN(default_ports);
	p->tls_ports = tls_ports;
	p->ntls_ports = ARRAY_LEN(tls_ports);
	p->concurrency = 1000;
	p->rate = 200;
	p->per_net = 4;
	p->timeout_ms = 30 * 1000;
	p->deadline_ms = 10 * 60 * 1000;
	p->greylist_wait_ms = 5 * 60 * 1000;
	p->fd_reserve = 64;
	p->test_backscatter = true;
	p->max_transcript = 8192;
	/* The test suite and demos set this so no slip can reach a real network. */
	const char *env = getenv("RELAYAUDIT_LOOPBACK_ONLY");
	p->loopback_only = env != NULL && strcmp(env, "1") == 0;
}

static void
reply_rec_free(struct smtp_reply_rec *r)
{
	free(r->text);
	r->text = NULL;
}

/*
 * A probe's strings, in chunks that double up to 2 KB: one allocation per
 * chunk instead of one per string (a closed target holds some 230 of them
 * while its dialogue runs), and the recent few looked up before a copy.
 */
#define STRINGS_RECENT 8
#define STRINGS_CHUNK_MIN 128
#define STRINGS_CHUNK_MAX 2048

struct strings_chunk {
	struct strings_chunk *next;
	size_t used, cap;
	char data[];
};

struct probe_strings {
	struct strings_chunk *chunks;
	const char *recent[STRINGS_RECENT];
	unsigned next_recent;
};

char *
probe_strings_dup(struct probe_strings **arena, const char *s)
{
	struct probe_strings *a = *arena;
	struct strings_chunk *c;
	size_t len = strlen(s) + 1;
	char *out;

	if (a == NULL)
		a = *arena = xcalloc(1, sizeof(*a));
	for (unsigned i = 0; i < STRINGS_RECENT; i++) {
		if (a->recent[i] != NULL && strcmp(a->recent[i], s) == 0)
			return (char *)a->recent[i];
	}
	c = a->chunks;
	if (c == NULL || c->cap - c->used < len) {
		size_t cap = c ? c->cap * 2 : STRINGS_CHUNK_MIN;

		if (cap > STRINGS_CHUNK_MAX)
			cap = STRINGS_CHUNK_MAX;
		if (cap < len)
			cap = len;
		c = xmalloc(sizeof(*c) + cap);
		c->next = a->chunks;
		c->used = 0;
		c->cap = cap;
		a->chunks = c;
	}
	out = c->data + c->used;
	memcpy(out, s, len);
	c->used += len;
	a->recent[a->next_recent++ % STRINGS_RECENT] = out;
	return out;
}

void
probe_strings_free(struct probe_strings *a)
{
	if (a == NULL)
		return;
	while (a->chunks) {
		struct strings_chunk *c = a->chunks;

		a->chunks = c->next;
		free(c);
	}
	free(a);
}

void
probe_result_free(struct probe_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; r->strings == NULL && i < r->nattempts; i++) {
		struct probe_attempt *a = &r->attempts[i];

		free(a->mail_from);
		free(a->rcpt_to);
		free(a->rcpt_last);
		reply_rec_free(&a->mail);
		reply_rec_free(&a->rcpt);
		reply_rec_free(&a->data);
		reply_rec_free(&a->eod);
		reply_rec_free(&a->helo_reply);
	}
	probe_strings_free(r->strings);
	for (size_t i = 0; i < PROBE_HELO__COUNT; i++)
		free(r->helo_names[i]);
	free(r->attempts);
	free(r->name);
	free(r->trick);
	free(r->banner);
	free(r->ehlo);
	free(r->transcript);
	free(r->error);
	free(r->reason);
	free(r->host);
	if (r->tls) {
		free(r->tls->version);
		free(r->tls->cipher);
		free(r->tls->subject);
		free(r->tls->issuer);
		free(r->tls->not_after);
		free(r->tls);
	}
	free(r);
}

char *
probe_attempt_trick(const struct probe_attempt *a)
{
	bool greeted = a->helo_kind != PROBE_HELO_OURS;

	return xasprintf("%s/%s%s%s%s", a->sender ? a->sender : "?", a->form ? a->form : "?",
			 greeted ? "+helo-" : "", greeted ? probe_helo_name(a->helo_kind) : "",
			 a->tls ? "+tls" : "");
}
