/*
 * Reads a RCPT TO argument the way a lax MTA would: which relay trick it uses
 * (percent hack, source route, quotes, bang path, hidden @) and where a
 * permissive relay would finally deliver it.
 */
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "tests/sim/sim.h"

static bool
rcpt_is_us(const char *domain, const char *myname, const char *myliteral)
{
	return strcasecmp(domain, myname) == 0 || strcasecmp(domain, myliteral) == 0;
}

/* Strips one "@domain-of-ours" from the end of buf when the rest still routes somewhere. */
static bool
rcpt_strip_own_domain(char *buf, const char *myname, const char *myliteral)
{
	char *at = strrchr(buf, '@');

	if (at == NULL || !rcpt_is_us(at + 1, myname, myliteral))
		return false;
	*at = '\0';
	if (strpbrk(buf, "@%!") != NULL)
		return true;
	*at = '@';
	return false;
}

/* The final address goes into a RCPT TO sent to the sink: no spaces, brackets or controls. */
static void
rcpt_clean_final(char *final)
{
	/* printable ASCII only (isprint() of the C locale, without its table look-up per byte) */
	for (char *c = final; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || *c == '<' || *c == '>')
			*c = '_';
}

void
sim_rcpt_parse(const char *arg, const char *myname, const char *myliteral, struct sim_rcpt *out)
{
	char buf[SIM_ADDR_MAX];
	const char *p = arg, *end;
	bool bracketed = false, route = false, quoted = false, trimmed = false;
	size_t n = 0;

	/* not a memset of the whole record: its two buffers are 1 KB, set whenever kind is valid */
	out->kind = RCPT_KIND_INVALID;
	out->local[0] = out->final[0] = '\0';
	while (*p == ' ')
		p++;
	if (*p == '<') {
		bracketed = true;
		p++;
		end = strchr(p, '>');
		if (end == NULL)
			return;
	} else {
		end = p + strcspn(p, " ");
	}
	if (*p == '@') { /* source route "@hop,@hop:user@domain" */
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon == NULL)
			return;
		route = true;
		p = colon + 1;
	}
	for (; p < end && n + 1 < sizeof(buf); p++) {
		if (*p == '"') {
			quoted = true;
			continue;
		}
		buf[n++] = *p;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '@' || buf[n - 1] == '.')) {
		buf[--n] = '\0';
		trimmed = true;
	}
	if (n == 0)
		return;

	/* Classify the form as written, before undoing any trick. */
	char *at = strchr(buf, '@');
	bool one_at = at != NULL && strchr(at + 1, '@') == NULL;
	bool plain = bracketed && !route && !quoted && !trimmed && one_at && at != buf &&
	             strpbrk(buf, "%!") == NULL;
	bool percent = bracketed && !route && !quoted && !trimmed && one_at &&
	               rcpt_is_us(at + 1, myname, myliteral) &&
	               memchr(buf, '%', (size_t)(at - buf)) && strchr(buf, '!') == NULL;

	bool bare_user =
	    at == NULL && bracketed && !route && !quoted && !trimmed && strpbrk(buf, "%!") == NULL;

	if (bare_user) /* <postmaster>: one of ours */
		out->kind = RCPT_KIND_LOCAL;
	else if (plain)
		out->kind =
		    rcpt_is_us(at + 1, myname, myliteral) ? RCPT_KIND_LOCAL : RCPT_KIND_FOREIGN;
	else if (percent)
		out->kind = RCPT_KIND_PERCENT;
	else
		out->kind = RCPT_KIND_TRICK;

	/* Undo the tricks: strip our own domain while what is left still routes on. */
	for (int i = 0; i < 4 && rcpt_strip_own_domain(buf, myname, myliteral); i++)
		;
	if (strchr(buf, '@') == NULL) {
		char *pct = strrchr(buf, '%');
		char *bang = strchr(buf, '!');
		if (pct != NULL) {
			*pct = '@';
		} else if (bang != NULL) { /* "domain!user" -> "user@domain" */
			char tmp[SIM_ADDR_MAX];
			*bang = '\0';
			if (str_fmt(tmp, sizeof(tmp), "%s@%s", bang + 1, buf) != 0) {
				out->kind = RCPT_KIND_INVALID;
				return;
			}
			memcpy(buf, tmp, sizeof(buf));
		}
	}
	at = strrchr(buf, '@');
	if (at == NULL) { /* unqualified: one of ours */
		snprintf(out->local, sizeof(out->local), "%s", buf);
		if (str_fmt(out->final, sizeof(out->final), "%s@%s", buf, myname) != 0) {
			out->kind = RCPT_KIND_INVALID;
			return;
		}
		if (out->kind != RCPT_KIND_TRICK)
			out->kind = RCPT_KIND_LOCAL;
		rcpt_clean_final(out->final);
		return;
	}
	snprintf(out->local, sizeof(out->local), "%.*s", (int)(at - buf), buf);
	snprintf(out->final, sizeof(out->final), "%s", buf);
	rcpt_clean_final(out->final);
}
