/* netguard — where webhook requests may go. A merchant chooses the URL, so without a guard
 * the gateway would POST (and show response excerpts) to anything on its own network:
 * loopback admin ports, the cloud metadata service, private services (SSRF). Addresses in
 * loopback, private, link-local, carrier-grade NAT, benchmarking, multicast and reserved
 * ranges are refused, checked on the address actually connected to (so a hostname that
 * resolves, or re-resolves, to such an address is refused too), and IP literals are refused
 * already when an endpoint is registered.
 * RAILD_WEBHOOK_ALLOW_NETS="127.0.0.0/8,10.1.0.0/16" lets chosen ranges through (local
 * development, the demo and tests, an on-premises merchant). */
#ifndef RAILD_WEBHOOK_NETGUARD_H
#define RAILD_WEBHOOK_NETGUARD_H
#include <stddef.h>
#include <sys/socket.h>

/* Reads RAILD_WEBHOOK_ALLOW_NETS. 0, or -1 with a message saying what to fix on stderr. */
int netguard_init(void);
/* 1 when webhooks must not go to this address (why gets a sentence), else 0. */
int netguard_blocked_addr(const struct sockaddr *sa, char *why, size_t whylen);
/* The same for a URL host that is an IP literal ("10.0.0.1", "[::1]", "localhost");
 * 0 for any other host name (checked when connecting). */
int netguard_blocked_host(const char *host, char *why, size_t whylen);
#endif
