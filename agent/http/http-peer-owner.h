/* Which local user holds the other end of a loopback TCP connection.  TCP
 * has no SO_PEERCRED; the kernel's socket diagnostics (NETLINK_SOCK_DIAG,
 * what ss(8) uses) look the peer's socket up by its address and port and
 * report the user that created it.  This lets the HTTP server count
 * loopback connections per local user, so that one user (a provider CLI,
 * third-party code) cannot take the room the browser's OAuth redirects
 * need.  Needs CONFIG_INET_DIAG and CONFIG_INET_TCP_DIAG (modules
 * inet_diag and tcp_diag in Debian's kernels: the image's initramfs loads
 * them). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* For the accepted TCP socket fd whose peer is on this machine: the uid
 * owning the peer's socket in *ret.  -ENOTCONN: the peer closed its
 * socket (or reset the connection); -ENOENT: no such socket, or the kernel
 * has no TCP socket diagnostics (also -EPROTONOSUPPORT then); other
 * -errno from the sockets. */
int http_peer_owner(int fd, uid_t *ret);
/* 0 when the kernel can answer http_peer_owner(), else -errno (-ENOENT:
 * no inet_diag or tcp_diag; -EPROTONOSUPPORT: no socket diagnostics at
 * all).  Asked once: without them every lookup would ask the kernel to
 * load the modules again. */
int http_peer_owner_supported(void);
/* Whether the kernel has socket diagnostics for IPv4 sockets of an IP
 * protocol: 0, or -errno as above. */
int http_sock_diag_supported(uint8_t protocol);
