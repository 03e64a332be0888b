/* See socket-util.h. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

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
