/* Small socket helpers shared by the unix-socket users (control socket,
 * its client, the vsock stand-in). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "in-addr-util.h"

/* The longest unix socket path, without its NUL, is one byte less. */
#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

/* Fills a sockaddr_un for path (which must fit with its NUL); returns the
 * length to pass to bind()/connect(), or -ENAMETOOLONG. */
static inline int sockaddr_un_set(struct sockaddr_un *sa, const char *path) {
        size_t n = strlen(path);

        if (n >= sizeof sa->sun_path)
                return -ENAMETOOLONG;
        *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
        memcpy(sa->sun_path, path, n + 1);
        return (int)sizeof *sa;
}

/* A non-blocking stream socket (in *ret_fd, also on a failed connect: the
 * caller closes it) connecting to the unix socket at path: 0 when
 * connected or under way, else -errno (-EAGAIN: the listener's backlog is
 * full; -ENAMETOOLONG). */
static inline int unix_connect_start(const char *path, int *ret_fd) {
        struct sockaddr_un sa;
        int len = sockaddr_un_set(&sa, path);

        if (len < 0)
                return len;
        *ret_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (*ret_fd < 0)
                return -errno;
        if (connect(*ret_fd, (struct sockaddr *)&sa, (socklen_t)len) < 0 && errno != EINPROGRESS)
                return -errno;
        return 0;
}

/* A TCP socket bound to address (an IPv4 or IPv6 literal) and port, with
 * SOCK_CLOEXEC and sock_flags (SOCK_NONBLOCK) given to socket(), and
 * listening when listen_now.  One that listens has SO_REUSEADDR; one that
 * does not yet has none, which keeps every other socket off the port
 * (a bound one with it would let another user's with it bind there too,
 * and then take the port at its listen()).  Its fd in *ret_fd, or
 * -EINVAL (not a literal), -errno. */
static inline int tcp_socket_bound(const char *address, uint16_t port, int sock_flags, bool listen_now,
                                   int *ret_fd) {
        SockaddrIn a;
        socklen_t len;
        int one = 1, fd;

        if (sockaddr_in_parse(address, port, &a, &len) < 0)
                return -EINVAL;
        fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | sock_flags, 0);
        if (fd < 0)
                return -errno;
        if (listen_now)
                (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, &a.sa, len) < 0 || (listen_now && listen(fd, SOMAXCONN) < 0)) {
                int e = errno;
                close(fd);
                return -e;
        }
        *ret_fd = fd;
        return 0;
}
