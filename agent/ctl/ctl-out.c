/* Implementation of ctl-out.h. */
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

int ctl_out_reserve(CtlOut *o) {
        int r;

        o->fd = tmpfile_at(o->dfd, o->name, o->tmp);
        if (o->fd < 0) {
                o->tmp[0] = '\0';
                return o->fd;
        }
        /* A file system that cannot make room ahead (EOPNOTSUPP) is
         * written as any other file. */
        r = posix_fallocate(o->fd, 0, CTL_OUT_ROOM);
        return r == 0 || r == EOPNOTSUPP || r == EINVAL ? 0 : -r;
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
         * held through it would be left behind by a ctl interrupted. */
        r = ctl_out_reserve(o);
        o->fd = safe_close(o->fd);
        (void)unlinkat(o->dfd, o->tmp, 0);
        o->tmp[0] = '\0';
        return r;
}

int ctl_out_commit(CtlOut *o, const void *data, size_t size) {
        int r = loop_write(o->fd, data, size);

        if (r >= 0 && ftruncate(o->fd, (off_t)size) < 0)
                r = -errno;
        if (r >= 0 && fsync(o->fd) < 0)
                r = -errno;
        if (r < 0)
                return r;
        /* From here the credentials are on disk under the temporary name. */
        if (renameat(o->dfd, o->tmp, o->dfd, o->name) < 0) {
                o->kept = true;
                return -errno;
        }
        o->tmp[0] = '\0';
        o->renamed = true;
        return fsync(o->dfd) < 0 ? -errno : 0;
}
