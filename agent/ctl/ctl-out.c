/* Implementation of ctl-out.h.  The file is made unnamed (O_TMPFILE in
 * --out's directory) and given its name only once the credentials in it
 * are synced: a ctl killed meanwhile (SIGKILL, which nothing can catch)
 * leaves nothing behind.  A file system without unnamed files gets a
 * named temporary file, which ctl removes on the signals it can catch
 * (ctl.c), not on SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl-out.h"
#include "fileio.h"
#include "macro.h"

void ctl_out_done(CtlOut *o) {
        o->fd = safe_close(o->fd);
        if (o->tmp[0] && !o->kept && o->dfd >= 0)
                (void)unlinkat(o->dfd, o->tmp, 0);
        o->tmp[0] = '\0';
        o->dfd = safe_close(o->dfd);
        free(o->dir);
        o->dir = NULL;
}

/* An unnamed file in o->dir, or (o->named: the file system has none) a
 * named one, its name in o->tmp.  A kernel before O_TMPFILE takes it
 * for O_DIRECTORY and refuses the write mode (EISDIR); a file system
 * without it says EOPNOTSUPP. */
static int out_create(CtlOut *o) {
        if (!o->named) {
                o->fd = openat(o->dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
                if (o->fd >= 0)
                        return 0;
                if (errno != EOPNOTSUPP && errno != EISDIR)
                        return -errno;
                o->named = true;
        }
        o->fd = tmpfile_at(o->dfd, o->name, o->tmp);
        if (o->fd < 0)
                o->tmp[0] = '\0';
        return o->fd < 0 ? o->fd : 0;
}

/* A file system that cannot make room ahead (EOPNOTSUPP) is written as
 * any other file. */
static int out_room(CtlOut *o) {
        int r = posix_fallocate(o->fd, 0, CTL_OUT_ROOM);

        return r == 0 || r == EOPNOTSUPP || r == EINVAL ? 0 : -r;
}

int ctl_out_reserve(CtlOut *o) {
        int r = out_create(o);

        return r < 0 ? r : out_room(o);
}

/* Gives the unnamed file fd the name name in dfd: 0, -EEXIST when there
 * is one of that name, or -errno.  Through /proc/self/fd (any user);
 * without /proc, by AT_EMPTY_PATH (CAP_DAC_READ_SEARCH on older
 * kernels; newer ones let the user who opened the file, 6.18 here). */
static int out_link(int fd, int dfd, const char *name) {
        char proc[64];

        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) >= 0)
                return 0;
        if (errno != ENOENT)
                return -errno;
        return linkat(fd, "", dfd, name, AT_EMPTY_PATH) < 0 ? -errno : 0;
}

/* Links the unnamed file beside o->name under a free name, in o->tmp:
 * the rename over o->name then replaces what is there at once. */
static int out_link_tmp(CtlOut *o) {
        int r = -EEXIST;

        for (unsigned i = 0; i < 16 && r == -EEXIST; i++) {
                r = tmpfile_name(o->name, o->tmp);
                if (r >= 0)
                        r = out_link(o->fd, o->dfd, o->tmp);
        }
        if (r < 0)
                o->tmp[0] = '\0';
        return r;
}

/* Whether the unnamed file can be given a name here (linked beside
 * --out and removed again): not without /proc on a kernel that keeps
 * AT_EMPTY_PATH to CAP_DAC_READ_SEARCH (out_link()).  When it cannot,
 * the named file it is: learnt before the login, not with the
 * credentials in an unnamed file. */
static int out_try_link(CtlOut *o) {
        int r;

        if (o->named)
                return 0;
        r = out_link_tmp(o);
        if (r >= 0) {
                (void)unlinkat(o->dfd, o->tmp, 0);
                o->tmp[0] = '\0';
                return 0;
        }
        o->fd = safe_close(o->fd);
        o->named = true;
        return out_create(o);
}

int ctl_out_open(CtlOut *o, const char *path) {
        const char *slash = strrchr(path, '/');
        struct stat st;
        int r;

        o->path = path;
        o->name = slash ? slash + 1 : path;
        if (!filename_is_valid(o->name))
                return -EINVAL;
        o->dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        if (!o->dir)
                return -ENOMEM;
        o->dfd = open_writable_dir(o->dir);
        if (o->dfd < 0)
                return o->dfd;
        if (fstatat(o->dfd, o->name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISDIR(st.st_mode))
                return -EISDIR;
        /* Made and dropped again: the login may take minutes, and a file
         * held through it would be left behind by a ctl interrupted (a
         * named one). */
        r = out_create(o);
        if (r >= 0)
                r = out_try_link(o);
        if (r >= 0)
                r = out_room(o);
        o->fd = safe_close(o->fd);
        if (o->tmp[0])
                (void)unlinkat(o->dfd, o->tmp, 0);
        o->tmp[0] = '\0';
        return r;
}

/* The synced unnamed file at o->name: linked there when nothing is
 * (nothing named ever), else linked beside it and renamed over it. */
static int out_name(CtlOut *o) {
        int r = out_link(o->fd, o->dfd, o->name);

        if (r != -EEXIST)
                return r;
        r = out_link_tmp(o);
        if (r < 0)
                return r;
        return renameat(o->dfd, o->tmp, o->dfd, o->name) < 0 ? -errno : 0;
}

int ctl_out_commit(CtlOut *o, const void *data, size_t size) {
        int r = loop_write(o->fd, data, size);

        if (r >= 0 && ftruncate(o->fd, (off_t)size) < 0)
                r = -errno;
        if (r >= 0 && fsync(o->fd) < 0)
                r = -errno;
        if (r < 0)
                return r;
        /* From here the credentials are on disk (under the temporary
         * name, for a named file). */
        if (o->named)
                r = renameat(o->dfd, o->tmp, o->dfd, o->name) < 0 ? -errno : 0;
        else
                r = out_name(o);
        if (r < 0) {
                /* Named, or linked beside --out before the rename failed:
                 * kept there.  Else they are in no file that stays. */
                o->kept = o->tmp[0] != '\0';
                return r;
        }
        o->tmp[0] = '\0';
        o->renamed = true;
        return fsync(o->dfd) < 0 ? -errno : 0;
}

int ctl_out_write_at(int dfd, const char *name, const void *data, size_t size) {
        CtlOut o = { .dfd = dfd, .name = name, .fd = -EBADF };
        int r = filename_is_valid(name) ? out_create(&o) : -EINVAL;

        if (r >= 0)
                r = ctl_out_commit(&o, data, size);
        o.fd = safe_close(o.fd);
        if (r < 0 && !o.renamed && o.tmp[0])
                (void)unlinkat(dfd, o.tmp, 0);
        /* An unnamed file that could not be named (no /proc, and a kernel
         * that keeps AT_EMPTY_PATH to the privileged): a named one. */
        if (r < 0 && !o.renamed && !o.kept && !o.named)
                r = write_file_atomic_at(dfd, name, data, size, 0600);
        return r;
}
