/*
 * Writes finished targets to PostgreSQL in batches from its own database
 * thread, so neither the loop nor the claims wait on result writes. While
 * the database is away the results stay in memory (the scheduler stops
 * claiming once result_buffer targets are held) and are written when it is
 * back; a batch is idempotent, so a retry after a lost connection is safe.
 */
#ifndef RELAYAUDIT_PERSIST_H
#define RELAYAUDIT_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/probes.h"

struct event_base;
struct persist;

/*
 * Called on the loop after each batch is over (written, or dropped after an
 * SQL error): its target updates, so the scheduler can forget them and claim
 * again.
 */
typedef void (*persist_written_fn)(void *arg, const struct target_done *t, size_t n);

struct persist *persist_new(struct event_base *base, const char *conninfo, const char *node,
			    size_t max_buffer, persist_written_fn written, void *arg);
/*
 * Takes the target update (NULL: rows only, the lease is no longer ours) and
 * the n rows (their contents move; the array stays the caller's).
 */
void persist_add(struct persist *p, const struct target_done *t, struct probe_row *rows, size_t n);
/* Targets held in memory, written or not yet acknowledged. */
size_t persist_buffered(const struct persist *p);
bool persist_full(const struct persist *p);
uint64_t persist_written_total(const struct persist *p);
/* Writes what is left (giving up on the database after grace_ms) and frees. */
void persist_free(struct persist *p, int grace_ms);

#endif
