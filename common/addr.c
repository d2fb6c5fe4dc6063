/*
 * Address and CIDR handling shared by the engine (exclusions, per-network
 * limits), the importer, the API and the config checks. Every parse goes
 * through one normaliser, and one table says which ranges are never targets.
 */
#include "common/addr.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
addr_len(const struct addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/*
 * ::ffff:a.b.c.d is the IPv4 host a.b.c.d: one host must be one target and
 * one key for exclusions, so the mapped form never survives a parse.
 */
void
addr_normalise(struct addr *a)
{
	if (a->family != AF_INET6 || memcmp(a->bytes, v4mapped, sizeof(v4mapped)) != 0)
		return;
	memmove(a->bytes, a->bytes + 12, 4);
	memset(a->bytes + 4, 0, 12);
	a->family = AF_INET;
}

void
cidr_normalise(struct cidr *c)
{
	if (c->base.family != AF_INET6 || c->prefix < 96 ||
	    memcmp(c->base.bytes, v4mapped, sizeof(v4mapped)) != 0)
		return;
	addr_normalise(&c->base);
	c->prefix -= 96;
}

static int
addr_parse_raw(const char *s, struct addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

int
addr_parse(const char *s, struct addr *out)
{
	if (addr_parse_raw(s, out) < 0)
		return -1;
	addr_normalise(out);
	return 0;
}

int
cidr_parse(const char *s, struct cidr *out, const char **why)
{
	char buf[ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	int64_t prefix;
	int maxbits;

	if (len >= sizeof(buf)) {
		*why = "address too long";
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (addr_parse_raw(buf, &out->base) < 0) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	maxbits = out->base.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		out->prefix = maxbits;
		cidr_normalise(out);
		return 0;
	}
	if (parse_i64(slash + 1, 0, maxbits, &prefix) < 0) {
		*why = "prefix length out of range";
		return -1;
	}
	out->prefix = (int)prefix;
	for (int bit = out->prefix; bit < maxbits; bit++) {
		if (out->base.bytes[bit / 8] & (0x80 >> (bit % 8))) {
			*why = "host bits set after the prefix";
			return -1;
		}
	}
	cidr_normalise(out);
	return 0;
}

int
addr_port_parse(const char *s, int default_port, struct addr *addr, int *port)
{
	char host[ADDR_STRLEN];
	const char *p = NULL;
	size_t len;
	int64_t v;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL)
			return -1;
		len = (size_t)(end - s - 1);
		if (len >= sizeof(host))
			return -1;
		memcpy(host, s + 1, len);
		host[len] = '\0';
		if (end[1] == ':')
			p = end + 2;
		else if (end[1] != '\0')
			return -1;
	} else {
		const char *colon = strchr(s, ':');

		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			len = (size_t)(colon - s);
			p = colon + 1;
		} else {
			len = strlen(s); /* bare IPv6 or IPv4 without port */
		}
		if (len >= sizeof(host))
			return -1;
		memcpy(host, s, len);
		host[len] = '\0';
	}
	if (addr_parse(host, addr) < 0)
		return -1;
	if (p == NULL) {
		*port = default_port;
		return default_port > 0 ? 0 : -1;
	}
	if (parse_i64(p, 1, 65535, &v) < 0)
		return -1;
	*port = (int)v;
	return 0;
}

void
addr_format(const struct addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, a->bytes, buf, (socklen_t)len) == NULL && len > 0)
		buf[0] = '\0';
}

void
cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char a[ADDR_STRLEN];

	addr_format(&c->base, a, sizeof(a));
	snprintf(buf, len, "%s/%d", a, c->prefix);
}

void
addr_literal(const struct addr *a, char *buf, size_t len)
{
	char s[ADDR_STRLEN];

	addr_format(a, s, sizeof(s));
	snprintf(buf, len, a->family == AF_INET ? "[%s]" : "[IPv6:%s]", s);
}

bool
cidr_contains(const struct cidr *c, const struct addr *a)
{
	int full, rest;

	if (a->family != c->base.family)
		return false;
	full = c->prefix / 8;
	rest = c->prefix % 8;
	if (memcmp(a->bytes, c->base.bytes, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->bytes[full] ^ c->base.bytes[full]) & (0xff00 >> rest)) == 0;
}

bool
addr_equal(const struct addr *a, const struct addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, addr_len(a)) == 0;
}

uint64_t
cidr_size(const struct cidr *c)
{
	int hostbits = (c->base.family == AF_INET ? 32 : 128) - c->prefix;

	return hostbits >= 64 ? UINT64_MAX : (uint64_t)1 << hostbits;
}

