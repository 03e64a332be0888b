/* See home-mount.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "home-mount.h"
#include "home-remove.h"
#include "home-tmpfs.h"
#include "log.h"
#include "macro.h"
#include "mount-util.h"

/* Removes the logins' HOMEs below the directory fd (their tmpfs detached
 * first), and the trees set aside for removal: how many, or the first
 * failure (a listing that failed half-way included: what it did not show
 * would stay hidden). */
static int clear_below(int fd) {
        _cleanup_(closep) int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        int n = 0, r = 0;

        if (dfd < 0)
                return negative_errno();
        d = fdopendir(dfd);
        if (!d)
                return negative_errno();
        TAKE_FD(dfd);
        for (errno = 0; (de = readdir(d)); errno = 0) {
                int q;

                if (!startswith(de->d_name, HOME_LOGIN_PREFIX) && !startswith(de->d_name, HOME_REMOVING_PREFIX))
                        continue;
                /* An earlier run's HOME may still have its tmpfs. */
                q = home_tmpfs_unmount_at(fd, de->d_name);
                if (q >= 0)
                        q = rm_rf_at(fd, de->d_name);
                if (q < 0 && r == 0)
                        r = q;
                n += q >= 0;
        }
        if (errno != 0 && r == 0)
                r = negative_errno();
        closedir(d);
        return r < 0 ? r : n;
}

/* The mount: 0 with *ret_removed, how many HOMEs went first, and
 * *ret_dev, the new tmpfs's device; or -errno with what failed in
 * errbuf. */
static int login_home_mount(const char *dir, uint32_t size_mb, gid_t cli_gid, unsigned *ret_removed,
                            dev_t *ret_dev, char *errbuf, size_t size) {
        _cleanup_(closep) int top = -EBADF;
        struct stat st;
        _cleanup_(closep) int fd = -EBADF;
        int removed, r;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                r = negative_errno();
                snprintf(errbuf, size, "opening it failed: %s", strerror(-r));
                return r;
        }
        removed = clear_below(fd);
        if (removed < 0) {
                snprintf(errbuf, size, "removing the HOMEs an earlier run left in it failed: %s", strerror(-removed));
                return removed;
        }
        r = tmpfs_mount_fd(fd, size_mb, 0710, 0, cli_gid);
        if (r < 0) {
                snprintf(errbuf, size, "mounting a tmpfs of %u MiB (login_home_size_mb) failed: %s", size_mb,
                         strerror(-r));
                return r;
        }
        /* The path now leads to the tmpfs's root (fd, to what it covers). */
        top = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0 || fstat(top, &st) < 0) {
                r = negative_errno();
                snprintf(errbuf, size, "the tmpfs mounted on it cannot be opened: %s", strerror(-r));
                /* Not left on, untracked: the HOMEs would go to a tmpfs the
                 * log says is not there, never put back when lost.  By
                 * path, since the open that failed is what would have
                 * named it: the mount just made, on a path only root
                 * changes. */
                (void)umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW);
                return r;
        }
        *ret_removed = (unsigned)removed;
        *ret_dev = st.st_dev;
        return 0;
}

void login_home_mount_logged(LoginHome *h) {
        unsigned removed = 0;
        char msg[256]; /* why it failed, or what went first */
        int r = login_home_mount(h->dir, h->size_mb, h->cli_gid, &removed, &h->dev, msg, sizeof msg);

        h->mounted = r >= 0;
        if (r < 0) {
                /* Each HOME still gets its own (home-tmpfs.h): only the
                 * HOMEs' directories are on dir's file system. */
                log_error("login_home %s gets no tmpfs of its own, so the HOMEs' directories go to the file system "
                          "that holds it (the logins' files still go to each HOME's own tmpfs of %u MiB): %s.",
                          h->dir, h->size_mb, msg);
                return;
        }
        if (removed > 0)
                snprintf(msg, sizeof msg, " (%u HOMEs an earlier run left removed first)", removed);
        log_info("login_home %s: a tmpfs of %u MiB, the logins' files off the disk%s.", h->dir, h->size_mb,
                 removed > 0 ? msg : "");
}

int login_home_open(LoginHome *h) {
        int fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (!h->mounted)
                return fd;
        /* Cannot tell: a new tmpfs on top would hide (and first empty) the
         * live logins' HOMEs, so this one stays, with a word in the log. */
        if (fstat(fd, &st) < 0) {
                log_warning_errno(-errno, "Cannot tell whether login_home %s still has its tmpfs: %m", h->dir);
                return fd;
        }
        /* Its own device, not "a tmpfs root": another file system there is
         * not the one the live logins' HOMEs are on. */
        if (st.st_dev == h->dev)
                return fd;
        log_warning("login_home %s has lost its tmpfs (unmounted from outside the agent): a new one goes on.",
                    h->dir);
        safe_close(fd);
        login_home_mount_logged(h);
        fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}
