/* Each login's HOME as a tmpfs of its own, capped in bytes and inodes:
 * all logins' HOMEs in one file system would let one login's CLI (npm
 * code from the registry) fill it, and a concurrent login's CLI could
 * then not write its credential file.  The tmpfs goes on before the CLI
 * starts (the mount namespace it is given is a copy of the agent's, taken
 * then), and is detached when the HOME goes, which frees what it holds
 * once nothing has it open: a mount point cannot be renamed, so it is
 * unmounted before the HOME's directory is set aside (home-remove.h). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* <dirfd>/<name>, made (0700, root's, where only root writes) and made
 * the CLI user's HOME: with size_mb > 0 a tmpfs of that size goes on it
 * (nosuid, nodev, noexec; its root uid:gid, 0700; an inode per
 * TMPFS_BYTES_PER_INODE), else the directory itself becomes uid:gid's;
 * then <tmpdir> in it (the CLI's TMPDIR), 0700 and uid:gid's.
 * 0, or -errno with the step that failed in why ("mounting a tmpfs of
 * 64 MiB (login_home_size_mb) on it failed: Operation not permitted").
 * A step that fails after the directory was made undoes what was made:
 * the tmpfs detached, the TMPDIR removed, and the directory (when name
 * still leads to it, empty, with no mount on it); only a failure to stat
 * it right after making it (the kernel out of memory) leaves it, root's
 * and empty, to the next sweep. */
int home_tmpfs_make_at(int dirfd, const char *name, const char *tmpdir, uint32_t size_mb, uid_t uid, gid_t gid,
                       char *why, size_t size);

/* Detaches every mount on <dirfd>/<name> (a HOME's tmpfs, an earlier
 * run's too), so that the directory below can be renamed and removed: 1
 * when something was detached, 0 when name is no mount point (or not
 * there, or no directory), or -errno. */
int home_tmpfs_unmount_at(int dirfd, const char *name);
