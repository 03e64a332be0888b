/* Small socket helpers shared by the unix-socket users (control socket,
 * its client, the vsock stand-in). */
#pragma once

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

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
