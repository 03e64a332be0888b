/* Access control primitives for the HTTP server, kept pure (no syscalls,
 * no MHD) so they are unit tested and fuzzed alone: CIDR lists for
 * allow_from, loopback detection, the `Authorization: Bearer` parser and a
 * constant-time token comparison.  http.c applies them in one place before
 * any handler runs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct HttpCidr {
        int family;          /* AF_INET or AF_INET6 */
        uint8_t addr[16];    /* network byte order; 4 bytes used for AF_INET */
        unsigned prefix;     /* 0..32 or 0..128 */
} HttpCidr;

/* "10.0.0.0/8", "10.1.2.3" (= /32), "fd00::/8", "::1" (= /128).  Host bits
 * set beyond the prefix are accepted and ignored ("10.1.2.3/24" matches
 * 10.1.2.0/24), as ip(8) and nginx do.  -EINVAL on anything else. */
int http_cidr_parse(const char *s, HttpCidr *ret);

/* Whether sa (AF_INET, or AF_INET6 including v4-mapped ::ffff:a.b.c.d)
 * lies inside c.  Other families never match. */
bool http_cidr_match(const HttpCidr *c, const struct sockaddr *sa);

/* Parses a NULL-terminated list; *ret is owned by the caller (free()).
 * On -EINVAL, *ret_bad (if non-NULL) points at the offending entry. */
int http_acl_parse(char *const *list, HttpCidr **ret, size_t *ret_n, const char **ret_bad);
bool http_acl_match(const HttpCidr *acl, size_t n, const struct sockaddr *sa);

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool http_sockaddr_is_loopback(const struct sockaddr *sa);

/* The token of an `Authorization: Bearer <token>` header value (scheme
 * case-insensitive, RFC 6750; surrounding blanks skipped, trailing blanks
 * excluded through *ret_len).  Returns NULL when the header is NULL, of
 * another scheme, or has an empty token.  Borrowed from value. */
const char *http_bearer_token(const char *value, size_t *ret_len);

/* Compares given[0..given_len) with expected in time that depends only on
 * the lengths, never on where the bytes differ. */
bool http_token_equal(const char *given, size_t given_len, const char *expected);
