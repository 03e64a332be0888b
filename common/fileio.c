/* Implementation of common/fileio.h. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int loop_write(int fd, const void *data, size_t size) {
        const char *p = data;
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                size -= (size_t)n;
        }
        return 0;
}

int write_setting(const char *path, const char *value) {
        _cleanup_(closep) int fd = -EBADF;

        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return loop_write(fd, value, strlen(value));
}

int open_regular_nofollow(const char *path, struct stat *ret_st) {
        _cleanup_(closep) int fd = -EBADF;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (ret_st)
                *ret_st = st;
        return TAKE_FD(fd);
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                if (cap - len < 1025) {
                        size_t ncap = cap ? cap * 2 : 4096;
                        if (ncap > max + 1)
                                ncap = max + 1 > len + 1 ? max + 1 : len + 2;
                        char *n = realloc(buf, ncap);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        cap = ncap;
                }
                ssize_t k = read(fd, buf + len, cap - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                len += (size_t)k;
                if (len > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[len] = '\0';
        if (ret_size)
                *ret_size = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return read_full_fd(fd, max, ret, ret_size);
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        return write_file_atomic_flags(path, data, size, mode, 0);
}

int write_file_atomic_flags(const char *path, const void *data, size_t size, mode_t mode,
                            WriteFileFlags flags) {
        return write_file_atomic_owned(path, data, size, mode, (uid_t)-1, (gid_t)-1, flags);
}

/* mkostemp() has no *at() form: the same O_EXCL name, name.XXXXXX (six
 * random letters or digits), made below dirfd. */
int tmpfile_name(const char *name, char tmp[static NAME_MAX + 1]) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        uint8_t rnd[6];
        int n;

        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
                return -EIO;
        n = snprintf(tmp, NAME_MAX + 1, "%s.XXXXXX", name);
        if (n > NAME_MAX)
                return -ENAMETOOLONG;
        for (size_t k = 0; k < sizeof rnd; k++)
                tmp[n - sizeof rnd + k] = chars[rnd[k] % (sizeof chars - 1)];
        return 0;
}

int tmpfile_at(int dirfd, const char *name, char tmp[static NAME_MAX + 1]) {
        for (unsigned i = 0; i < 16; i++) {
                int r = tmpfile_name(name, tmp), fd;

                if (r < 0)
                        return r;
                fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0 || errno != EEXIST)
                        return fd >= 0 ? fd : negative_errno();
        }
        return -EEXIST;
}

/* Makes a rename in dirfd (AT_FDCWD: the working directory) durable. */
static int fsync_dir(int dirfd) {
        _cleanup_(closep) int fd = -EBADF;

        if (dirfd == AT_FDCWD) {
                fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                dirfd = fd;
        }
        return fsync(dirfd) < 0 ? negative_errno() : 0;
}

/* The one atomic writer: a temporary file below dirfd, given its owner
 * and mode on its fd (a symlink planted at name is replaced, never
 * followed), synced unless told not to, renamed over name, and then the
 * directory synced too: once this returns, a crash leaves the new file
 * (what a caller that acknowledges it relies on). */
