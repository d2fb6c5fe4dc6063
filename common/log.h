/*
 * One line per event on stderr: "ts=... level=... event=... key=value ...".
 * Text that came from a peer goes through log_censor() before it is logged.
 */
#ifndef RELAYAUDIT_LOG_H
#define RELAYAUDIT_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
enum log_level log_get_level(void);

/* fmt holds the key=value pairs after the event name. */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) log_event(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) log_event(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(LOG_ERROR, ev, __VA_ARGS__)

/* Logs and exits 1: for start-up failures and broken invariants only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copies at most srclen bytes of peer text into dst (size dstlen, always
 * terminated), replacing non-printable bytes, quotes and backslashes with
 * '?' so a peer cannot forge log fields or lines. Returns dst.
 */
char *log_censor(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
