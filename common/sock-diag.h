/* Which local user holds a TCP socket on this machine, from the kernel's
 * socket diagnostics (NETLINK_SOCK_DIAG, what ss(8) uses): the other end
 * of a loopback connection (TCP has no SO_PEERCRED), so that the HTTP
 * server can count loopback connections per local user; and the
 * listener a connection to 127.0.0.1:port would reach, so that the OAuth
 * relay hands a code to the CLI's listener only.  Needs CONFIG_INET_DIAG
 * and CONFIG_INET_TCP_DIAG (modules inet_diag and tcp_diag in Debian's
 * kernels: the image's initramfs loads them). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* For the accepted TCP socket fd whose peer is on this machine: the uid
 * owning the peer's socket in *ret.  -ENOTCONN: the peer closed its
 * socket (or reset the connection); -ENOENT: no such socket, or the kernel
 * has no TCP socket diagnostics (also -EPROTONOSUPPORT then); other
 * -errno from the sockets. */
int sock_diag_peer_owner(int fd, uid_t *ret);
/* For a TCP socket fd connected to a listener on this machine: the uid
 * that holds the other end of the connection now, in *ret: the owner of
 * the socket accept(2) gave for it, or, while no process accepted it
 * yet, the owner of the listener it waits on (only that listener's
 * holders can accept it).  -ENOTCONN when the other end was closed or
 * reset; -ENOENT as sock_diag_peer_owner(); other -errno. */
int sock_diag_connection_owner(int fd, uid_t *ret);
/* 0 when the kernel can answer sock_diag_peer_owner(), else -errno (-ENOENT:
 * no inet_diag or tcp_diag; -EPROTONOSUPPORT: no socket diagnostics at
 * all).  Asked once: without them every lookup would ask the kernel to
 * load the modules again. */
int sock_diag_tcp_supported(void);
/* Whether the kernel has socket diagnostics for IPv4 sockets of an IP
 * protocol: 0, or -errno as above. */
int sock_diag_supported(uint8_t protocol);
/* The uid of the listener a TCP connection to 127.0.0.1:port reaches now:
 * 0, or -ENOENT when none does (or no diagnostics, see above), -errno. */
int sock_diag_loopback_listener_owner(uint16_t port, uid_t *ret);
