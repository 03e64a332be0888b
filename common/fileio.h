/* Bounded file reading and atomic file writing. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Reads at most max bytes of path into a NUL-terminated buffer (owned by
 * the caller).  -EFBIG when the file is larger than max. ret_size may be
 * NULL.  Written only on success. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* Reads at most max bytes from fd until EOF; same contract as above. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);

struct stat;
/* Opens path for reading when it is a regular file, for files in a
 * directory someone else may write (a CLI's HOME, the browser's profile):
 * never through a symlink in its place (-ELOOP), never blocking on a FIFO
 * or a device (-EBADFD).  The fd (O_CLOEXEC, O_NONBLOCK), its stat in
 * *ret_st when not NULL, or -errno. */
int open_regular_nofollow(const char *path, struct stat *ret_st);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename over path.  Readers see the old or the new file, never a
 * half-written one. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

typedef enum WriteFileFlags {
        /* Skip the fsyncs (the file's and its directory's): still atomic
         * for readers, but after a crash the file may be old or empty.  For files regenerated on every boot
         * (resolv.conf, hosts), where an fsync per file costs boot time. */
        WRITE_FILE_NO_SYNC = 1 << 0,
} WriteFileFlags;

/* write_file_atomic() with flags; write_file_atomic() is flags == 0. */
int write_file_atomic_flags(const char *path, const void *data, size_t size, mode_t mode,
                            WriteFileFlags flags);

/* write_file_atomic_flags() whose file is given to uid:gid ((uid_t)-1,
 * (gid_t)-1: ours) before it replaces path: for files root writes into a
 * directory another user owns (a symlink there is replaced, not followed). */
int write_file_atomic_owned(const char *path, const void *data, size_t size, mode_t mode, uid_t uid,
                            gid_t gid, WriteFileFlags flags);

/* write_file_atomic() of name in the directory dirfd: for a directory
 * whose path another user could redirect (a symlink put in place of one
 * of its components), which is opened once, without following one, and
 * written below.  name is one component; a symlink at name is replaced,
 * never followed. */
int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t size, mode_t mode);

/* A new file beside name in dirfd, name.XXXXXX (six random letters or
 * digits; its name in tmp), created O_EXCL, 0600, write-only, never
 * through a symlink: its fd, or -errno.  For a writer that readies the
 * file before it has what goes in, then renames it over name. */
int tmpfile_at(int dirfd, const char *name, char tmp[static NAME_MAX + 1]);
/* tmp: a name for a new file beside name, name.XXXXXX (as tmpfile_at()'s),
 * not checked to be free: 0, or -ENAMETOOLONG, -EIO. */
int tmpfile_name(const char *name, char tmp[static NAME_MAX + 1]);

/* dir, opened (O_DIRECTORY, O_CLOEXEC) once the caller may create files
 * in it (write and search, by its effective ids): the fd, or -errno. */
int open_writable_dir(const char *dir);

/* Where a chain of symlinks at path leads: the name the last link names
 * (a relative one taken from its link's directory, as the kernel reads
 * it), or path itself when no link is there, a file or nothing, so that a
 * caller writes there, a link to nothing included (as open(O_CREAT)
 * would).  Only links that owner owns are followed: another's is refused
 * (-EPERM), so that no one else's link sends a write of root's anywhere
 * (as fs.protected_symlinks does in a sticky directory, but everywhere).
 * More than LINKS_FOLLOWED_MAX links: -ELOOP.  Directories on the way are
 * left to the kernel, which resolves them when the name is opened.  The
 * name (owned) in *ret, or -errno. */
#define LINKS_FOLLOWED_MAX 40 /* the kernel's MAXSYMLINKS */
int path_follow_links(const char *path, uid_t owner, char **ret);

/* write() all of it, retrying on EINTR and short writes. */
int loop_write(int fd, const void *data, size_t size);

/* Writes value into an existing file that takes it whole, in place: a
 * /proc/sys or /sys setting. */
int write_setting(const char *path, const char *value);

/* mkdir -p: the missing parents of path get parents_mode, path itself
 * mode; existing directories are left as they are. */
int mkdir_all(const char *path, mode_t parents_mode, mode_t mode);

/* Removes name (relative to dirfd) and, when it is a directory, everything
 * below it, never following a symlink: a symlink is removed, not what it
 * points to, so a tree someone else could write into (a login's HOME)
 * cannot make us delete anything outside it.  Directories on another file
 * system are not entered (-EXDEV); the rest is still removed.  One fd is
 * held per level entered: a directory nested RM_RF_DEPTH_MAX deep is moved
 * up into name itself and removed in a further pass, so depth leaves
 * nothing behind; a tree still growing under it is given up on after
 * RM_RF_MOVES_MAX such moves (-ELOOP).  Entries that are already gone
 * count as removed.  0, or the first -errno. */
#define RM_RF_DEPTH_MAX 64
#define RM_RF_MOVES_MAX 4096
int rm_rf_at(int dirfd, const char *name);

/* A directory that belongs to uid:gid with exactly mode, for a service
 * that runs as that user: created (parents 0755) when missing; an existing
 * one is only fixed up (mode, group) when uid already owns it, else -EPERM,
 * so a misconfigured path never hands someone else's directory (/tmp, /var)
 * to the user.  A symlink is refused (-ELOOP or -ENOTDIR), and so are a
 * relative path and a top-level one (-EINVAL). */
int mkdir_owned(const char *path, mode_t mode, uid_t uid, gid_t gid);


/* What keeps uid with gid (and no other group, no capability) from
 * opening path for want (R_OK, X_OK or both) by the mode bits, as the
 * kernel's generic_permission() reads them: the owner's bits for the
 * owner, else the group's for the group, else the others'.  Search on
 * each directory on the way, of where path's symlinks lead (realpath(),
 * the name said), of path as written and of each symlink's target on the
 * way (a -> /x/l2 -> /y/f: /x too), then want on path, a regular
 * file (any
 * other is not judged here).  One with a POSIX ACL is not judged (it
 * passes): its mode bits do not say.  0 when nothing keeps it out; 1 and
 * *ret when something does; -errno when path or a directory on the way
 * cannot be looked at (-ENOENT: not there), -EINVAL for a relative path.
 * A check for a clear message at start, not a guard. */
typedef struct PathDenial {
        char where[PATH_MAX]; /* path, or the directory uid may not search */
        bool is_dir;
        mode_t mode;          /* where's permission bits, its owner and group */
        uid_t owner;
        gid_t group;
} PathDenial;
int path_access_denied(const char *path, uid_t uid, gid_t gid, int want, PathDenial *ret);

/* Whether uid with gid (and no other group) may pass through every
 * directory on the way to path's last component, as written, by their
 * mode bits (one with a POSIX ACL passes, as in path_access_denied()):
 * 0; -EACCES with the first directory it may not pass copied into
 * blocked (size bytes, may be 0); -errno when one cannot be looked at
 * (-ENOTDIR: a file on the way); -EINVAL for a relative path.  A check
 * for a clear warning, not a guard: a directory may change after. */
int path_passable(const char *path, uid_t uid, gid_t gid, char *blocked, size_t size);

/* A single file name: not empty, no '/', not "." or "..".  Pure. */
bool filename_is_valid(const char *s);
/* A relative path that stays below where it starts: not empty, not
 * absolute, no empty, "." or ".." component (so no trailing '/').  Pure. */
bool path_is_safe_relative(const char *s);
