/* See socket-util.h. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "socket-util.h"

int sockaddr_un_set(struct sockaddr_un *sa, const char *path) {
        size_t n = strlen(path);

        if (n >= sizeof sa->sun_path)
                return -ENAMETOOLONG;
        *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
        memcpy(sa->sun_path, path, n + 1);
        return (int)sizeof *sa;
}

int unix_connect_start(const char *path, int *ret_fd) {
        _cleanup_(closep) int path_fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        *ret_fd = -EBADF;
        /* By the socket itself, not a symlink in its place: the socket's
         * directory may be another user's, who could point the caller
         * (root) at any socket.  Also lifts sun_path's length limit. */
        path_fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (path_fd < 0)
                return -errno;
        snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d", path_fd);
        *ret_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (*ret_fd < 0)
                return -errno;
        if (connect(*ret_fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
                return -errno;
        return 0;
}

int tcp_socket_bound(const char *address, uint16_t port, int sock_flags, bool listen_now, int *ret_fd) {
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

int tcp_port_hold_ipv6(int listen_fd, int *ret_fd, struct sockaddr_in6 *ret_where) {
        SockaddrIn bound = {};
        struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
        socklen_t len = sizeof bound;
        int one = 1, fd;

        *ret_fd = -EBADF;
        if (getsockname(listen_fd, &bound.sa, &len) < 0)
                return -errno;
        if (bound.sa.sa_family != AF_INET)
                return 0;
        /* 127.0.0.1 is localhost's as ::1 is; another IPv4 address has no
         * name in common with an IPv6 one. */
        if (sockaddr_is_loopback(&bound.sa))
                v6.sin6_addr = in6addr_loopback;
        else if (bound.in.sin_addr.s_addr != htonl(INADDR_ANY))
                return 0;
        v6.sin6_port = bound.in.sin_port;
        if (ret_where)
                *ret_where = v6;
        fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return errno == EAFNOSUPPORT ? 0 : -errno; /* ipv6.disable=1 */
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0 ||
            bind(fd, (struct sockaddr *)&v6, sizeof v6) < 0) {
                int e = errno;
                close(fd);
                /* No ::1 (IPv6 off on lo): no one else can bind it either. */
                return e == EADDRNOTAVAIL ? 0 : -e;
        }
        *ret_fd = fd;
        return 0;
}

int tcp_socket_bound_as(int fd, const SockaddrIn *want) {
        SockaddrIn bound = {};
        socklen_t len = sizeof bound;
        int v6only;

        if (getsockname(fd, &bound.sa, &len) < 0)
                return -errno;
        if (sockaddr_in_equal(&bound, want))
                return 1;
        if (want->sa.sa_family != AF_INET || want->in.sin_addr.s_addr != htonl(INADDR_ANY) ||
            bound.sa.sa_family != AF_INET6 || !IN6_IS_ADDR_UNSPECIFIED(&bound.in6.sin6_addr) ||
            bound.in6.sin6_port != want->in.sin_port)
                return 0;
        len = sizeof v6only;
        if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) < 0)
                return -errno;
        return !v6only;
}
