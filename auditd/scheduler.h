/*
 * The scheduler: claims due targets under a lease (batches, highest
 * priority first), hands each port to a prober, gathers the per-port rows,
 * and passes each finished target to persist with its next probe time. It
 * claims again when there is room, when poll_interval passes, and at once
 * on NOTIFY relayaudit_due. It also beats the node heartbeat and runs the
 * periodic jobs: accepted probes past their confirmation deadline, and
 * pruning probes past retention.
 */
#ifndef RELAYAUDIT_SCHEDULER_H
#define RELAYAUDIT_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/probes.h"
#include "db/targets.h"

struct event_base;
struct scheduler;
struct sched_item;

struct sched_params {
	const char *node;
	const char *roles;        /* for the nodes table */
	int batch;                /* targets per claim */
	int max_in_flight;        /* targets probed at once */
	int64_t lease_s, poll_s;
	int64_t probe_interval_s, no_smtp_interval_s, greylist_wait_s;
	int jitter_pct;
	int64_t retention_s;
	size_t result_buffer;
};

/*
 * Starts probing port index port of the claimed target; the prober calls
 * scheduler_port_done for it exactly once, later (never from inside submit).
 * Returns -1 with *why when the port cannot be probed (excluded): it is
 * skipped and no done call follows.
 */
typedef int (*sched_submit_fn)(void *arg, struct sched_item *it, const struct claimed_target *t,
			       size_t port, const char **why);
/* The scheduler became idle after scheduler_drain. */
typedef void (*sched_idle_fn)(void *arg);

struct scheduler *scheduler_new(struct event_base *base, const char *conninfo,
				const struct sched_params *p, sched_submit_fn submit,
				void *submit_arg);
/* Applies reloaded intervals and limits (strings in p are copied). */
void scheduler_set_params(struct scheduler *s, const struct sched_params *p);
/* The result of one port; row's contents move into the scheduler. */
void scheduler_port_done(struct scheduler *s, struct sched_item *it, size_t port,
			 struct probe_row *row);
/* Stops claiming; idle fires once nothing is in flight. */
void scheduler_drain(struct scheduler *s, sched_idle_fn idle, void *arg);
bool scheduler_busy(const struct scheduler *s);
/*
 * Gives back the leases of targets still in flight (due again at once);
 * results that still arrive for them are written, but the target rows are
 * left to whoever claims them next.
 */
void scheduler_release_unfinished(struct scheduler *s);
/* Writes what is buffered (up to grace_ms) and frees. The prober must be gone. */
void scheduler_free(struct scheduler *s, int grace_ms);

struct sched_stats {
	uint64_t claims, claimed, finished, written;
	size_t in_flight, buffered;
};
void scheduler_stats(const struct scheduler *s, struct sched_stats *out);

/* Next probe in seconds after a target's ports ended with these verdicts (pure; unit-tested). */
int64_t scheduler_next_interval(const struct sched_params *p, const enum probe_verdict *verdicts,
				size_t n, int64_t target_interval_s, double unit_random);
/* The backscatter result that stands for the target (verdict_worst does verdicts). */
enum backscatter_result scheduler_worst_backscatter(const enum backscatter_result *b, size_t n);

#endif
