/* Size-capped tmpfs on a directory: for files that must stay off the disk
 * and that no other user's files may crowd out (the logins' HOMEs, whose
 * credential files would otherwise sit on a root file system that the
 * browser's pages and every local user can fill). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One inode per this many bytes of a capped tmpfs: a file count that its
 * size bounds too (tmpfs's own default is half the RAM's pages). */
#define TMPFS_BYTES_PER_INODE 4096u
#define TMPFS_SIZE_MB_MAX (1u << 20) /* 1 TiB */

/* The mount options of a tmpfs of size_mb MiB (1..TMPFS_SIZE_MB_MAX)
 * whose root is uid:gid with mode (07777 at most), in buf.  -EINVAL for a
 * size or mode out of range, -ENOBUFS when buf is too small.  Pure. */
int tmpfs_options(char *buf, size_t size, uint32_t size_mb, mode_t mode, uid_t uid, gid_t gid);

/* 1 when fd's directory is the root of a mount (a bind mount's too), 0
 * when not or when the kernel cannot say (before 5.8), or -errno. */
int fd_is_mount_root(int fd);

/* Mounts a new tmpfs (nosuid, nodev, noexec) of size_mb MiB, its root
 * uid:gid with mode (tmpfs_options()), on the directory fd refers to (an
 * fd, so no symlink swapped in after it was opened is followed); whatever
 * was there stays below it.  0 or -errno (-EINVAL for what
 * tmpfs_options() refuses). */
int tmpfs_mount_fd(int fd, uint32_t size_mb, mode_t mode, uid_t uid, gid_t gid);

/* The directories anyone may write to by name (/tmp, /var/tmp, /dev/shm,
 * /run/lock): what one program leaves there, the next of its user (or
 * any other) would find.  A private_tmp child (common/launch.h) gets a
 * new, empty tmpfs on each that exists.  NULL-ended. */
extern const char *const private_tmp_dirs[];

/* Whether a private_tmp child sees an empty file system in path's place
 * (path is one of private_tmp_dirs or below one, by name once "//", "."
 * and ".." are taken out, or below /var/lock, a symlink to /run/lock):
 * what it must reach cannot be there.  Pure. */
bool private_tmp_hides(const char *path);

/* private_tmp_hides() for path or for where its symlinks lead
 * (/usr/local/bin/x -> /tmp/x is hidden too), through each name they
 * pass (/usr/local/bin/x -> /tmp/x -> /usr/bin/env too: the child finds
 * no /tmp/x to go on from); a path not made yet by where its longest
 * existing prefix leads (/srv/scratch/logins, with /srv/scratch -> /tmp).
 * A dangling symlink by its own name.  When hidden, where gets the name
 * below those directories that path leads to first (path itself when
 * hidden by name, "/tmp/x" for both links above); "" when not.  where may
 * be NULL. */
bool private_tmp_hides_where(const char *path, char *where, size_t size);
bool private_tmp_hides_resolved(const char *path);
