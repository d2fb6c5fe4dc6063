/*
 * Template files for customers' mails and the re-test page (see template.h):
 * lookup in the override and shipped directories, substitution, wrapping,
 * and the per-locale words files.
 */
#include "common/template.h"
#include "common/paths.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reasons that name a file or a variable; one per thread, valid until the next call. */
static __thread char tmpl_why[512];

char *
tmpl_shipped_dir(void)
{
	static const char *const rels[] = {"templates", "share/relayaudit/templates", NULL};
	char *root = paths_exe_root();
	char *dir = paths_find_dir(root, rels);

	free(root);
	return dir;
}

/* A locale name is two lower-case letters: it becomes part of a path. */
static bool
tmpl_locale_ok(const char *s)
{
	return s != NULL && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z' &&
	       s[2] == '\0';
}

static bool
tmpl_has_dir(const char *base, const char *locale)
{
	struct stat st;
	char *p;
	bool ok;

	if (base == NULL || *base == '\0')
		return false;
	p = xasprintf("%s/%s", base, locale);
	ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return ok;
}

void
tmpl_locale(const struct tmpl_dirs *d, const char *want, char out[8])
{
	char two[3] = "";

	if (want != NULL && want[0] != '\0' && want[1] != '\0' &&
	    (want[2] == '\0' || want[2] == '-' || want[2] == '_')) {
		two[0] = (char)(want[0] | 0x20);
		two[1] = (char)(want[1] | 0x20);
		two[2] = '\0';
	}
	if (tmpl_locale_ok(two) && (tmpl_has_dir(d->override, two) || tmpl_has_dir(d->shipped, two)))
		str_fmt(out, 8, "%s", two);
	else
		str_fmt(out, 8, "en");
}

static char *
tmpl_read(const char *path, bool *missing, const char **why)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	*missing = false;
	if (f == NULL) {
		*missing = errno == ENOENT;
		str_fmt(tmpl_why, sizeof(tmpl_why), "%s: %s", path, strerror(errno));
		*why = tmpl_why;
		return NULL;
	}
	buf = xmalloc(TMPL_MAX_FILE + 1);
	n = fread(buf, 1, TMPL_MAX_FILE + 1, f);
	fclose(f);
	if (n > TMPL_MAX_FILE) {
		free(buf);
		str_fmt(tmpl_why, sizeof(tmpl_why), "%s: larger than %d bytes", path, TMPL_MAX_FILE);
		*why = tmpl_why;
		return NULL;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		free(buf);
		str_fmt(tmpl_why, sizeof(tmpl_why), "%s: holds a NUL byte", path);
		*why = tmpl_why;
		return NULL;
	}
	return buf;
}

char *
tmpl_load(const struct tmpl_dirs *d, const char *locale, const char *name, const char **why)
{
	const char *bases[2] = {d->override, d->shipped};
	bool missing = true;

	if (!tmpl_locale_ok(locale) || strchr(name, '/') != NULL || name[0] == '.') {
		*why = "bad template locale or name";
		return NULL;
	}
	for (int i = 0; i < 2; i++) {
		char *path, *text;

		if (bases[i] == NULL || *bases[i] == '\0')
			continue;
		path = xasprintf("%s/%s/%s", bases[i], locale, name);
		text = tmpl_read(path, &missing, why);
		free(path);
		if (text != NULL)
			return text;
		if (!missing)
			return NULL; /* there but unreadable: say so rather than fall back */
	}
	str_fmt(tmpl_why, sizeof(tmpl_why), "no template %s/%s in %s%s%s", locale, name,
		d->override && *d->override ? d->override : "",
		d->override && *d->override ? " or " : "", d->shipped ? d->shipped : "(no shipped dir)");
	*why = tmpl_why;
	return NULL;
}

static const char *
tmpl_lookup(const struct tmpl_var *vars, size_t nvars, const char *name, size_t len)
{
	for (size_t i = 0; i < nvars; i++) {
		if (strlen(vars[i].name) == len && strncmp(vars[i].name, name, len) == 0)
			return vars[i].value ? vars[i].value : "";
	}
	return NULL;
}

