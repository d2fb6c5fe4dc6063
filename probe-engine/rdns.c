/*
 * PTR lookups with libevent's evdns: the in-addr.arpa / ip6.arpa question is
 * evdns's, the answer is checked here before the probe uses it as a name.
 */
#include "probe-engine/rdns.h"
#include "common/util.h"
#include "probe-engine/domains.h"

#include <event2/dns.h>
#include <stdlib.h>
#include <string.h>

struct rdns_req {
	rdns_fn fn;
	void *arg;
};

static void
rdns_answered(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct rdns_req *q = arg;
	const char *name = NULL;
	char normal[MAIL_DOMAIN_MAX + 1];
	const char *why;

	/* evdns hands PTR answers as an array of names; the first is the one */
	if (result == DNS_ERR_NONE && type == DNS_PTR && count > 0 && addresses != NULL) {
		const char *n = ((const char *const *)addresses)[0];

		if (n != NULL && mail_domain_normal(n, normal, &why) == 0)
			name = normal;
	}
	q->fn(name, q->arg);
	free(q);
}

int
rdns_lookup(struct evdns_base *dns, const struct addr *a, rdns_fn fn, void *arg)
{
	struct rdns_req *q = xcalloc(1, sizeof(*q));
	struct evdns_request *req;

	q->fn = fn;
	q->arg = arg;
	if (a->family == AF_INET) {
		struct in_addr in;

		memcpy(&in, a->bytes, 4);
		req = evdns_base_resolve_reverse(dns, &in, DNS_QUERY_NO_SEARCH, rdns_answered, q);
	} else {
		struct in6_addr in6;

		memcpy(&in6, a->bytes, 16);
		req = evdns_base_resolve_reverse_ipv6(dns, &in6, DNS_QUERY_NO_SEARCH, rdns_answered,
		                                      q);
	}
	if (req == NULL) {
		free(q);
		return -1;
	}
	return 0;
}
