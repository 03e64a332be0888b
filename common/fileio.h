/* Bounded file reading and atomic file writing. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads at most max bytes of path into a NUL-terminated buffer (owned by
 * the caller).  -EFBIG when the file is larger than max. ret_size may be
 * NULL.  Written only on success. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* Reads at most max bytes from fd until EOF; same contract as above. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename over path.  Readers see the old or the new file, never a
 * half-written one. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* write() all of it, retrying on EINTR and short writes. */
int loop_write(int fd, const void *data, size_t size);
