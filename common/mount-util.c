/* See mount-util.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "macro.h"
#include "mount-util.h"

/* /run/lock: 1777 under Debian's systemd (a tmpfs its mount setup makes);
 * as PID 1 the agent's /run is a new tmpfs without it. */
const char *const private_tmp_dirs[] = { "/tmp", "/var/tmp", "/dev/shm", "/run/lock", NULL };

/* Names that lead into one of them: Debian's /var/lock is a symlink to
 * /run/lock (a tmpfs mounted there covers both). */
static const char *const private_tmp_aliases[] = { "/var/lock", NULL };

static bool below_one_of(const char *path, const char *const *dirs) {
        for (size_t i = 0; path && dirs[i]; i++) {
                const char *rest = startswith(path, dirs[i]);

                if (rest && (*rest == '\0' || *rest == '/'))
                        return true;
        }
        return false;
}

/* path with "//", "." and ".." taken out, by name (as the kernel walks
 * it, were no component a symlink): "/var/../tmp/x" is "/tmp/x".  A ".."
 * at / stays at /.  -ENAMETOOLONG past size; relative paths as they are. */
static int path_lexical(const char *path, char *buf, size_t size) {
        size_t n = 0, len = strlen(path);

        if (len >= size)
                return -ENAMETOOLONG;
        if (path[0] != '/') {
                memcpy(buf, path, len + 1);
                return 0;
        }
        for (const char *p = path; *p;) {
                size_t l;

                p += strspn(p, "/");
                l = strcspn(p, "/");
                if (l == 2 && startswith(p, "..")) {
                        while (n > 0 && buf[--n] != '/')
                                ;
                } else if (l > 0 && !(l == 1 && p[0] == '.')) {
                        buf[n++] = '/';
                        memcpy(buf + n, p, l);
                        n += l;
                }
                p += l;
        }
        if (n == 0)
                buf[n++] = '/';
        buf[n] = '\0';
        return 0;
}

bool private_tmp_hides(const char *path) {
        char name[PATH_MAX];

        if (!path || path_lexical(path, name, sizeof name) < 0)
                return false;
        return below_one_of(name, private_tmp_dirs) || below_one_of(name, private_tmp_aliases);
}

/* The length of path without its last component (and the slashes before
 * it), at least 1: "/a/b//c" -> 4 ("/a/b"), "/a" -> 1 ("/"). */
static size_t parent_len(const char *path, size_t n) {
        while (n > 1 && path[n - 1] == '/')
                n--;
        while (n > 1 && path[n - 1] != '/')
                n--;
        while (n > 1 && path[n - 1] == '/')
                n--;
        return n;
}

/* Where the longest prefix of path that exists leads, with the rest as
 * named: what the agent makes only after its start checks (login_home,
 * the control socket) is judged by where its parent leads.  A dangling
 * symlink is named as it is: its target is missing for the agent too. */
bool private_tmp_hides_resolved(const char *path) {
        char head[PATH_MAX], where[PATH_MAX];
        size_t n;

        if (private_tmp_hides(path))
                return true;
        if (!path || (n = strlen(path)) >= sizeof head)
                return false;
        if (path[0] != '/') {
                _cleanup_(freep) char *real = realpath(path, NULL);

                return real && private_tmp_hides(real);
        }
        memcpy(head, path, n + 1);
        for (;;) {
                _cleanup_(freep) char *real = realpath(head, NULL);

                if (real)
                        return snprintf(where, sizeof where, "%s%s", real, path + n) < (int)sizeof where &&
                               private_tmp_hides(where);
                if (errno != ENOENT || n == 1)
                        return false;
                n = parent_len(head, n);
                head[n] = '\0';
        }
}

int tmpfs_options(char *buf, size_t size, uint32_t size_mb, mode_t mode, uid_t uid, gid_t gid) {
        uint64_t inodes = (uint64_t)size_mb * (1024u * 1024u / TMPFS_BYTES_PER_INODE);
        int n;

        if (size_mb == 0 || size_mb > TMPFS_SIZE_MB_MAX || (mode & ~07777))
                return -EINVAL;
        n = snprintf(buf, size, "size=%um,nr_inodes=%llu,mode=%04o,uid=%u,gid=%u", size_mb,
                     (unsigned long long)inodes, (unsigned)mode, (unsigned)uid, (unsigned)gid);
        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        return 0;
}

int fd_is_mount_root(int fd) {
        struct statx sx;

        if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &sx) < 0)
                return errno == ENOSYS ? 0 : negative_errno();
        return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

int tmpfs_mount_fd(int fd, uint32_t size_mb, mode_t mode, uid_t uid, gid_t gid) {
        char path[64], options[128];
        int r;

        if (fd < 0)
                return -EBADF;
        r = tmpfs_options(options, sizeof options, size_mb, mode, uid, gid);
        if (r < 0)
                return r;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) < 0)
                return negative_errno();
        return 0;
}
