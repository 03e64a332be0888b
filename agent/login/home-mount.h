/* login_home as a tmpfs of its own, capped: the logins' files (the CLIs'
 * credential files among them) never reach the disk, and what the other
 * users write (the browser's downloads and site data, anyone's /var/tmp)
 * cannot fill the file system a CLI writes its credentials to. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Mounts a tmpfs of size_mb MiB (nosuid, nodev, noexec; root's, 0710,
 * cli_gid's) on the directory dir, which must exist and not be a symlink.
 * The HOMEs the directory holds go first: hidden below the mount, an
 * earlier run's credential files would stay on the disk for ever.  When dir is
 * already a tmpfs's root (an earlier run's in the same mount namespace),
 * that one is remounted with the new size instead, what it holds kept for
 * the caller to sweep.  0: mounted, 1: remounted, -errno. */
int login_home_mount(const char *dir, uint32_t size_mb, gid_t cli_gid);
