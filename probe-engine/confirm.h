/*
 * Correlation: turns sink receipts into verdicts. A result whose relay test
 * or backscatter test was accepted is held for the confirmation window; a
 * receipt carrying the token of an attempt that was really sent upgrades it
 * (relay_confirmed, backscatter confirmed), and a window that passes with
 * nothing turns accepted into accepted_not_relayed. No I/O beyond timers.
 */
#ifndef RELAYAUDIT_CONFIRM_H
#define RELAYAUDIT_CONFIRM_H

#include <stddef.h>
#include <stdint.h>

#include "probe-engine/probe.h"
#include "probe-engine/sink.h"

struct event_base;

/* What confirm_apply changed (bits). */
enum confirm_change {
	CONFIRM_RELAY = 1,       /* verdict became relay_confirmed */
	CONFIRM_BACKSCATTER = 2, /* backscatter became confirmed */
	CONFIRM_TRICK = 4,       /* the trick was named, or renamed to a form sent alone */
	CONFIRM_USED = 8,        /* a token was accepted: its attempt is relayed, the token used */
};

/*
 * Applies one receipt to one result, at any time (also against a stored
 * result). A token counts only when its attempt could have caused the
 * receipt: it names this probe, an attempt of it whose message the target
 * answered 2xx after DATA, with exactly that attempt's token, not used by an
 * earlier receipt, arriving inside the window (res->confirm_deadline_ms); a
 * relay attempt's token only from a delivered message (not a DSN), the
 * backscatter attempt's only from a bounce. Returns the CONFIRM_* bits
 * changed; *why (if not NULL) says why a token of this probe was refused:
 * the receipt is then an anomaly.
 */
int confirm_apply(struct probe_result *res, const struct sink_receipt *r, const char **why);

/*
 * Evidence, not a condition: does the probed address (text form, "192.0.2.7"
 * or "2001:db8::7") appear as a whole address in a Received: chain? A relay
 * may deliver through a smarthost, whose line then names only the smarthost.
 */
bool confirm_received_via(const char *chain, const char *address);

/* The end of the window: accepted -> accepted_not_relayed. Pure. */
void confirm_expire(struct probe_result *res);

/*
 * True while res still waits for a receipt: verdict or backscatter accepted,
 * or a relay confirmed only in company while a form re-sent alone may come.
 */
bool confirm_waiting(const struct probe_result *res);

struct confirm;

/* Called once per result handed to confirm_add; the callee owns res. */
typedef void (*confirm_done_fn)(struct probe_result *res, void *arg);

struct confirm *confirm_new(struct event_base *base, int64_t window_ms, confirm_done_fn done,
                            void *arg);
/*
 * Takes res. Results with nothing to wait for come back at once (from the
 * loop, never from inside this call); the rest when decided or when the
 * window ends.
 */
void confirm_add(struct confirm *c, struct probe_result *res);
/* Applies a receipt to every held result; returns how many changed. */
int confirm_receipt(struct confirm *c, const struct sink_receipt *r);
/* Results held or waiting to be handed back. */
size_t confirm_pending(const struct confirm *c);
/* Ends every window now (e.g. relayctl's --wait ran out); results come back from the loop. */
void confirm_expire_all(struct confirm *c);
/* Hands back everything still held (as expired), then frees. Not from inside done. */
void confirm_free(struct confirm *c);

#endif
