/*
 * Builds PostgreSQL array literals ("{1,2}", "{\"a\",NULL}") so a batch of
 * rows travels as a few array parameters of one statement and is unpacked
 * with unnest() on the server: one round trip per batch, still parameterised.
 */
#ifndef RELAYAUDIT_PGARRAY_H
#define RELAYAUDIT_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

struct pgarray {
	char *buf;
	size_t len, cap;
	size_t n; /* elements */
};

void pgarray_init(struct pgarray *a);
/* s == NULL adds a NULL element. */
void pgarray_add_text(struct pgarray *a, const char *s);
void pgarray_add_i64(struct pgarray *a, int64_t v);
void pgarray_add_f64(struct pgarray *a, double v);
void pgarray_add_null(struct pgarray *a);
/* The literal; valid until the next add or pgarray_free. */
const char *pgarray_str(struct pgarray *a);
void pgarray_free(struct pgarray *a);

/* Splits "1,2,3" (array_to_string output) into at most max integers; count or -1. */
int pgarray_parse_ints(const char *s, int64_t *out, size_t max);

#endif
