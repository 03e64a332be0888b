/* See home-mount.h. */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "fileio.h"
#include "home-mount.h"
#include "home-remove.h"
#include "log.h"
#include "macro.h"
#include "mount-util.h"

/* Removes the logins' HOMEs below the directory fd, and the trees set
 * aside for removal: the first failure, or 0.  Nothing else is the
 * agent's to remove (a volume's lost+found). */
static int clear_below(int fd, const char *dir) {
        _cleanup_(closep) int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        unsigned n = 0;
        int r = 0;

        if (dfd < 0)
                return negative_errno();
        d = fdopendir(dfd);
        if (!d)
                return negative_errno();
        TAKE_FD(dfd);
        while ((de = readdir(d))) {
                int q;

                if (!startswith(de->d_name, HOME_LOGIN_PREFIX) && !startswith(de->d_name, HOME_REMOVING_PREFIX))
                        continue;
                q = rm_rf_at(fd, de->d_name);
                if (q < 0 && r == 0)
                        r = q;
                n += q >= 0;
        }
        closedir(d);
        if (n > 0)
                log_info("login_home %s: removed %u HOMEs an earlier run left on the disk, before the tmpfs hides them.",
                         dir, n);
        return r;
}

int login_home_mount(const char *dir, uint32_t size_mb, gid_t cli_gid) {
        _cleanup_(closep) int fd = -EBADF;
        char options[128];
        int mounted, r;

        r = tmpfs_options(options, sizeof options, size_mb, 0710, 0, cli_gid);
        if (r < 0)
                return r;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        mounted = fd_is_tmpfs_root(fd);
        if (mounted < 0)
                return mounted;
        if (!mounted) {
                r = clear_below(fd, dir);
                if (r < 0)
                        return r;
        }
        r = tmpfs_mount_fd(fd, mounted, options);
        if (r < 0)
                return r;
        return mounted;
}
