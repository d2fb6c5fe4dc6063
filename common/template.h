/*
 * Customer-facing texts as files: templates/<locale>/<name> from the
 * operator's override directory first, then the shipped directory, with
 * {{variable}} and {{>block}} substitution and wrapping at 72 columns.
 * The variable list is documented in docs (templates); an unknown variable is
 * an error, never a silent gap in a customer's mail.
 */
#ifndef RELAYAUDIT_TEMPLATE_H
#define RELAYAUDIT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#define TMPL_WIDTH 72     /* text is wrapped here after substitution */
#define TMPL_MAX_LINE 78  /* no rendered line is longer (long preformatted lines are folded) */
#define TMPL_MAX_FILE (64 * 1024)

struct tmpl_var {
	const char *name;
	const char *value; /* NULL renders as "" */
};

/* Where templates are read from: override (may be "" or NULL) before shipped. */
struct tmpl_dirs {
	const char *override;
	const char *shipped;
};

/* The shipped directory beside the binary (templates/ in a build tree, or
 * PREFIX/share/relayaudit/templates); new string or NULL. */
char *tmpl_shipped_dir(void);

/* The locale used for want ("de-AT" -> "de"); "en" when none of the dirs has it. */
void tmpl_locale(const struct tmpl_dirs *d, const char *want, char out[8]);

/* The text of locale/name (new string), or NULL with *why. */
char *tmpl_load(const struct tmpl_dirs *d, const char *locale, const char *name,
		const char **why);

/*
 * Substitutes {{name}} from vars and {{>block}} with locale/block.txt (itself
 * substituted; blocks nest at most 4 deep). NULL with *why on an unknown
 * variable or block.
 */
char *tmpl_expand(const struct tmpl_dirs *d, const char *locale, const char *text,
		  const struct tmpl_var *vars, size_t nvars, const char **why);

/*
 * Wraps text line by line: a line that starts with a space is preformatted
 * and kept whole up to TMPL_MAX_LINE (longer ones fold at a space before
 * TMPL_WIDTH, under the value for "  Label:  value" lines); "* " and
 * "- " items wrap with a hanging indent; every other line wraps at TMPL_WIDTH.
 * Widths count UTF-8 characters. New string.
 */
char *tmpl_wrap(const char *text);

/* Words files: "key = value" lines, # comments. */
struct tmpl_words {
	char **keys, **values;
	size_t n;
};

/* Reads locale/words.txt; 0, or -1 with *why (file:line for a bad line). */
int tmpl_words_load(const struct tmpl_dirs *d, const char *locale, struct tmpl_words *w,
		    const char **why);
/* The value of key; NULL when missing. */
const char *tmpl_word(const struct tmpl_words *w, const char *key);
void tmpl_words_free(struct tmpl_words *w);

/* Characters (UTF-8 code points) in s[0..n). */
size_t tmpl_width(const char *s, size_t n);

#endif