void
cidr_nth(const struct cidr *c, uint64_t i, struct addr *out)
{
	size_t len = addr_len(&c->base);
	int carry = 0;

	*out = c->base;
	/* Add i to the low bytes, big-endian. */
	for (size_t k = len; k-- > 0;) {
		unsigned sum = out->bytes[k] + (unsigned)(i & 0xff) + (unsigned)carry;

		out->bytes[k] = (uint8_t)sum;
		carry = sum >> 8;
		i >>= 8;
		if (i == 0 && carry == 0)
			break;
	}
}

uint64_t
addr_net_key(const struct addr *a)
{
	uint64_t k = 0;

	if (a->family == AF_INET)
		return (uint64_t)1 << 63 | (uint64_t)a->bytes[0] << 16 | (uint64_t)a->bytes[1] << 8 |
		       a->bytes[2];
	for (int i = 0; i < 8; i++)
		k = k << 8 | a->bytes[i];
	return k & ~((uint64_t)1 << 63);
}

uint64_t
addr_hash(const struct addr *a)
{
	/* FNV-1a over the address bytes. */
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)a->family;

	for (size_t i = 0; i < addr_len(a); i++) {
		h ^= a->bytes[i];
		h *= 1099511628211ULL;
	}
	return h;
}

bool
addr_is_loopback(const struct addr *a)
{
	static const uint8_t v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

	if (a->family == AF_INET)
		return a->bytes[0] == 127;
	return memcmp(a->bytes, v6lo, 16) == 0;
}

socklen_t
addr_to_sockaddr(const struct addr *a, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a->bytes, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	memcpy(&sin6->sin6_addr, a->bytes, 16);
	return sizeof(*sin6);
}

int
addr_from_sockaddr(const struct sockaddr *sa, struct addr *a, int *port)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		a->family = AF_INET;
		memcpy(a->bytes, &sin->sin_addr, 4);
		if (port)
			*port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		a->family = AF_INET6;
		memcpy(a->bytes, &sin6->sin6_addr, 16);
		addr_normalise(a); /* a dual-stack socket's IPv4 peers */
		if (port)
			*port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -1;
}

/*
 * Ranges that are never a customer's mail server: nothing there can be an
 * open relay we should probe, and most of them would reach this host, a
 * whole link or a multicast group. lab_ok rows are allowed with
 * loopback_only, where tests and demos use loopback targets and the
 * documentation ranges as example data (nothing outside loopback is probed
 * then anyway).
 */
static const struct addr_refused {
	const char *range;
	const char *why;
	bool lab_ok;
} refused[] = {
    {"0.0.0.0/8", "unspecified (0.0.0.0/8, 'this network')", false},
    {"255.255.255.255/32", "the broadcast address", false},
    {"224.0.0.0/4", "multicast (224.0.0.0/4)", false},
    {"127.0.0.0/8", "loopback (127.0.0.0/8; allowed only with loopback_only)", true},
    {"169.254.0.0/16", "link-local (169.254.0.0/16)", false},
    {"192.0.2.0/24", "documentation (192.0.2.0/24, RFC 5737)", true},
    {"198.51.100.0/24", "documentation (198.51.100.0/24, RFC 5737)", true},
    {"203.0.113.0/24", "documentation (203.0.113.0/24, RFC 5737)", true},
    {"::/128", "unspecified (::)", false},
    {"::1/128", "loopback (::1; allowed only with loopback_only)", true},
    {"ff00::/8", "multicast (ff00::/8)", false},
    {"fe80::/10", "link-local (fe80::/10)", false},
    {"2001:db8::/32", "documentation (2001:db8::/32, RFC 3849)", true},
    {"3fff::/20", "documentation (3fff::/20, RFC 9637)", true},
};

static bool
cidr_overlaps(const struct cidr *a, const struct cidr *b)
{
	return cidr_contains(a, &b->base) || cidr_contains(b, &a->base);
}

int
cidr_target_check(const struct cidr *c, bool loopback_only, const char **why)
{
	for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
		struct cidr r;
		const char *perr = NULL;

		if (cidr_parse(refused[i].range, &r, &perr) < 0)
			continue; /* the table is checked by test_common */
		if ((loopback_only && refused[i].lab_ok) || !cidr_overlaps(c, &r))
			continue;
		*why = refused[i].why;
		return -1;
	}
	return 0;
}

int
addr_target_check(const struct addr *a, bool loopback_only, const char **why)
{
	struct cidr c = {.base = *a, .prefix = a->family == AF_INET ? 32 : 128};

	return cidr_target_check(&c, loopback_only, why);
}
