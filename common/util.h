/*
 * Small helpers every layer uses: allocation that cannot fail quietly,
 * checked number parsing, bounded string building.
 */
#ifndef RELAYAUDIT_UTIL_H
#define RELAYAUDIT_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* asprintf that aborts on allocation failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whole-string decimal parse with range check; 0 on success. */
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* "90", "90s", "15m", "2h", "3d" -> seconds. */
int parse_duration(const char *s, int64_t *seconds);
int parse_bool(const char *s, bool *out);

/* snprintf into buf; -1 if it did not fit. */
int str_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * An object each thread makes for itself on first use (size bytes, zeroed)
 * and releases when it exits: release (NULL: none) runs on it before it is
 * freed. One static slot per kind of object, THREAD_SLOT_INIT(size, release).
 */
struct thread_slot {
	size_t size;
	void (*release)(void *obj);
	pthread_mutex_t mu;
	atomic_bool made; /* key made (or found impossible): ok says which */
	bool ok;
	pthread_key_t key;
};
#define THREAD_SLOT_INIT(sz, rel) {(sz), (rel), PTHREAD_MUTEX_INITIALIZER, false, false, 0}
/* This thread's object, or NULL when none can be made (the caller does without). */
void *thread_slot_get(struct thread_slot *s);

/* Monotonic and wall clocks in milliseconds. */
int64_t now_mono_ms(void);
int64_t now_wall_ms(void);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* 0 on success; in must be exactly 2*outlen hex digits (either case). */
int hex_decode(const char *in, uint8_t *out, size_t outlen);

/* Fill buf with bytes from the kernel's CSPRNG; fatal on failure. */
void random_bytes(void *buf, size_t len);

#endif
