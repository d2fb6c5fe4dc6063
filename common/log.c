/*
 * key=value logging to stderr. Timestamps are UTC with milliseconds so lines
 * from several nodes sort together.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* atomic: the probe engine's, the sink's and the API's threads read it while a reload sets it */
static atomic_int current_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&current_level, (int)level, memory_order_relaxed);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&current_level, memory_order_relaxed);
}

int
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void
log_vevent(enum log_level level, const char *event, const char *fmt, va_list ap)
{
	char line[4096], ts[32];
	struct timeval tv;
	struct tm tm;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s event=%s ", ts,
		     (long)(tv.tv_usec / 1000), level_names[level], event);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One write per line so lines from threads do not interleave. */
	fprintf(stderr, "%s\n", line);
}

void
log_event(enum log_level level, const char *event, const char *fmt, ...)
{
	va_list ap;

	if ((int)level < atomic_load_explicit(&current_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	log_vevent(level, event, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vevent(LOG_ERROR, "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_censor(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t i, n = 0;

	if (dstlen == 0)
		return dst;
	for (i = 0; i < srclen && src[i] != '\0' && n + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[n++] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
	}
	dst[n] = '\0';
	return dst;
}
