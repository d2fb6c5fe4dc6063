/*
 * IPv4/IPv6 addresses and CIDR ranges without the resolver: parsing,
 * formatting, containment and the /24 or /64 "network" used for politeness.
 */
#ifndef RELAYAUDIT_ADDR_H
#define RELAYAUDIT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define ADDR_STRLEN 64 /* enough for "[ffff:...:ffff]:65535" and "a.b.c.d/nn" */

struct addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network order; first 4 used for AF_INET */
};

struct cidr {
	struct addr base; /* host bits cleared */
	int prefix;
};

/* Parses normalise: IPv4-mapped IPv6 (::ffff:a.b.c.d[/96+n]) becomes IPv4. */
int addr_parse(const char *s, struct addr *out);
void addr_normalise(struct addr *a);
void cidr_normalise(struct cidr *c);
/*
 * 0 when the address (or every address of the range) may be a probe target;
 * -1 with *why naming the refused range: unspecified, broadcast, multicast,
 * loopback, link-local, documentation. loopback_only allows loopback and
 * documentation ranges (tests and demos).
 */
int addr_target_check(const struct addr *a, bool loopback_only, const char **why);
int cidr_target_check(const struct cidr *c, bool loopback_only, const char **why);
/* "a.b.c.d", "a.b.c.d/n", "v6", "v6/n"; host bits set in the input are an error. */
int cidr_parse(const char *s, struct cidr *out, const char **why);
/* "ip:port", "[v6]:port" or just "ip"/"v6" with default_port. */
int addr_port_parse(const char *s, int default_port, struct addr *addr, int *port);

void addr_format(const struct addr *a, char *buf, size_t len);
void cidr_format(const struct cidr *c, char *buf, size_t len);
/* "[IPv6:...]" or "[a.b.c.d]" as used in SMTP address literals. */
void addr_literal(const struct addr *a, char *buf, size_t len);

bool cidr_contains(const struct cidr *c, const struct addr *a);
bool addr_equal(const struct addr *a, const struct addr *b);
/* Number of addresses in the range, saturating at UINT64_MAX. */
uint64_t cidr_size(const struct cidr *c);
/* The i-th address of the range (i < cidr_size). */
void cidr_nth(const struct cidr *c, uint64_t i, struct addr *out);
/* The /24 (IPv4) or /64 (IPv6) network of a, as a hashable 64-bit key. */
uint64_t addr_net_key(const struct addr *a);
uint64_t addr_hash(const struct addr *a);
bool addr_is_loopback(const struct addr *a);

socklen_t addr_to_sockaddr(const struct addr *a, int port, struct sockaddr_storage *ss);
int addr_from_sockaddr(const struct sockaddr *sa, struct addr *a, int *port);

#endif
