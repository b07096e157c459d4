/* webhook_netguard — where webhook requests may go; see webhook_netguard.h. */
#include "raild/webhook_netguard.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ALLOW 32

struct net {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
    const char *what;           /* deny list: what such an address is */
};

/* Special-purpose ranges (IANA registries) a merchant's public endpoint never lives in. */
static const struct { const char *cidr, *what; } DENY_SRC[] = {
    { "0.0.0.0/8", "a 'this network' address" },
    { "10.0.0.0/8", "a private address" },
    { "100.64.0.0/10", "a carrier-grade NAT address" },
    { "127.0.0.0/8", "a loopback address" },
    { "169.254.0.0/16", "a link-local address (where cloud metadata services live)" },
    { "172.16.0.0/12", "a private address" },
    { "192.0.0.0/24", "an IETF protocol address" },
    { "192.168.0.0/16", "a private address" },
    { "198.18.0.0/15", "a benchmarking address" },
    { "224.0.0.0/4", "a multicast address" },
    { "240.0.0.0/4", "a reserved address" },
    { "::/128", "the unspecified address" },
    { "::1/128", "a loopback address" },
    { "100::/64", "a discard-only address" },
    { "fc00::/7", "a private (unique local) address" },
    { "fe80::/10", "a link-local address" },
    { "ff00::/8", "a multicast address" },
};
#define NDENY (sizeof DENY_SRC / sizeof DENY_SRC[0])

static struct net deny[NDENY];
static struct net allow[MAX_ALLOW];
static int nallow;
static pthread_once_t deny_once = PTHREAD_ONCE_INIT;

/* "10.0.0.0/8", "::1", "fd00::/8" → net (host bits cleared). 0 or -1. */
static int parse_cidr(const char *s, struct net *out)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n + 1);
    char *slash = strchr(buf, '/');
    if (slash) *slash = 0;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, out->addr) == 1) out->family = AF_INET, out->bits = 32;
    else if (inet_pton(AF_INET6, buf, out->addr) == 1) out->family = AF_INET6, out->bits = 128;
    else return -1;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || b < 0 || b > out->bits) return -1;
        out->bits = (int)b;
    }
    for (int i = out->bits; i < (out->family == AF_INET ? 32 : 128); i++) out->addr[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
    return 0;
}

static void parse_deny(void)
{
    for (size_t i = 0; i < NDENY; i++) {
        if (parse_cidr(DENY_SRC[i].cidr, &deny[i])) abort();   /* a typo in the table above */
        deny[i].what = DENY_SRC[i].what;
    }
}

static int in_net(const struct net *n, int family, const unsigned char *a)
{
    if (n->family != family) return 0;
    int full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->addr, a, (size_t)full)) return 0;
    return !rest || ((a[full] ^ n->addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int netguard_init(void)
{
    pthread_once(&deny_once, parse_deny);
    nallow = 0;
    const char *v = getenv("RAILD_WEBHOOK_ALLOW_NETS");
    if (!v || !*v) return 0;
    char *copy = strdup(v), *save = NULL;
    if (!copy) return -1;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        char *e = tok + strlen(tok);
        while (e > tok && e[-1] == ' ') *--e = 0;
        if (nallow == MAX_ALLOW) {
            fprintf(stderr, "raild: RAILD_WEBHOOK_ALLOW_NETS takes at most %d ranges\n", MAX_ALLOW);
            rc = -1;
            break;
        }
        if (parse_cidr(tok, &allow[nallow])) {
            fprintf(stderr, "raild: RAILD_WEBHOOK_ALLOW_NETS: '%.60s' is not an address range; write ranges like "
                            "127.0.0.0/8,fd00::/8 separated by commas\n", tok);
            rc = -1;
            break;
        }
        nallow++;
    }
    free(copy);
    if (rc) nallow = 0;
    return rc;
}

static int blocked(int family, const unsigned char *a, char *why, size_t whylen)
{
    unsigned char v4[4];
    pthread_once(&deny_once, parse_deny);
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const unsigned char compat[12] = { 0 };
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
    /* IPv6 forms that carry an IPv4 address are judged by that address: mapped ::ffff:a.b.c.d,
     * the deprecated compatible ::a.b.c.d (but :: and ::1 stay what they are), NAT64
     * 64:ff9b::a.b.c.d, and 6to4 2002:aabb:ccdd:: — each reaches the IPv4 host it embeds */
    if (family == AF_INET6) {
        const unsigned char *e = NULL;
        if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12)) e = a + 12;
        else if (!memcmp(a, compat, 12) && (a[12] | a[13] | a[14] || a[15] > 1)) e = a + 12;
        else if (a[0] == 0x20 && a[1] == 0x02) e = a + 2;
        if (e) {
            memcpy(v4, e, 4);
            family = AF_INET;
            a = v4;
        }
    }
    for (int i = 0; i < nallow; i++)
        if (in_net(&allow[i], family, a)) return 0;
    for (size_t i = 0; i < NDENY; i++) {
        if (!in_net(&deny[i], family, a)) continue;
        char txt[INET6_ADDRSTRLEN];
        inet_ntop(family, a, txt, sizeof txt);
        snprintf(why, whylen, "%s is %s", txt, deny[i].what);
        return 1;
    }
    return 0;
}

