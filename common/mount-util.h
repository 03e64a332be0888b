/* Size-capped tmpfs on a directory: for files that must never reach the
 * disk and that no other user's files may crowd out (the logins' HOMEs,
 * whose credential files sit beside a root file system that the browser's
 * pages and every local user can fill). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One inode per this many bytes of a capped tmpfs: a file count that its
 * size bounds too (tmpfs's own default is half the RAM's pages). */
#define TMPFS_BYTES_PER_INODE 4096u

/* The mount options of a tmpfs of size_mb MiB (1..1048576) whose root is
 * uid:gid with mode (07777 at most), in buf.  -EINVAL for a size or mode
 * out of range, -ENOBUFS when buf is too small.  Pure. */
int tmpfs_options(char *buf, size_t size, uint32_t size_mb, mode_t mode, uid_t uid, gid_t gid);

/* 1 when fd's directory is the root of a tmpfs mount, 0 when not, or
 * -errno. */
int fd_is_tmpfs_root(int fd);

/* Mounts a tmpfs (nosuid, nodev, noexec) with options on the directory
 * fd refers to (an fd, so no symlink swapped in after it was opened is
 * followed), or with remount changes the tmpfs whose root it is (what it
 * holds is kept).  0 or -errno. */
int tmpfs_mount_fd(int fd, bool remount, const char *options);
