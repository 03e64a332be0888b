/* login_home as a tmpfs of its own, capped: the logins' files (the CLIs'
 * credential files among them) are never written to the VM's disk, and
 * what the other users write (the browser's downloads and site data,
 * anyone's /var/tmp) cannot fill the file system a CLI writes its
 * credentials to. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* login_home: the directory (which must exist and not be a symlink), the
 * tmpfs's size, the CLIs' group, and whether the tmpfs is on. */
typedef struct LoginHome {
        const char *dir;
        uint32_t size_mb;
        gid_t cli_gid;
        bool mounted;
        dev_t dev; /* the tmpfs's, while mounted */
} LoginHome;

/* Mounts a tmpfs of size_mb MiB (nosuid, nodev, noexec; root's, 0710,
 * cli_gid's) on dir, and logs it.  The HOMEs (and trees set aside for
 * removal) that dir shows go first, here and now: hidden below the mount,
 * an earlier run's credential files would stay there for ever, on the
 * disk or in an earlier run's tmpfs (an agent restarted in the same mount
 * namespace), which then stays below, empty.  Nothing else in dir is
 * touched (a volume's lost+found).  On a failure, the log says what failed
 * (the logins still work: each HOME is still a tmpfs of its own, only its
 * directory is on the file system that holds dir), mounted is false,
 * and no tmpfs of its is left on dir (one mounted but then not to be
 * opened is detached). */
void login_home_mount_logged(LoginHome *h);

/* dir, opened (an fd, or -errno).  A tmpfs of mounted's that was
 * unmounted or detached from outside the agent (root in another mount
 * namespace can remove the directory below it) would leave the next HOME
 * on the disk unnoticed: when dir is on another device than the tmpfs
 * made, a new one goes on first, and the log says so. */
int login_home_open(LoginHome *h);
