/* The file `ctl login --out` writes the credentials to.  A pull delivers
 * once: the agent wipes the credentials once its answer went out whole,
 * so whatever can fail in writing them is done before the pull, while
 * the agent still holds them: the directory is checked before the login
 * starts, and the file is created and given its room (fallocate) right
 * before the pull.  After it only the write into that room, the sync and
 * the naming are left.  The file is unnamed (O_TMPFILE) until then, so a
 * ctl killed during the pull leaves nothing beside --out; where the file
 * system has no unnamed files (or one cannot be given a name: no /proc),
 * it is a named temporary file (named). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Room made for the credentials: an answer's body is at most this (ctl's
 * bound on it), and their compact JSON is not longer than the answer. */
#define CTL_OUT_ROOM (4 * 1024 * 1024)

typedef struct CtlOut {
        const char *path;       /* as given (borrowed) */
        const char *name;       /* its last component, in path */
        char *dir;              /* the directory it goes in (owned) */
        int dfd;
        int fd;                 /* the temporary file, room made; -EBADF: none */
        char tmp[NAME_MAX + 1]; /* its name in dir while it has one ("": none) */
        bool named;             /* dir has no unnamed files: the temporary file is named from the start */
        bool kept;              /* ctl_out_commit() failed with the credentials durable in tmp */
        bool renamed;           /* the credentials are at path (maybe not durably, see commit) */
} CtlOut;

#define CTL_OUT_NULL { .dfd = -EBADF, .fd = -EBADF }

/* Checks that path's directory takes a file of CTL_OUT_ROOM bytes now
 * (made and removed again), and whether it is unnamed there (o->named):
 * 0, or -errno (-EINVAL for a path whose last component is no file name,
 * -EISDIR for a directory there). */
int ctl_out_open(CtlOut *o, const char *path);
/* Creates the temporary file (0600) and makes CTL_OUT_ROOM bytes of room
 * in it, where the file system can (-ENOSPC when there is not that much). */
int ctl_out_reserve(CtlOut *o);
/* Writes data into the reserved file, cut to its size, synced, named
 * path (an unnamed one linked there, or beside it and renamed over it;
 * a named one renamed), the directory synced: 0, or -errno.  On failure,
 * o->renamed: only the directory's sync failed (the file is at path, a
 * crash may undo the naming); o->kept: the rename failed, the data synced
 * in o->dir/o->tmp, which stays; neither: lost (no file of it stays). */
int ctl_out_commit(CtlOut *o, const void *data, size_t size);
/* Closes; removes the temporary file unless the credentials were kept
 * in it. */
void ctl_out_done(CtlOut *o);
/* Writes data to name in dfd (borrowed) as ctl_out_commit() does, without
 * room made ahead: unnamed until synced, so a ctl killed while it writes
 * leaves nothing.  0 once the file and its name are durable, or -errno
 * (nothing of it left, but a name given whose directory sync failed). */
int ctl_out_write_at(int dfd, const char *name, const void *data, size_t size);
