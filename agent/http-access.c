/* Pure access-control helpers for http.c: CIDR parsing and matching,
 * loopback detection, bearer-token parsing and constant-time comparison.
 * No system calls (inet_pton only parses), so unit tests link it alone. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-access.h"
#include "http.h"
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

int http_cidr_parse(const char *s, HttpCidr *ret) {
        char buf[INET6_ADDRSTRLEN + 8];
        const char *slash;
        HttpCidr c = {};
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

/* Extracts the address of sa; v4-mapped IPv6 becomes AF_INET so one
 * allow_from entry covers both ways a dual-stack socket reports a peer. */
static int sockaddr_bytes(const struct sockaddr *sa, uint8_t ret[static 16]) {
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

bool http_cidr_match(const HttpCidr *c, const struct sockaddr *sa) {
        uint8_t a[16];

        if (!c || sockaddr_bytes(sa, a) != c->family)
                return false;
        return prefix_equal(a, c->addr, c->prefix);
}

int http_acl_parse(char *const *list, HttpCidr **ret, size_t *ret_n, const char **ret_bad) {
        _cleanup_(freep) HttpCidr *acl = NULL;
        size_t n = 0;

        for (char *const *p = list; p && *p; p++)
                n++;
        acl = calloc(n ? n : 1, sizeof *acl);
        if (!acl)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (http_cidr_parse(list[i], &acl[i]) < 0) {
                        if (ret_bad)
                                *ret_bad = list[i];
                        return -EINVAL;
                }
        *ret = TAKE_PTR(acl);
        *ret_n = n;
        return 0;
}

bool http_acl_match(const HttpCidr *acl, size_t n, const struct sockaddr *sa) {
        for (size_t i = 0; i < n; i++)
                if (http_cidr_match(&acl[i], sa))
                        return true;
        return false;
}

bool http_sockaddr_is_loopback(const struct sockaddr *sa) {
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

const char *http_bearer_token(const char *value, size_t *ret_len) {
        const char *t;
        size_t n;

        if (!value)
                return NULL;
        value += strspn(value, " \t");
        if (strncasecmp(value, "Bearer", 6) != 0 || !strchr(" \t", value[6]) || !value[6])
                return NULL;
        t = value + 6;
        t += strspn(t, " \t");
        n = strlen(t);
        while (n > 0 && strchr(" \t", t[n - 1]))
                n--;
        if (n == 0)
                return NULL;
        *ret_len = n;
        return t;
}

bool http_token_equal(const char *given, size_t given_len, const char *expected) {
        size_t n = strlen(expected);
        volatile unsigned char diff = given_len != n;

        /* Walk the expected token's length whatever was given, reading the
         * given one cyclically, so neither content nor the position of the
         * first mismatch changes the time taken. */
        for (size_t i = 0; i < n; i++) {
                unsigned char g = given_len ? (unsigned char)given[i % given_len] : 0;
                diff |= g ^ (unsigned char)expected[i];
        }
        return n > 0 && diff == 0;
}

/* Declared in http.h; here because it is pure and unit tested. */
unsigned http_status_from_errno(int r) {
        switch (r) {
        case -EINVAL: return 400;
        case -EACCES: return 401;
        case -EPERM: return 403;
        case -ENOENT: return 404;
        case -EOPNOTSUPP: return 405;
        case -EEXIST:
        case -EBUSY: return 409;
        case -E2BIG:
        case -EFBIG: return 413;
        case -ENAMETOOLONG: return 414;
        case -EUSERS: return 429;
        case -EAGAIN: return 503;
        default: return 500;
        }
}
