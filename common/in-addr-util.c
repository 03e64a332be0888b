/* Implementation of in-addr-util.h.  Pure: inet_pton only parses. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "in-addr-util.h"
#include "macro.h"

static int parse_prefix(const char *s, unsigned max, unsigned *ret) {
        unsigned v = 0;

        if (!*s || strlen(s) > 3)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                v = v * 10 + (unsigned)(*p - '0');
        }
        /* "024" would be read as 24 by some tools and as octal by others. */
        if ((s[0] == '0' && s[1]) || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int cidr_parse(const char *s, Cidr *ret) {
        char buf[INET6_ADDRSTRLEN + 8];
        const char *slash;
        Cidr c = {};
        size_t n;

        if (!s)
                return -EINVAL;
        slash = strchr(s, '/');
        n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 0 || n >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';

        if (inet_pton(AF_INET, buf, c.addr) == 1) {
                c.family = AF_INET;
                c.prefix = 32;
        } else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
                c.family = AF_INET6;
                c.prefix = 128;
        } else
                return -EINVAL;

        if (slash && parse_prefix(slash + 1, c.prefix, &c.prefix) < 0)
                return -EINVAL;
        *ret = c;
        return 0;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix) {
        unsigned bytes = prefix / 8, bits = prefix % 8;

        if (memcmp(a, b, bytes) != 0)
                return false;
        if (bits == 0)
                return true;
        uint8_t mask = (uint8_t)(0xff << (8 - bits));
        return (a[bytes] & mask) == (b[bytes] & mask);
}

int sockaddr_bytes(const struct sockaddr *sa, uint8_t ret[static 16]) {
        static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

        if (!sa)
                return AF_UNSPEC;
        if (sa->sa_family == AF_INET) {
                memcpy(ret, &((const struct sockaddr_in *)sa)->sin_addr, 4);
                return AF_INET;
        }
        if (sa->sa_family == AF_INET6) {
                const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
                if (memcmp(a, v4mapped, 12) == 0) {
                        memcpy(ret, a + 12, 4);
                        return AF_INET;
                }
                memcpy(ret, a, 16);
                return AF_INET6;
        }
        return AF_UNSPEC;
}

uint16_t sockaddr_in_port(const SockaddrIn *sa) {
        return ntohs(sa->sa.sa_family == AF_INET ? sa->in.sin_port : sa->in6.sin6_port);
}

bool sockaddr_in_equal(const SockaddrIn *a, const SockaddrIn *b) {
        uint8_t x[16], y[16];
        int f = sockaddr_bytes(&a->sa, x);

        return f != AF_UNSPEC && sockaddr_bytes(&b->sa, y) == f && memcmp(x, y, f == AF_INET ? 4 : 16) == 0 &&
               sockaddr_in_port(a) == sockaddr_in_port(b);
}

bool cidr_match(const Cidr *c, const struct sockaddr *sa) {
        uint8_t a[16];

        if (!c || sockaddr_bytes(sa, a) != c->family)
                return false;
        return prefix_equal(a, c->addr, c->prefix);
}

int cidr_list_parse(char *const *list, Cidr **ret, size_t *ret_n, const char **ret_bad) {
        _cleanup_(freep) Cidr *acl = NULL;
        size_t n = 0;

        for (char *const *p = list; p && *p; p++)
                n++;
        acl = calloc(n ? n : 1, sizeof *acl);
        if (!acl)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (cidr_parse(list[i], &acl[i]) < 0) {
                        if (ret_bad)
                                *ret_bad = list[i];
                        return -EINVAL;
                }
        *ret = TAKE_PTR(acl);
        *ret_n = n;
        return 0;
}

bool cidr_list_match(const Cidr *acl, size_t n, const struct sockaddr *sa) {
        for (size_t i = 0; i < n; i++)
                if (cidr_match(&acl[i], sa))
                        return true;
        return false;
}

bool sockaddr_is_loopback(const struct sockaddr *sa) {
        static const uint8_t v6lo[16] = { [15] = 1 };
        uint8_t a[16];

        switch (sockaddr_bytes(sa, a)) {
        case AF_INET:
                return a[0] == 127;
        case AF_INET6:
                return memcmp(a, v6lo, 16) == 0;
        default:
                return false;
        }
}

int sockaddr_in_parse(const char *addr, uint16_t port, SockaddrIn *ret, socklen_t *ret_len) {
        SockaddrIn a = {};

        if (!addr)
                return -EINVAL;
        if (inet_pton(AF_INET, addr, &a.in.sin_addr) == 1) {
                a.in.sin_family = AF_INET;
                a.in.sin_port = htons(port);
                *ret_len = sizeof a.in;
        } else if (inet_pton(AF_INET6, addr, &a.in6.sin6_addr) == 1) {
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_port = htons(port);
                *ret_len = sizeof a.in6;
        } else
                return -EINVAL;
        *ret = a;
        return 0;
}
