/* Small socket helpers shared by the unix-socket users (control socket,
 * its client, the vsock stand-in). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "in-addr-util.h"

/* The longest unix socket path, without its NUL, is one byte less. */
#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

/* Fills a sockaddr_un for path (which must fit with its NUL); returns the
 * length to pass to bind()/connect(), or -ENAMETOOLONG. */
int sockaddr_un_set(struct sockaddr_un *sa, const char *path);

/* A non-blocking stream socket (in *ret_fd, also on a failed connect: the
 * caller closes it; -EBADF when none was made) connecting to the unix
 * socket at path, never through a symlink in its place (-ECONNREFUSED
 * then): 0 when connected or under way, else -errno (-EAGAIN: the
 * listener's backlog is full; -ENOENT). */
int unix_connect_start(const char *path, int *ret_fd);

/* A TCP socket bound to address (an IPv4 or IPv6 literal) and port, with
 * SOCK_CLOEXEC and sock_flags (SOCK_NONBLOCK) given to socket(), and
 * listening when listen_now.  One that listens has SO_REUSEADDR; one that
 * does not yet has none, which keeps every other socket off the port
 * (a bound one with it would let another user's with it bind there too,
 * and then take the port at its listen()).  Its fd in *ret_fd, or
 * -EINVAL (not a literal), -errno. */
int tcp_socket_bound(const char *address, uint16_t port, int sock_flags, bool listen_now, int *ret_fd);

/* The IPv6 side of the port of listen_fd, a TCP socket bound to the IPv4
 * wildcard (0.0.0.0) or to loopback (127/8): [::] (for loopback ::1)
 * bound IPv6-only, without SO_REUSEADDR and never listening, so that no
 * other socket (another local user's) can bind that port on ::1 (or any
 * IPv6 address) while it is kept.  Else a
 * client of "localhost:PORT" that tries ::1 first (glibc's order: curl,
 * Python) would reach that user's listener instead.  Connections to it
 * are refused.
 * Its fd in *ret_fd (-EBADF when there is nothing to hold: listen_fd is
 * bound to another IPv4 address or is IPv6, or the kernel or loopback
 * has no IPv6); where it binds in *ret_where (NULL: not asked), for a
 * message: -EADDRINUSE when another socket has the port there already,
 * -errno. */
int tcp_port_hold_ipv6(int listen_fd, int *ret_fd, struct sockaddr_in6 *ret_where);

/* Whether fd, a TCP socket, is bound where a socket bound to want would
 * be and takes what it would: bound to want itself, or, for want the
 * IPv4 wildcard (0.0.0.0:port), to the IPv6 wildcard of that port with
 * IPV6_V6ONLY off ([::]:port dual-stack, as systemd binds
 * ListenStream=PORT), which takes IPv4 connections too and holds the
 * port's IPv6 side as well.  1 or 0, or -errno from getsockname() or
 * getsockopt(). */
int tcp_socket_bound_as(int fd, const SockaddrIn *want);
