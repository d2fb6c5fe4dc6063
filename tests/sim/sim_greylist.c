/*
 * Greylisting memory: when each (listener, client, sender, recipient) triplet
 * was first seen. A fixed-size open-addressed table, so a flood of distinct
 * triplets costs no memory, only forgotten entries.
 */
#include <stdlib.h>

#include "common/util.h"
#include "tests/sim/sim.h"

#define GREY_SLOTS (1u << 16)
#define GREY_PROBES 8

struct grey_slot {
	uint64_t key; /* 0 = empty */
	int64_t first_ms;
};

struct sim_greylist {
	int64_t delay_ms;
	struct grey_slot *slots;
};

struct sim_greylist *
sim_greylist_new(int delay_secs)
{
	struct sim_greylist *g = xcalloc(1, sizeof(*g));

	g->delay_ms = (int64_t)delay_secs * 1000;
	g->slots = xcalloc(GREY_SLOTS, sizeof(*g->slots));
	return g;
}

void
sim_greylist_free(struct sim_greylist *g)
{
	if (g == NULL)
		return;
	free(g->slots);
	free(g);
}

/* FNV-1a; collisions only merge two triplets' timers, harmless in a simulator. */
static uint64_t
grey_hash(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ull;
	}
	return h ? h : 1;
}

bool
sim_greylist_pass(struct sim_greylist *g, const char *key, size_t keylen, int64_t now_ms)
{
	uint64_t h = grey_hash(key, keylen);
	struct grey_slot *victim = NULL;

	for (unsigned i = 0; i < GREY_PROBES; i++) {
		struct grey_slot *s = &g->slots[(h + i) & (GREY_SLOTS - 1)];
		if (s->key == h)
			return now_ms - s->first_ms >= g->delay_ms;
		if (s->key == 0 && victim == NULL)
			victim = s;
	}
	if (victim == NULL) /* full neighbourhood: forget the first slot's triplet */
		victim = &g->slots[h & (GREY_SLOTS - 1)];
	victim->key = h;
	victim->first_ms = now_ms;
	return false;
}