static int
tmpl_expand_into(FILE *out, const struct tmpl_dirs *d, const char *locale, const char *text,
		 const struct tmpl_var *vars, size_t nvars, int depth, const char **why)
{
	const char *p = text;

	while (*p) {
		const char *open = strstr(p, "{{"), *close;

		if (open == NULL) {
			fputs(p, out);
			break;
		}
		fwrite(p, 1, (size_t)(open - p), out);
		close = strstr(open + 2, "}}");
		if (close == NULL) {
			*why = "unterminated {{ in template";
			return -1;
		}
		if (open[2] == '>') {
			char name[64], *block;
			size_t len = (size_t)(close - open - 3);
			int rc;

			if (depth >= 4 || len == 0 || len + 5 > sizeof(name)) {
				*why = depth >= 4 ? "template blocks nest too deep" : "bad block name";
				return -1;
			}
			str_fmt(name, sizeof(name), "%.*s.txt", (int)len, open + 3);
			block = tmpl_load(d, locale, name, why);
			if (block == NULL)
				return -1;
			/* A block's own last line end belongs to the including line. */
			if (*block && block[strlen(block) - 1] == '\n')
				block[strlen(block) - 1] = '\0';
			rc = tmpl_expand_into(out, d, locale, block, vars, nvars, depth + 1, why);
			free(block);
			if (rc < 0)
				return -1;
		} else {
			const char *value = tmpl_lookup(vars, nvars, open + 2, (size_t)(close - open - 2));

			if (value == NULL) {
				str_fmt(tmpl_why, sizeof(tmpl_why), "unknown template variable {{%.*s}}",
					(int)(close - open - 2 > 40 ? 40 : close - open - 2), open + 2);
				*why = tmpl_why;
				return -1;
			}
			fputs(value, out);
		}
		p = close + 2;
	}
	return 0;
}

char *
tmpl_expand(const struct tmpl_dirs *d, const char *locale, const char *text,
	    const struct tmpl_var *vars, size_t nvars, const char **why)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL)
		return NULL;
	rc = tmpl_expand_into(f, d, locale, text, vars, nvars, 0, why);
	fclose(f);
	if (rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

size_t
tmpl_width(const char *s, size_t n)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			w++;
	}
	return w;
}

/* Bytes of s that make up at most w characters. */
static size_t
tmpl_bytes_for(const char *s, size_t n, size_t w)
{
	size_t i = 0, chars = 0;

	while (i < n) {
		size_t k = i + 1;

		while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80)
			k++;
		if (chars + 1 > w)
			break;
		chars++;
		i = k;
	}
	return i;
}

/* One logical line, wrapped at width with indent on continuation lines. */
static void
tmpl_wrap_line(FILE *out, const char *s, size_t n, size_t width, size_t indent)
{
	size_t col = 0;
	bool first_word = true;
	const char *p = s, *end = s + n;

	/* The item marker or the leading indent stays as it is. */
	while (p < end && *p == ' ') {
		fputc(' ', out);
		p++;
		col++;
	}
	while (p < end) {
		const char *w = p;
		size_t wb, ww;

		while (p < end && *p != ' ')
			p++;
		wb = (size_t)(p - w);
		ww = tmpl_width(w, wb);
		if (!first_word && col + 1 + ww > width) {
			fputc('\n', out);
			for (size_t i = 0; i < indent; i++)
				fputc(' ', out);
			col = indent;
		} else if (!first_word) {
			fputc(' ', out);
			col++;
		}
		/* A word longer than a line (a URL) gets a line of its own, whole. */
		fwrite(w, 1, wb, out);
		col += ww;
		first_word = false;
		while (p < end && *p == ' ')
			p++;
	}
	fputc('\n', out);
}

/*
 * A preformatted line: kept whole up to TMPL_MAX_LINE; a longer one is
 * folded at a space before TMPL_WIDTH (hard at TMPL_MAX_LINE when there is none). "  Label:   value" lines continue under the value, others
 * two columns deeper than they start.
 */
