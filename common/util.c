/*
 * Helpers shared by every layer. Nothing here knows about SMTP, SQL or HTTP.
 */
#include "common/util.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("reason=\"out of memory\" bytes=%zu", n);
	return p;
}

void *
xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (p == NULL)
		fatal("reason=\"out of memory\" bytes=%zu", count * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatal("reason=\"out of memory\" bytes=%zu", n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("reason=\"out of memory\"");
	va_end(ap);
	return s;
}

int
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_duration(const char *s, int64_t *seconds)
{
	char num[32];
	size_t len = strlen(s);
	int64_t mult = 1, v;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	switch (num[len - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: mult = 0; break;
	}
	if (mult != 0)
		num[len - 1] = '\0';
	else
		mult = 1;
	if (parse_i64(num, 0, INT64_MAX / 86400, &v) < 0)
		return -1;
	*seconds = v * mult;
	return 0;
}

int
parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 ||
	    strcasecmp(s, "on") == 0) {
		*out = true;
		return 0;
	}
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 ||
	    strcasecmp(s, "off") == 0) {
		*out = false;
		return 0;
	}
	return -1;
}

int
str_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (fmt[0] == '%' && fmt[1] == 's' && fmt[2] == '\0' && len > 0) {
		/* a plain copy, the most frequent use (reply records), without printf */
		const char *s = va_arg(ap, const char *);
		size_t sl = strlen(s), cut = sl < len ? sl : len - 1;

		va_end(ap);
		memcpy(buf, s, cut);
		buf[cut] = '\0';
		return sl < len ? 0 : -1;
	}
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

/* Put before the object, so that the key's destructor knows how to release it. */
struct thread_obj {
	void (*release)(void *obj);
	max_align_t data[];
};

static void
thread_obj_free(void *p)
{
	struct thread_obj *o = p;

	if (o->release != NULL)
		o->release(o->data);
	free(o);
}

void *
thread_slot_get(struct thread_slot *s)
{
	struct thread_obj *o;

	if (!atomic_load_explicit(&s->made, memory_order_acquire)) {
		pthread_mutex_lock(&s->mu);
		if (!atomic_load_explicit(&s->made, memory_order_relaxed)) {
			s->ok = pthread_key_create(&s->key, thread_obj_free) == 0;
			atomic_store_explicit(&s->made, true, memory_order_release);
		}
		pthread_mutex_unlock(&s->mu);
	}
	if (!s->ok)
		return NULL;
	if ((o = pthread_getspecific(s->key)) == NULL) {
		if ((o = calloc(1, sizeof(*o) + s->size)) == NULL)
			return NULL;
		o->release = s->release;
		if (pthread_setspecific(s->key, o) != 0) {
			free(o);
			return NULL;
		}
	}
	return o->data;
}

int64_t
now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *in, uint8_t *out, size_t outlen)
{
	for (size_t i = 0; i < outlen; i++) {
		int hi = hex_digit(in[2 * i]), lo;

		if (hi < 0)
			return -1;
		lo = hex_digit(in[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return in[2 * outlen] == '\0' ? 0 : -1;
}

void
random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("reason=\"getrandom failed\" errno=%d", errno);
		}
		p += n;
		len -= (size_t)n;
	}
}
