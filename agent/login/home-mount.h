/* login_home as a tmpfs of its own, capped: the logins' files (the CLIs'
 * credential files among them) are never written to the VM's disk, and
 * what the other users write (the browser's downloads and site data,
 * anyone's /var/tmp) cannot fill the file system a CLI writes its
 * credentials to. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Mounts a tmpfs of size_mb MiB (nosuid, nodev, noexec; root's, 0710,
 * cli_gid's) on the directory dir, which must exist and not be a symlink.
 * The HOMEs (and trees set aside for removal) that dir shows go first,
 * here and now: hidden below the mount, an earlier run's credential files
 * would stay there for ever, on the disk or in an earlier run's tmpfs (an
 * agent restarted in the same mount namespace), which then stays below,
 * empty.  Nothing else in dir is touched (a volume's lost+found).
 * 0 with *ret_removed, how many went; or -errno with what failed in
 * errbuf. */
int login_home_mount(const char *dir, uint32_t size_mb, gid_t cli_gid, unsigned *ret_removed, char *errbuf,
                     size_t size);

/* 1 when the directory fd refers to is the root of a tmpfs (the mount
 * login_home_mount() made, unless something replaced it), 0 when not
 * (unmounted or detached from outside the agent), or -errno. */
int login_home_mounted(int fd);
