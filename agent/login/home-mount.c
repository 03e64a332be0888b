/* See home-mount.h. */
#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fileio.h"
#include "home-mount.h"
#include "home-remove.h"
#include "macro.h"
#include "mount-util.h"

/* Removes the logins' HOMEs below the directory fd, and the trees set
 * aside for removal: how many, or the first failure (a listing that
 * failed half-way included: what it did not show would stay hidden). */
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

int login_home_mount(const char *dir, uint32_t size_mb, gid_t cli_gid, unsigned *ret_removed, char *errbuf,
                     size_t size) {
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
        *ret_removed = (unsigned)removed;
        return 0;
}

int login_home_mounted(int fd) {
        struct statfs sf;
        int r = fd_is_mount_root(fd);

        if (r <= 0)
                return r;
        if (fstatfs(fd, &sf) < 0)
                return negative_errno();
        return sf.f_type == TMPFS_MAGIC;
}
