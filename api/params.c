/*
 * Checking what a client put in the path, the query string and body values
 * before any of it reaches a statement: addresses, ranges, ids, enumerations
 * and durations. Path and query problems are 400, body values 422.
 */
#include "api/handler.h"
#include "common/addr.h"
#include "common/mail_domain.h"
#include "common/log.h"
#include "common/util.h"
#include "probe-engine/probe.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static char verdict_choices[256];
static pthread_once_t verdict_choices_once = PTHREAD_ONCE_INIT;

/* The verdict names come from the engine's verdict table, once per process. */
static void
verdict_choices_build(void)
{
	size_t used = 0;

	for (int v = 0; v < VERDICT__COUNT; v++) {
		int n = snprintf(verdict_choices + used, sizeof(verdict_choices) - used, "%s%s",
		                 v ? "|" : "", verdict_name((enum probe_verdict)v));

		if (n < 0 || (size_t)n >= sizeof(verdict_choices) - used)
			fatal("verdict names longer than %zu bytes", sizeof(verdict_choices));
		used += (size_t)n;
	}
}

const char *
api_verdicts(void)
{
	pthread_once(&verdict_choices_once, verdict_choices_build);
	return verdict_choices;
}
const char API_CASE_STATES[] = "open|notified|blocked|escalated|resolved|closed";

static bool
api_is_choice(const char *choices, const char *s)
{
	size_t n = strlen(s);

	/* A trailing '|' allows the empty string. */
	for (const char *p = choices; p != NULL;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, s, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

/* Peer text shown back in an error message: bounded and printable. */
static const char *
api_shown(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len && i < 64; i++)
		buf[i] = isprint((unsigned char)s[i]) && s[i] != '"' && s[i] != '\\' ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static bool
api_addr_text(const char *s, char out[64])
{
	struct addr a;

	if (strlen(s) > 63 || addr_parse(s, &a) < 0)
		return false;
	addr_format(&a, out, 64);
	return true;
}

bool
api_param_addr(struct api_req *r, const char *s, char out[64])
{
	char shown[72];

	if (api_addr_text(s, out))
		return true;
	api_error(r, 400, "bad_address", "'%s' is not an IPv4 or IPv6 address",
		  api_shown(s, shown, sizeof(shown)));
	return false;
}

bool
api_param_cidr(struct api_req *r, const char *name, const char **out, char buf[64])
{
	const char *s = api_query(r, name), *why = NULL;
	struct cidr c;
	char shown[72];

	*out = NULL;
	if (s == NULL)
		return true;
	if (strlen(s) > 63 || cidr_parse(s, &c, &why) < 0) {
		api_error(r, 400, "bad_parameter", "%s: '%s' is not a CIDR range (%s)", name,
			  api_shown(s, shown, sizeof(shown)), why ? why : "too long");
		return false;
	}
	cidr_format(&c, buf, 64);
	*out = buf;
	return true;
}

bool
api_param_id(struct api_req *r, const char *s, const char *what)
{
	int64_t id;
	char shown[72];

	if (parse_i64(s, 1, INT64_MAX, &id) == 0)
		return true;
	api_error(r, 400, "bad_id", "%s id '%s' is not a positive whole number", what,
		  api_shown(s, shown, sizeof(shown)));
	return false;
}

bool
api_param_choice(struct api_req *r, const char *name, const char *choices, const char **out)
{
	const char *s = api_query(r, name);
	char shown[72];

	*out = s;
	if (s == NULL || api_is_choice(choices, s))
		return true;
	api_error(r, 400, "bad_parameter", "%s: '%s' is not one of %s", name,
		  api_shown(s, shown, sizeof(shown)), choices);
	return false;
}

bool
api_param_bool(struct api_req *r, const char *name, const char **out)
{
	const char *s = api_query(r, name);
	bool b;

	*out = NULL;
	if (s == NULL)
		return true;
	if (parse_bool(s, &b) < 0) {
		api_error(r, 400, "bad_parameter", "%s: want true or false", name);
		return false;
	}
	*out = b ? "true" : "false";
	return true;
}

bool
api_param_duration(struct api_req *r, const char *name, char out[24])
{
	const char *s = api_query(r, name);
	int64_t secs;

	out[0] = '\0';
	if (s == NULL)
		return true;
	if (parse_duration(s, &secs) < 0 || secs < 0 || secs > 100LL * 365 * 86400) {
		api_error(r, 400, "bad_parameter", "%s: want a duration such as 3600, 90m, 2h or 3d",
			  name);
		return false;
	}
	str_fmt(out, 24, "%lld", (long long)secs);
	return true;
}

bool
api_body_addr(struct api_req *r, json_t *doc, const char *field, char out[64])
{
	json_t *v = json_object_get(doc, field);
	char shown[72];

	if (api_addr_text(json_string_value(v), out))
		return true;
	api_error(r, 422, "invalid_value", "%s: '%s' is not an IPv4 or IPv6 address", field,
		  api_shown(json_string_value(v), shown, sizeof(shown)));
	return false;
}

bool
api_body_choice(struct api_req *r, json_t *doc, const char *field, const char *choices)
{
	json_t *v = json_object_get(doc, field);
	char shown[72];

	if (v == NULL || api_is_choice(choices, json_string_value(v)))
		return true;
	api_error(r, 422, "invalid_value", "%s: '%s' is not one of %s", field,
		  api_shown(json_string_value(v), shown, sizeof(shown)), choices);
	return false;
}

bool
api_body_domains(struct api_req *r, json_t *doc, const char *field)
{
	json_t *v = json_object_get(doc, field), *e, *norm;
	const char *kept[MAIL_DOMAINS_MAX];
	size_t i, nkept = 0;
	char shown[72];

	if (!json_is_array(v))
		return true;
	norm = json_array();
	json_array_foreach(v, i, e) {
		char d[MAIL_DOMAIN_MAX + 1];
		const char *why = NULL;
		int added;

		if (mail_domain_normal(json_string_value(e), d, &why) < 0) {
			api_error(r, 422, "invalid_value", "%s: '%s' is not a domain name (%s)", field,
				  api_shown(json_string_value(e), shown, sizeof(shown)), why);
			json_decref(norm);
			return false;
		}
		/* Each once, in the order given; the array keeps the strings alive. */
		json_array_append_new(norm, json_string(d));
		added = mail_domain_add(kept, &nkept, MAIL_DOMAINS_MAX,
					json_string_value(json_array_get(norm, json_array_size(norm) - 1)));
		if (added == 0)
			json_array_remove(norm, json_array_size(norm) - 1);
		else if (added < 0) {
			api_error(r, 422, "invalid_value", "%s: at most %d domains", field,
				  MAIL_DOMAINS_MAX);
			json_decref(norm);
			return false;
		}
	}
	json_object_set_new(doc, field, norm);
	return true;
}

/* As the customers.ext_id check: letters, digits and ._:@/- up to 128. */
static bool
api_is_ext_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && strchr("._:@/-", *s) == NULL)
			return false;
	}
	return true;
}

bool
api_param_ext_id(struct api_req *r, const char *s)
{
	char shown[72];

	if (s == NULL || api_is_ext_id(s))
		return true;
	api_error(r, 400, "bad_id", "'%s' is not a customer id (letters, digits and ._:@/-)",
		  api_shown(s, shown, sizeof(shown)));
	return false;
}
