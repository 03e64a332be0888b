/* See home-tmpfs.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "home-tmpfs.h"
#include "macro.h"
#include "mount-util.h"

/* Mounts stacked on one HOME: the agent puts one there; more are another
 * root's doing, detached all the same, up to this many. */
#define HOME_MOUNTS_MAX 16

/* Removes <dirfd>/<name> when it is still the empty directory made
 * describes and nothing is mounted on it: a HOME whose making failed
 * after its directory was made (root's and empty) would otherwise wait
 * for the next sweep (or a retry of the same id).  The same device and
 * inode by name as when made: no other directory put in its place, no
 * mount on top (its root would answer by name); rmdir itself refuses
 * one not empty. */
static void remove_made(int dirfd, const char *name, const struct stat *made) {
        struct stat named;

        if (fstatat(dirfd, name, &named, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        if (named.st_dev != made->st_dev || named.st_ino != made->st_ino)
                return;
        (void)unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* <dirfd>/<name>, just made, made uid:gid's HOME: a tmpfs on it, or
 * (size_mb 0) the directory itself handed over.  By an fd, opened
 * first: the open is what fails when the agent has run out of fds. */
static int home_own(int dirfd, const char *name, uint32_t size_mb, uid_t uid, gid_t gid, char *why,
                    size_t size) {
        _cleanup_(closep) int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r;

        if (fd < 0) {
                r = -errno;
                snprintf(why, size, "opening it failed: %s", strerror(-r));
                return r;
        }
        if (size_mb == 0) {
                if (fchown(fd, uid, gid) >= 0)
                        return 0;
                r = -errno;
                snprintf(why, size, "making it uid %u's failed: %s", (unsigned)uid, strerror(-r));
                return r;
        }
        r = tmpfs_mount_fd(fd, size_mb, 0700, uid, gid);
        if (r < 0)
                snprintf(why, size, "mounting a tmpfs of %u MiB (login_home_size_mb) on it failed: %s", size_mb,
                         strerror(-r));
        return r;
}

/* The CLI's TMPDIR, <dirfd>/<path>, made uid:gid's before the CLI runs:
 * no one could have put a link in its place. */
static int tmpdir_make(int dirfd, const char *path, uid_t uid, gid_t gid) {
        if (mkdirat(dirfd, path, 0700) < 0)
                return -errno;
        if (fchownat(dirfd, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return 0;
}

/* Undoes what a failed home_tmpfs_make_at() made of <dirfd>/<name>:
 * its tmpfs, with the TMPDIR in it, detached (a HOME left mounted would
 * hold its memory until the next sweep); without one, the TMPDIR made
 * below it (rmdir follows no link and refuses one not empty, so nothing
 * but an empty directory goes); then the directory made, as made
 * describes it. */
static void unmake(int dirfd, const char *name, const char *tmp, const struct stat *made) {
        (void)home_tmpfs_unmount_at(dirfd, name);
        (void)unlinkat(dirfd, tmp, AT_REMOVEDIR);
        remove_made(dirfd, name, made);
}

int home_tmpfs_make_at(int dirfd, const char *name, const char *tmpdir, uint32_t size_mb, uid_t uid, gid_t gid,
                       char *why, size_t size) {
        char tmp[PATH_MAX];
        struct stat made;
        int r;

        if (snprintf(tmp, sizeof tmp, "%s/%s", name, tmpdir) >= (int)sizeof tmp) {
                snprintf(why, size, "its %s's name is too long", tmpdir);
                return -ENAMETOOLONG;
        }
        if (mkdirat(dirfd, name, 0700) < 0) {
                r = -errno;
                snprintf(why, size, "making it failed: %s", strerror(-r));
                return r;
        }
        /* Made just now in a directory only root writes to: no one can have
         * swapped it for a link, so what name leads to now is what was
         * made, and a failure below removes only that. */
        if (fstatat(dirfd, name, &made, AT_SYMLINK_NOFOLLOW) < 0) {
                r = -errno;
                snprintf(why, size, "looking at it failed: %s", strerror(-r));
                return r;
        }
        r = home_own(dirfd, name, size_mb, uid, gid, why, size);
        if (r >= 0 && (r = tmpdir_make(dirfd, tmp, uid, gid)) < 0)
                snprintf(why, size, "making its %s failed: %s", tmpdir, strerror(-r));
        if (r < 0)
                unmake(dirfd, name, tmp, &made);
        return r;
}

/* Detaches the topmost mount on <dirfd>/<name>: 1, 0 when name is no
 * mount point (or not there, or no directory), or -errno. */
static int unmount_top(int dirfd, const char *name) {
        _cleanup_(closep) int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st, parent;
        char path[64];
        int r;

        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;
        r = fd_is_mount_root(fd);
        if (r < 0)
                return r;
        /* A kernel before 5.8 cannot say: another device is a mount too. */
        if (r == 0 && (fstat(dirfd, &parent) < 0 || fstat(fd, &st) < 0))
                return -errno;
        if (r == 0 && st.st_dev == parent.st_dev)
                return 0;
        /* By the fd: no symlink swapped in by name is followed.  Detached:
         * what a leftover process holds open keeps the tmpfs's memory
         * until it closes it, but nothing is reachable by name. */
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        return umount2(path, MNT_DETACH) < 0 ? -errno : 1;
}

int home_tmpfs_unmount_at(int dirfd, const char *name) {
        for (int n = 0; n <= HOME_MOUNTS_MAX; n++) {
                int r = unmount_top(dirfd, name);

                if (r <= 0)
                        return r < 0 ? r : n > 0;
        }
        return -EBUSY;
}
