/*
 * A target's reverse DNS name, asked of the caller's own evdns resolver
 * (never the system resolver, never blocking): used as H when the greeting
 * and the EHLO reply name no host, so the spoof-domain senders and the
 * greeting as the target have a name to work with.
 */
#ifndef RELAYAUDIT_RDNS_H
#define RELAYAUDIT_RDNS_H

#include "common/addr.h"

struct evdns_base;

/*
 * Called once, from the event loop: name is the PTR answer when it is a
 * valid host name (borrowed for the call), else NULL (no answer, timeout,
 * an answer that is no name).
 */
typedef void (*rdns_fn)(const char *name, void *arg);

/*
 * Starts the lookup; its timeout is the evdns base's own ("timeout:" and
 * "attempts:" options, set by whoever made it). 0, or -1 when it could not
 * start (fn is then never called).
 */
int rdns_lookup(struct evdns_base *dns, const struct addr *a, rdns_fn fn, void *arg);

#endif
