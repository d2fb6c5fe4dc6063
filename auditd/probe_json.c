/*
 * Result -> JSON. Field names are part of the CLI's and the API's contract:
 * add fields, never rename them.
 */
#include "auditd/probe_json.h"
#include "common/util.h"
#include "probe-engine/token.h"

#include <stdlib.h>

static json_t *
json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
probe_json_reply(const struct smtp_reply_rec *r)
{
	if (r->code == 0)
		return json_null();
	return json_pack("{s:i, s:s, s:o}", "code", r->code, "enhanced", r->enhanced, "text",
			 json_str_or_null(r->text));
}

/*
 * Shortens every token in every string of o, in place. Tokens reach the
 * evidence in more places than the attempt's own fields: servers echo the
 * recipient in their replies ("554 5.7.1 <rt...@sink>: Relay access denied"),
 * and those replies are in the reason and the transcript too.
 */
static void
probe_json_redact(json_t *o)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_string(o)) {
		char *d = token_redact_dup(json_string_value(o));

		json_string_set(o, d);
		free(d);
	} else if (json_is_object(o)) {
		json_object_foreach(o, key, v)
			probe_json_redact(v);
	} else if (json_is_array(o)) {
		json_array_foreach(o, i, v)
			probe_json_redact(v);
	}
}

json_t *
probe_json_attempt(const struct probe_attempt *a, bool show_tokens)
{
	json_t *o = json_pack("{s:i, s:s, s:s, s:b, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:i, s:b}",
			 "index", (int)a->index, "sender", a->sender ? a->sender : "", "form",
			 a->form ? a->form : "", "backscatter", a->backscatter, "mail_from",
			 json_str_or_null(a->mail_from), "rcpt_to", json_str_or_null(a->rcpt_to),
			 "token", a->token, "mail", probe_json_reply(&a->mail), "rcpt",
			 probe_json_reply(&a->rcpt), "data", probe_json_reply(&a->data), "eod",
			 probe_json_reply(&a->eod), "stage", stage_name(a->stage), "outcome",
			 outcome_name(a->outcome), "tries", a->tries, "tls", a->tls);

	if (o != NULL && a->rcpts > 0)
		json_object_set_new(o, "rcpts", json_integer(a->rcpts));
	if (o != NULL && a->rcpt_last != NULL)
		json_object_set_new(o, "rcpt_last", json_string(a->rcpt_last));
	if (o != NULL && a->resend_of >= 0)
		json_object_set_new(o, "resend_of", json_integer(a->resend_of));
	/* the greeting its connections sent: our own name, or the target's (the trick's +helo-) */
	if (o != NULL && a->helo != NULL)
		json_object_set_new(o, "helo", json_string(a->helo));
	if (o != NULL && a->helo_reply.code != 0)
		json_object_set_new(o, "helo_reply", probe_json_reply(&a->helo_reply));
	if (o != NULL && !show_tokens)
		probe_json_redact(o);
	return o;
}

/* The TLS a target spoke: evidence only (we test relaying, not identity). */
static json_t *
probe_json_tls(const struct probe_tls *t)
{
	if (t == NULL)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "version", json_str_or_null(t->version),
			 "cipher", json_str_or_null(t->cipher), "subject",
			 json_str_or_null(t->subject), "issuer", json_str_or_null(t->issuer),
			 "not_after", json_str_or_null(t->not_after));
}

json_t *
probe_json_result(const struct probe_result *r, bool with_transcript, bool show_tokens)
{
	char ip[ADDR_STRLEN];
	json_t *attempts = json_array();
	json_t *o;

	addr_format(&r->addr, ip, sizeof(ip));
	for (size_t i = 0; i < r->nattempts; i++)
		json_array_append_new(attempts, probe_json_attempt(&r->attempts[i], true));
	o = json_pack("{s:s, s:i, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:I, s:I, "
		      "s:i, s:I}",
		      "ip", ip, "port", r->port, "verdict", verdict_name(r->verdict),
		      "backscatter", backscatter_name(r->backscatter), "trick",
		      json_str_or_null(r->trick), "stage", stage_name(r->stage), "reason",
		      json_str_or_null(r->reason), "error", json_str_or_null(r->error), "banner",
		      json_str_or_null(r->banner), "ehlo", json_str_or_null(r->ehlo), "host",
		      json_str_or_null(r->host), "pipelining", r->pipelining, "duration_ms",
		      (json_int_t)r->duration_ms, "started_ms", (json_int_t)r->started_ms,
		      "connections", r->connections, "probe_id", (json_int_t)r->probe_id);
	if (r->name)
		json_object_set_new(o, "name", json_string(r->name));
	json_object_set_new(o, "attempts", attempts);
	json_object_set_new(o, "starttls", json_boolean(r->starttls));
	json_object_set_new(o, "tls", probe_json_tls(r->tls));
	if (r->spoof_domains_dropped > 0)
		json_object_set_new(o, "spoof_domains_dropped",
				    json_integer((json_int_t)r->spoof_domains_dropped));
	/* Set when the sink's receipts confirmed the result (confirm.c). */
	if (r->verdict == VERDICT_RELAY_CONFIRMED) {
		json_object_set_new(o, "relay_delay_ms", json_integer(r->relay_delay_ms));
		json_object_set_new(o, "trick_alone", json_boolean(r->trick_alone));
	}
	if (r->backscatter == BACKSCATTER_CONFIRMED)
		json_object_set_new(o, "backscatter_delay_ms",
				    json_integer(r->backscatter_delay_ms));
	if (with_transcript) {
		json_object_set_new(o, "transcript", json_str_or_null(r->transcript));
		json_object_set_new(o, "transcript_truncated", json_boolean(r->transcript_truncated));
	}
	if (!show_tokens)
		probe_json_redact(o);
	return o;
}
