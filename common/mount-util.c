/* See mount-util.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fileio.h"
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

/* A lookup as the kernel's: real is the physical path walked so far
 * (n bytes, "" for /), p what is still to walk (in path, or in todo
 * once a symlink was spliced in). */
typedef struct Walk {
        char real[PATH_MAX], todo[PATH_MAX];
        const char *p;
        size_t n;
        unsigned links;
        bool left; /* out again of the private_tmp_dirs its where names */
} Walk;

/* The symlink at w->real (its parent w->n bytes) spliced into what is
 * left to walk, from / when its target is absolute.  0 or -errno. */
static int walk_follow(Walk *w) {
        char target[PATH_MAX], next[PATH_MAX];
        ssize_t k;

        if (++w->links > LINKS_FOLLOWED_MAX)
                return -ELOOP;
        k = readlink(w->real, target, sizeof target - 1);
        if (k < 0)
                return negative_errno();
        target[k] = '\0';
        /* w->p: "" or "/" and the rest. */
        if (snprintf(next, sizeof next, "%s%s", target, w->p) >= (int)sizeof next)
                return -ENAMETOOLONG;
        memcpy(w->todo, next, strlen(next) + 1);
        w->p = w->todo;
        if (target[0] == '/')
                w->n = 0;
        w->real[w->n] = '\0';
        return 0;
}

/* The next component of w->p looked up in w->real (a symlink followed).
 * When w->real is one of private_tmp_dirs or below (a private_tmp
 * child's lookup fails there), its name in where, until a symlink led
 * out of them again: the name the walk went in by and as far as it
 * went.  0 or -errno. */
static int walk_step(Walk *w, char *where, size_t size) {
        size_t l = strcspn(w->p, "/");
        bool inside;
        struct stat st;

        if (l == 1 && w->p[0] == '.') {
                w->p += l;
                return 0;
        }
        if (l == 2 && startswith(w->p, "..")) {
                while (w->n > 0 && w->real[--w->n] != '/')
                        ;
                w->real[w->n] = '\0';
                w->p += l;
                return 0;
        }
        if (w->n + 1 + l >= sizeof w->real)
                return -ENAMETOOLONG;
        inside = private_tmp_hides(w->n > 0 ? w->real : "/");
        w->real[w->n] = '/';
        memcpy(w->real + w->n + 1, w->p, l);
        w->real[w->n + 1 + l] = '\0';
        w->p += l;
        if (inside && !w->left)
                snprintf(where, size, "%s", w->real);
        else if (!inside && where[0] != '\0')
                w->left = true;
        if (lstat(w->real, &st) < 0)
                return negative_errno();
        if (S_ISLNK(st.st_mode))
                return walk_follow(w);
        if (*w->p == '/' && !S_ISDIR(st.st_mode))
                return -ENOTDIR;
        w->n += 1 + l;
        return 0;
}

/* realpath(3) of path into w->real, by a walk that says in where (size
 * > 0, "" at first) the name it passes below one of private_tmp_dirs
 * on its way (/usr/local/bin/x -> /tmp/x -> /usr/bin/env: "/tmp/x",
 * which realpath() would not show), "" when none.  0 or -errno. */
static int walk(Walk *w, const char *path, char *where, size_t size) {
        *w = (Walk){ .p = path };
        if (path[0] != '/') {
                if (!getcwd(w->real, sizeof w->real))
                        return negative_errno();
                w->n = streq(w->real, "/") ? 0 : strlen(w->real);
        }
        for (;;) {
                int r;

                w->p += strspn(w->p, "/");
                if (*w->p == '\0')
                        break;
                r = walk_step(w, where, size);
                if (r < 0)
                        return r;
        }
        if (w->n == 0)
                memcpy(w->real, "/", 2);
        return 0;
}

/* Where the longest prefix of path that exists leads, with the rest as
 * named: what the agent makes only after its start checks (login_home,
 * the control socket) is judged by where its parent leads.  A dangling
 * symlink is named as it is: its target is missing for the agent too.
 * Every name walked on the way counts, not only where it ends: a child
 * whose /tmp is empty cannot pass through a symlink there to anywhere. */
bool private_tmp_hides_where(const char *path, char *where, size_t size) {
        char head[PATH_MAX], found[PATH_MAX] = "";
        Walk w;
        size_t n;

        if (where && size > 0)
                where[0] = '\0';
        if (private_tmp_hides(path)) {
                if (where && size > 0 && path_lexical(path, found, sizeof found) >= 0)
                        snprintf(where, size, "%s", found);
                return true;
        }
        if (!path || (n = strlen(path)) >= sizeof head)
                return false;
        memcpy(head, path, n + 1);
        for (;;) {
                int r = walk(&w, head, found, sizeof found);

                if (r >= 0) {
                        char whole[PATH_MAX];
                        bool ends_hidden = snprintf(whole, sizeof whole, "%s%s", w.real, path + n) <
                                                   (int)sizeof whole && private_tmp_hides(whole);

                        if (found[0] == '\0' && !ends_hidden)
                                return false;
                        /* Still inside where it ends: that name, with the
                         * rest, is the one to show. */
                        if (where && size > 0)
                                snprintf(where, size, "%s",
                                         ends_hidden && (!w.left || found[0] == '\0') ? whole : found);
                        return true;
                }
                found[0] = '\0';
                if (r != -ENOENT || n <= 1 || path[0] != '/')
                        return false;
                n = parent_len(head, n);
                head[n] = '\0';
        }
}

bool private_tmp_hides_resolved(const char *path) {
        return private_tmp_hides_where(path, NULL, 0);
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