static int write_at(int dirfd, const char *name, const void *data, size_t size, mode_t mode, uid_t uid,
                    gid_t gid, WriteFileFlags flags) {
        char tmp[NAME_MAX + 1];
        _cleanup_(closep) int fd = -EBADF;
        int r;

        if (!filename_is_valid(name))
                return -EINVAL;
        fd = tmpfile_at(dirfd, name, tmp);
        if (fd < 0)
                return fd;
        r = loop_write(fd, data, size);
        if (r >= 0 && (uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
                r = negative_errno();
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = negative_errno();
        if (r >= 0 && !(flags & WRITE_FILE_NO_SYNC) && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = negative_errno();
        if (r < 0) {
                (void)unlinkat(dirfd, tmp, 0);
                return r;
        }
        return flags & WRITE_FILE_NO_SYNC ? 0 : fsync_dir(dirfd);
}

int write_file_atomic_owned(const char *path, const void *data, size_t size, mode_t mode, uid_t uid,
                            gid_t gid, WriteFileFlags flags) {
        const char *slash = strrchr(path, '/');
        _cleanup_(freep) char *dir = NULL;
        _cleanup_(closep) int dfd = -EBADF;

        if (!slash)
                return write_at(AT_FDCWD, path, data, size, mode, uid, gid, flags);
        dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        if (!dir)
                return -ENOMEM;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        return write_at(dfd, slash + 1, data, size, mode, uid, gid, flags);
}

int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t size, mode_t mode) {
        return write_at(dirfd, name, data, size, mode, (uid_t)-1, (gid_t)-1, 0);
}

/* The name link names: joined to the link's directory when relative,
 * as the kernel reads it.  Owned, or -errno. */
static int link_target(const char *link, char **ret) {
        const char *slash = strrchr(link, '/');
        char target[PATH_MAX];
        ssize_t k;

        k = readlink(link, target, sizeof target);
        if (k < 0)
                return negative_errno();
        if ((size_t)k >= sizeof target)
                return -ENAMETOOLONG;
        target[k] = '\0';
        if (target[0] == '/' || !slash)
                *ret = strdup(target);
        else if (asprintf(ret, "%.*s/%s", (int)(slash - link), link, target) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

/* link_target() of a symlink of owner's (st, its lstat()); another's:
 * -EPERM. */
static int link_read(const char *link, const struct stat *st, uid_t owner, char **ret) {
        return st->st_uid == owner ? link_target(link, ret) : -EPERM;
}

int path_follow_links(const char *path, uid_t owner, char **ret) {
        _cleanup_(freep) char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (unsigned n = 0;; n++) {
                struct stat st;
                char *next;
                int r;

                if (lstat(p, &st) < 0) {
                        if (errno != ENOENT)
                                return negative_errno();
                        break; /* nothing there: made there */
                }
                if (!S_ISLNK(st.st_mode))
                        break;
                if (n >= LINKS_FOLLOWED_MAX)
                        return -ELOOP;
                r = link_read(p, &st, owner, &next);
                if (r < 0)
                        return r;
                free(p);
                p = next;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int mkdir_all(const char *path, mode_t parents_mode, mode_t mode) {
        _cleanup_(freep) char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, parents_mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* One removal: the tree's top directory, where directories nested too
 * deep to enter are moved up to (flattening it), and its file system. */
typedef struct RmRf {
        int top;
        dev_t dev;
        unsigned moved;  /* directories moved up in this pass */
        unsigned moves;  /* and in all of them */
        unsigned serial; /* for the names of the moved ones */
} RmRf;

static int rm_rf_below(RmRf *x, int dirfd, const char *name, unsigned depth);

/* Empties the directory fd (taken) of the tree. */
static int rm_rf_children(RmRf *x, int fd, unsigned depth) {
        DIR *d = fdopendir(fd);
        struct dirent *de;
        int r = 0, k;

        if (!d) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        for (errno = 0; (de = readdir(d)); errno = 0) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                k = rm_rf_below(x, dirfd(d), de->d_name, depth);
                if (k < 0 && r == 0)
                        r = k;
        }
        if (errno != 0 && r == 0)
                r = -errno;
        closedir(d);
        return r;
}

static int unlink_entry(int dirfd, const char *name, int flags) {
        return unlinkat(dirfd, name, flags) < 0 && errno != ENOENT ? -errno : 0;
}

/* A directory too deep to enter (one fd per level) goes up into the top
 * one, under a name of its own, for the next pass. */
static int move_up(RmRf *x, int dirfd, const char *name) {
        char moved[32];

        /* A tree still growing meanwhile is not chased forever (a moved
         * one may even come up again in the same pass). */
        if (x->moves >= RM_RF_MOVES_MAX)
                return -ELOOP;
        for (unsigned tries = 0; tries < 1000; tries++) {
                snprintf(moved, sizeof moved, ".rm-rf-%u", x->serial++);
                if (renameat2(dirfd, name, x->top, moved, RENAME_NOREPLACE) >= 0) {
                        x->moved++;
                        x->moves++;
                        return 0;
                }
                if (errno != EEXIST)
                        return errno == ENOENT ? 0 : -errno;
        }
        return -EEXIST;
}

/* Opens the directory name below dirfd, never through a symlink: 1, with
 * *ret_fd and its file system in *ret_dev (what was opened: it may have
 * been swapped since it was looked at).  Something else in its place (a
 * file or a symlink) is removed, and that, or nothing there, is 0. */
static int open_dir_or_unlink(int dirfd, const char *name, int *ret_fd, dev_t *ret_dev) {
        struct stat st;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

        if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
                return unlink_entry(dirfd, name, 0);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        *ret_fd = fd;
        *ret_dev = st.st_dev;
        return 1;
}

static int rm_rf_below(RmRf *x, int dirfd, const char *name, unsigned depth) {
        struct stat st;
        dev_t dev;
        int fd, r, k;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink_entry(dirfd, name, 0);
        if (st.st_dev != x->dev)
                return -EXDEV;
        if (depth >= RM_RF_DEPTH_MAX)
                return move_up(x, dirfd, name);
        r = open_dir_or_unlink(dirfd, name, &fd, &dev);
        if (r <= 0)
                return r;
        if (dev != x->dev) {
                safe_close(fd);
                return -EXDEV;
        }
        r = rm_rf_children(x, fd, depth + 1);
        k = unlink_entry(dirfd, name, AT_REMOVEDIR);
        return r < 0 ? r : k;
}

int rm_rf_at(int dirfd, const char *name) {
        _cleanup_(closep) int top = -EBADF;
        dev_t dev;
        RmRf x;
        int r, first = 0;

        if (!filename_is_valid(name))
                return -EINVAL;
        r = open_dir_or_unlink(dirfd, name, &top, &dev);
        if (r <= 0)
                return r;
        x = (RmRf){ .top = top, .dev = dev };
        /* Each pass removes RM_RF_DEPTH_MAX - 1 levels more of the deepest
         * branch, until one moves nothing (move_up() bounds them). */
        for (;;) {
                /* A file description of its own per pass: no offset or
                 * directory stream state shared with the last one. */
                int fd = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);

                if (fd < 0)
                        return first < 0 ? first : -errno;
                x.moved = 0;
                r = rm_rf_children(&x, fd, 1);
                if (r < 0 && first == 0)
                        first = r;
                if (x.moved == 0) {
                        r = unlink_entry(dirfd, name, AT_REMOVEDIR);
                        return first < 0 ? first : r;
                }
        }
}

int mkdir_owned(const char *path, mode_t mode, uid_t uid, gid_t gid) {
        _cleanup_(freep) char *parent = strdup(path);
        _cleanup_(closep) int fd = -EBADF;
        char *slash = parent ? strrchr(parent, '/') : NULL;
        bool created;
        struct stat st;
        int r;

        if (!parent)
                return -ENOMEM;
        if (parent[0] != '/' || slash == parent || !slash[1])
                return -EINVAL; /* relative, "/x" (a top-level directory) or a trailing slash */
        *slash = '\0';
        r = mkdir_all(parent, 0755, 0755);
        if (r < 0)
                return r;
        created = mkdir(path, mode) >= 0;
        if (!created && errno != EEXIST)
                return -errno;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        if (!created && st.st_uid != uid)
                return -EPERM;
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                return negative_errno();
        if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
                return negative_errno();
        return 0;
}

/* The bits of want (R_OK, X_OK: rwx's positions) st grants uid with gid. */
static bool mode_grants(const struct stat *st, uid_t uid, gid_t gid, int want) {
        mode_t bits = st->st_uid == uid ? st->st_mode >> 6 : st->st_gid == gid ? st->st_mode >> 3 : st->st_mode;

        return ((mode_t)want & bits & 07) == (mode_t)want;
}

/* p (a trailing '/' dropped) and st into ret, unless an ACL decides. */
static int denial_fill(const char *p, const struct stat *st, PathDenial *ret) {
        size_t n = strlen(p);

        if (getxattr(p, "system.posix_acl_access", NULL, 0) >= 0)
                return 0;
        if (n > 1 && p[n - 1] == '/')
                n--;
        snprintf(ret->where, sizeof ret->where, "%.*s", (int)n, p);
        ret->is_dir = S_ISDIR(st->st_mode);
        ret->mode = st->st_mode & 07777;
        ret->owner = st->st_uid;
        ret->group = st->st_gid;
        return 1;
}

/* Search on each directory on the way to path's last component. */
static int dirs_denied(const char *path, uid_t uid, gid_t gid, PathDenial *ret) {
        _cleanup_(freep) char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *slash = p; slash; slash = strchr(slash + 1, '/')) {
                char keep = slash[1];
                struct stat st;

                slash[1] = '\0';
                if (stat(p, &st) < 0)
                        return -errno;
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                if (!mode_grants(&st, uid, gid, X_OK) && denial_fill(p, &st, ret) > 0)
                        return 1;
                slash[1] = keep;
        }
        return 0;
}

/* Search on the directories of each symlink's target on the way from
 * path to its file, which the kernel looks the target up through: for a
 * -> /x/l2 -> /y/f, /x, which neither path nor where it leads names.  A
 * relative target from its link's directory. */
static int link_dirs_denied(const char *path, uid_t uid, gid_t gid, PathDenial *ret) {
        _cleanup_(freep) char *cur = strdup(path);

        if (!cur)
                return -ENOMEM;
        for (unsigned links = 0;; links++) {
                struct stat st;
                char *next;
                int r;

                if (lstat(cur, &st) < 0)
                        return -errno;
                if (!S_ISLNK(st.st_mode))
                        return 0;
                if (links >= LINKS_FOLLOWED_MAX)
                        return -ELOOP;
                r = link_target(cur, &next);
                if (r < 0)
                        return r;
                free(cur);
                cur = next;
                r = dirs_denied(cur, uid, gid, ret);
                if (r != 0)
                        return r;
        }
}

int path_passable(const char *path, uid_t uid, gid_t gid, char *blocked, size_t size) {
        PathDenial d;
        int r;

        if (isempty(path) || path[0] != '/')
                return -EINVAL;
        r = dirs_denied(path, uid, gid, &d);
        if (r <= 0)
                return r;
        if (size > 0)
                snprintf(blocked, size, "%s", d.where);
        return -EACCES;
}

int path_access_denied(const char *path, uid_t uid, gid_t gid, int want, PathDenial *ret) {
        _cleanup_(freep) char *real = NULL;
        struct stat st;
        int r;

        if (isempty(path) || path[0] != '/')
                return -EINVAL;
        if (stat(path, &st) < 0)
                return -errno;
        /* Where it leads first: a directory is named as it is, not by a
         * link to it. */
        real = realpath(path, NULL);
        if (!real)
                return -errno;
        r = dirs_denied(real, uid, gid, ret);
        if (r == 0)
                r = dirs_denied(path, uid, gid, ret);
        if (r == 0)
                r = link_dirs_denied(path, uid, gid, ret);
        if (r != 0)
                return r;
        if (!S_ISREG(st.st_mode) || mode_grants(&st, uid, gid, want))
                return 0;
        return denial_fill(path, &st, ret);
}

bool filename_is_valid(const char *s) {
        return !isempty(s) && !strchr(s, '/') && !streq(s, ".") && !streq(s, "..");
}

bool path_is_safe_relative(const char *s) {
        const char *p = s;

        if (isempty(s) || *s == '/')
                return false;
        while (*p) {
                size_t n = strcspn(p, "/");

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += n;
                if (*p == '/' && !*++p)
                        return false;
        }
        return true;
}

int open_writable_dir(const char *dir) {
        _cleanup_(closep) int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (dfd < 0)
                return -errno;
        if (faccessat(dfd, ".", W_OK | X_OK, AT_EACCESS) < 0)
                return -errno;
        return TAKE_FD(dfd);
}