int netguard_blocked_addr(const struct sockaddr *sa, char *why, size_t whylen)
{
    if (sa->sa_family == AF_INET)
        return blocked(AF_INET, (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr, why, whylen);
    if (sa->sa_family == AF_INET6)
        return blocked(AF_INET6, (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr, why, whylen);
    snprintf(why, whylen, "address family %d is not IP", sa->sa_family);
    return 1;
}

/* Full-width and ideographic dots (U+3002, U+FF0E, U+FF61) and full-width digits
 * (U+FF10-U+FF19) become ASCII: IDNA maps them so, and a resolver would then see 127.0.0.1. */
static void fold_fullwidth(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 1 < n;) {
        if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x82) { out[o++] = '.'; p += 3; }
        else if (p[0] == 0xef && p[1] == 0xbc && p[2] == 0x8e) { out[o++] = '.'; p += 3; }
        else if (p[0] == 0xef && p[1] == 0xbd && p[2] == 0xa1) { out[o++] = '.'; p += 3; }
        else if (p[0] == 0xef && p[1] == 0xbc && p[2] >= 0x90 && p[2] <= 0x99) { out[o++] = (char)('0' + p[2] - 0x90); p += 3; }
        else out[o++] = (char)*p++;
    }
    out[o] = 0;
}

int netguard_blocked_host(const char *host, char *why, size_t whylen)
{
    char h[256];
    size_t n = strlen(host);
    if (n >= sizeof h) return 0;
    fold_fullwidth(host, h, sizeof h);
    n = strlen(h);
    /* a trailing dot makes a name absolute ("localhost.", "127.0.0.1."): resolvers accept it,
     * and it slips past comparisons; a merchant's endpoint never needs one */
    if (n && h[n - 1] == '.') {
        snprintf(why, whylen, "'%.100s' ends with a dot; write the host name without it", host);
        return 1;
    }
    if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
        memmove(h, h + 1, n - 2);
        h[n - 2] = 0;
    }
    unsigned char a[16];
    size_t hl = strlen(h);
    /* names every resolver (or /etc/hosts) answers with a loopback address */
    if (!strcasecmp(h, "localhost") || (hl > 10 && !strcasecmp(h + hl - 10, ".localhost")) ||
        !strcasecmp(h, "localhost.localdomain") || !strcasecmp(h, "ip6-localhost") || !strcasecmp(h, "ip6-loopback"))
        return inet_pton(AF_INET, "127.0.0.1", a) == 1 && blocked(AF_INET, a, why, whylen);
    struct in_addr v4;   /* inet_aton: also the forms resolvers accept, "127.1", "0x7f.1", "2130706433" */
    if (inet_aton(h, &v4)) return blocked(AF_INET, (const unsigned char *)&v4, why, whylen);
    if (inet_pton(AF_INET6, h, a) == 1) return blocked(AF_INET6, a, why, whylen);
    return 0;
}
