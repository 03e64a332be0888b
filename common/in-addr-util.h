/* Addresses and CIDR lists: parsing "10.0.0.0/8" and "fd00::/8", matching
 * a peer's sockaddr against them (v4-mapped IPv6 peers count as IPv4), and
 * loopback detection.  Used by the config (allow_from is checked when it is
 * read) and by the HTTP gate.  Pure: no system calls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef struct Cidr {
        int family;          /* AF_INET or AF_INET6 */
        uint8_t addr[16];    /* network byte order; 4 bytes used for AF_INET */
        unsigned prefix;     /* 0..32 or 0..128 */
} Cidr;

/* "10.0.0.0/8", "10.1.2.3" (= /32), "fd00::/8", "::1" (= /128).  Host bits
 * set beyond the prefix are accepted and ignored ("10.1.2.3/24" matches
 * 10.1.2.0/24), as ip(8) and nginx do.  -EINVAL on anything else. */
int cidr_parse(const char *s, Cidr *ret);

/* Whether sa (AF_INET, or AF_INET6 including v4-mapped ::ffff:a.b.c.d)
 * lies inside c.  Other families never match. */
bool cidr_match(const Cidr *c, const struct sockaddr *sa);

/* Parses a NULL-terminated list; *ret is owned by the caller (free()).
 * On -EINVAL, *ret_bad (if non-NULL) points at the offending entry. */
int cidr_list_parse(char *const *list, Cidr **ret, size_t *ret_n, const char **ret_bad);
bool cidr_list_match(const Cidr *list, size_t n, const struct sockaddr *sa);

/* The address of sa in ret (4 or 16 bytes, network order) and its family:
 * AF_INET, AF_INET6, or AF_UNSPEC for anything else (ret untouched).  A
 * v4-mapped IPv6 address is AF_INET, so that one allow_from entry, one
 * client or one kernel lookup covers both ways a dual-stack socket
 * reports an IPv4 peer. */
int sockaddr_bytes(const struct sockaddr *sa, uint8_t ret[static 16]);

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool sockaddr_is_loopback(const struct sockaddr *sa);

/* Room for an IPv4 or IPv6 socket address. */
typedef union SockaddrIn {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
} SockaddrIn;

/* Whether a and b are the same IPv4 or IPv6 address and port (as
 * sockaddr_bytes() reads them); false for any other family. */
bool sockaddr_in_equal(const SockaddrIn *a, const SockaddrIn *b);

/* sa's port (AF_INET or AF_INET6), in host byte order. */
uint16_t sockaddr_in_port(const SockaddrIn *sa);

/* An IPv4 or IPv6 literal (no brackets) and a port; the length to pass to
 * bind()/connect() in *ret_len.  -EINVAL for anything else (no names). */
int sockaddr_in_parse(const char *addr, uint16_t port, SockaddrIn *ret, socklen_t *ret_len);