static void
tmpl_fold_line(FILE *out, const char *s, size_t n)
{
	size_t lead = strspn(s, " "), hang = lead + 2, first = 1;
	const char *colon = memchr(s, ':', n < 24 ? n : 24);

	/* A label is one word, in French with a space before its colon. */
	if (colon != NULL && colon[1] == ' ') {
		size_t label = (size_t)(colon - s - lead);

		if (label > 0 && s[lead + label - 1] == ' ')
			label--;
		if (label > 0 && memchr(s + lead, ' ', label) == NULL)
			hang = (size_t)(colon + 1 - s) + strspn(colon + 1, " ");
	}
	if (hang > 24)
		hang = lead + 2;
	/* A preformatted line that fits the hard limit stays whole. */
	if (tmpl_width(s, n) <= TMPL_MAX_LINE) {
		fwrite(s, 1, n, out);
		fputc('\n', out);
		return;
	}
	while (n > 0) {
		size_t room = first ? TMPL_WIDTH : TMPL_WIDTH - hang;
		size_t take = tmpl_bytes_for(s, n, room);

		if (take < n) {
			/* Back up to a space, but never into the line's own indent; with
			 * none, fold hard only past TMPL_MAX_LINE (a link stays whole if it can). */
			size_t k = take;

			while (k > 0 && s[k] != ' ')
				k--;
			if (k > (first ? lead : 0))
				take = k;
			else if (tmpl_width(s, n) <= TMPL_MAX_LINE - (first ? 0 : hang))
				take = n;
			else
				take = tmpl_bytes_for(s, n, first ? TMPL_MAX_LINE : TMPL_MAX_LINE - hang);
		}
		if (!first)
			for (size_t i = 0; i < hang; i++)
				fputc(' ', out);
		fwrite(s, 1, take, out);
		fputc('\n', out);
		s += take;
		n -= take;
		while (!first || n > 0) {
			if (n > 0 && *s == ' ') {
				s++;
				n--;
				continue;
			}
			break;
		}
		first = 0;
	}
}

char *
tmpl_wrap(const char *text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *p = text;

	if (f == NULL)
		return NULL;
	while (*p) {
		size_t n = strcspn(p, "\n");

		if (n == 0)
			fputc('\n', f);
		else if (p[0] == ' ')
			tmpl_fold_line(f, p, n);
		else if (n >= 2 && (p[0] == '*' || p[0] == '-') && p[1] == ' ')
			tmpl_wrap_line(f, p, n, TMPL_WIDTH, 2);
		else
			tmpl_wrap_line(f, p, n, TMPL_WIDTH, 0);
		p += n;
		if (*p == '\n')
			p++;
	}
	fclose(f);
	return buf;
}

static char *
tmpl_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
tmpl_words_parse(struct tmpl_words *w, char *text, const char *where, const char **why)
{
	int lineno = 0;

	for (char *line = text; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n'), *eq, *key, *value;

		if (nl != NULL)
			*nl = '\0';
		lineno++;
		key = tmpl_trim(line);
		line = nl != NULL ? nl + 1 : NULL;
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			str_fmt(tmpl_why, sizeof(tmpl_why), "%s:%d: want key = value", where, lineno);
			*why = tmpl_why;
			return -1;
		}
		*eq = '\0';
		value = tmpl_trim(eq + 1);
		key = tmpl_trim(key);
		w->keys = xrealloc(w->keys, (w->n + 1) * sizeof(*w->keys));
		w->values = xrealloc(w->values, (w->n + 1) * sizeof(*w->values));
		w->keys[w->n] = xstrdup(key);
		w->values[w->n] = xstrdup(value);
		w->n++;
	}
	return 0;
}

/*
 * The shipped words, then the override's: an operator's words.txt needs to
 * hold only the keys it changes.
 */
int
tmpl_words_load(const struct tmpl_dirs *d, const char *locale, struct tmpl_words *w,
		const char **why)
{
	const char *bases[2] = {d->shipped, d->override};
	int found = 0;

	memset(w, 0, sizeof(*w));
	for (int i = 0; i < 2; i++) {
		bool missing;
		char *path, *text;
		int rc;

		if (bases[i] == NULL || *bases[i] == '\0' || !tmpl_locale_ok(locale))
			continue;
		path = xasprintf("%s/%s/words.txt", bases[i], locale);
		text = tmpl_read(path, &missing, why);
		if (text == NULL && missing) {
			free(path);
			continue;
		}
		rc = text != NULL ? tmpl_words_parse(w, text, path, why) : -1;
		free(text);
		free(path);
		if (rc < 0) {
			tmpl_words_free(w);
			return -1;
		}
		found++;
	}
	if (found == 0) {
		str_fmt(tmpl_why, sizeof(tmpl_why), "no words.txt for locale %s", locale);
		*why = tmpl_why;
		return -1;
	}
	return 0;
}

const char *
tmpl_word(const struct tmpl_words *w, const char *key)
{
	/* Later lines win, so an override file may repeat a key. */
	for (size_t i = w->n; i > 0; i--) {
		if (strcmp(w->keys[i - 1], key) == 0)
			return w->values[i - 1];
	}
	return NULL;
}

void
tmpl_words_free(struct tmpl_words *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->keys[i]);
		free(w->values[i]);
	}
	free(w->keys);
	free(w->values);
	memset(w, 0, sizeof(*w));
}
