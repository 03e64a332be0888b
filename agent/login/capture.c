/* See capture.h.  Every component below the HOME is opened O_NOFOLLOW:
 * the HOME is the CLI's to fill, and a symlink there (to the file or to a
 * directory on its path) or a hard link must not make us read, hand to
 * the host and chmod some other file.  The raw bytes are wiped after parsing;
 * the parsed object is the only copy. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>

#include "capture.h"
#include "fileio.h"
#include "json-wipe.h"
#include "log.h"
#include "macro.h"

struct Capture {
        char *root, *rel;  /* the file: rel below root */
        char *path, *name; /* root/rel, for the log and the watch; its last component */
        sd_event_source *watch;
        CaptureCheck check;
        CaptureHandler cb;
        void *userdata;
        bool had_old;
        struct stat old;
        bool done;
};

/* The buffer is sized from fstat() once and never grows, so no copy of
 * the credential bytes is left behind by a realloc(); it is wiped on
 * every path.  A file that grows while we read is still being written:
 * not complete. */
static int read_secret_fd(int fd, size_t size, char **ret) {
        char *buf = malloc(size + 1);
        size_t n = 0;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, size + 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0 || n + (size_t)k > size) {
                        int r = k < 0 ? -errno : k > 0 ? -ENODATA : 0;
                        if (r == 0 && n == size) {
                                buf[n] = '\0';
                                *ret = buf;
                                return 0;
                        }
                        explicit_bzero(buf, size + 1);
                        free(buf);
                        return r ?: -ENODATA; /* shrank while read: rewritten */
                }
                n += (size_t)k;
        }
}

/* How many values the JSON text s holds: the top one, the first of each
 * array or object that is not empty, one after each ',' (none of them
 * inside a string).  Counted before parsing: jansson takes some 200 bytes
 * for a value of 3 ("{},"), so a file of CAPTURE_MAX would otherwise be
 * held as 70 MiB, per login and again in each copy of it (the push
 * queue's).  Text that is not JSON gets some count: the parser refuses it. */
static size_t values_count(const char *s, size_t n) {
        bool in_string = false, opened = false;
        size_t v = 1;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (in_string) {
                        if (c == '\\')
                                i++; /* the escaped character, a '"' too */
                        else if (c == '"')
                                in_string = false;
                        continue;
                }
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                        continue;
                if (opened && c != ']' && c != '}')
                        v++;
                opened = c == '[' || c == '{';
                v += c == ',';
                in_string = c == '"';
        }
        return v;
}

/* The directory that holds rel's last component (*ret_name, pointing into
 * rel), reached from root through rel's directories
 * without following a symlink (ENOTDIR); with create, a missing one is
 * made 0700 and uid:gid's.  The HOME is the CLI user's: what is under a
 * name may change between two calls, so a directory made here is given
 * away through the descriptor it was opened with, once that is seen to
 * be ours (a hard link put in its place is never chowned). */
static int open_parent_below(const char *root, const char *rel, bool create, uid_t uid, gid_t gid,
                             const char **ret_name) {
        _cleanup_(closep) int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_(freep) char *copy = strdup(rel);
        char *name, *slash;

        if (dir < 0)
                return -errno;
        if (!copy)
                return -ENOMEM;
        for (name = copy; (slash = strchr(name, '/')); name = slash + 1) {
                bool made = false;
                struct stat st;
                int next;

                *slash = '\0';
                if (create && mkdirat(dir, name, 0700) >= 0)
                        made = true;
                else if (create && errno != EEXIST)
                        return -errno;
                next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                close(dir);
                dir = next;
                if (!made)
                        continue;
                if (fstat(dir, &st) < 0)
                        return -errno;
                if (st.st_uid != geteuid())
                        return -EPERM; /* not the one made here */
                if (fchown(dir, uid, gid) < 0)
                        return -errno;
        }
        *ret_name = rel + (name - copy);
        return TAKE_FD(dir);
}

/* rel below root, no component a symlink (ENOTDIR for a directory's
 * place, ELOOP for the file's); a regular file with one link (EMLINK). */
static int open_below(const char *root, const char *rel, struct stat *ret_st) {
        _cleanup_(closep) int dir = -EBADF, fd = -EBADF;
        const char *name;

        dir = open_parent_below(root, rel, false, 0, 0, &name);
        if (dir < 0)
                return dir;
        fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0 || fstat(fd, ret_st) < 0)
                return -errno;
        if (!S_ISREG(ret_st->st_mode))
                return -EBADFD;
        if (ret_st->st_nlink != 1)
                return -EMLINK;
        return TAKE_FD(fd);
}

int capture_read(const char *root, const char *rel, json_t **ret, usec_t *ret_modified) {
        _cleanup_(closep) int fd = -EBADF;
        char *buf = NULL;
        struct stat st;
        json_t *j;
        bool many;
        int r;

        fd = open_below(root, rel, &st);
        if (fd < 0)
                return fd;
        if (st.st_size > CAPTURE_MAX)
                return -EFBIG;
        r = read_secret_fd(fd, (size_t)st.st_size, &buf);
        if (r < 0)
                return r;
        many = values_count(buf, (size_t)st.st_size) > CAPTURE_VALUES_MAX;
        j = many ? NULL : json_loadb(buf, (size_t)st.st_size, JSON_REJECT_DUPLICATES, NULL);
        explicit_bzero(buf, (size_t)st.st_size);
        free(buf);
        if (many)
                return -E2BIG;
        if (!json_is_object(j)) {
                json_wipe(j);
                json_decref(j);
                return -ENODATA;
        }
        /* On the fd we read, not the path: a symlink swapped in since
         * must not get its target's mode changed. */
        (void)fchmod(fd, 0600);
        *ret = j;
        if (ret_modified)
                *ret_modified = (usec_t)st.st_mtim.tv_sec * USEC_PER_SEC +
                                (usec_t)st.st_mtim.tv_nsec / 1000;
        return 0;
}

static bool unchanged(Capture *c) {
        struct stat st;

        if (!c->had_old || stat(c->path, &st) < 0)
                return false;
        return st.st_ino == c->old.st_ino && st.st_mtim.tv_sec == c->old.st_mtim.tv_sec &&
               st.st_mtim.tv_nsec == c->old.st_mtim.tv_nsec && st.st_size == c->old.st_size;
}

int capture_poll(Capture *c) {
        json_t *j = NULL;
        usec_t mtime = 0;
        int r;

        if (c->done || unchanged(c))
                return 0;
        r = capture_read(c->root, c->rel, &j, &mtime);
        if (r < 0) {
                log_debug_errno(r, "Credential file %s not complete yet: %m", c->path);
                return 0;
        }
        if (c->check && !c->check(j, c->userdata)) {
                log_debug("Credential file %s does not hold the credentials yet.", c->path);
                json_wipe(j);
                json_decref(j);
                return 0;
        }
        c->done = true;
        c->cb(c, j, mtime, c->userdata); /* may free c */
        return 1;
}

/* The kernel's queue of events is the loop's, shared by every login's
 * watch: when it overran (a CLI closing files faster than the loop reads),
 * the events dropped may have been this file's, so it is looked at. */
static int on_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        Capture *c = userdata;

        if ((ev->mask & IN_Q_OVERFLOW) || (ev->len > 0 && streq(ev->name, c->name)))
                (void)capture_poll(c);
        return 0;
}

int capture_start(sd_event *e, const char *root, const char *rel, uid_t uid, gid_t gid, CaptureCheck check,
                  CaptureHandler cb, void *userdata, Capture **ret) {
        _cleanup_(capture_freep) Capture *c = NULL;
        _cleanup_(closep) int dir = -EBADF;
        const char *name;
        int r;

        if (!root || root[0] != '/' || isempty(rel) || rel[0] == '/')
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (Capture) { .check = check, .cb = cb, .userdata = userdata };
        c->root = strdup(root);
        c->rel = strdup(rel);
        if (!c->root || !c->rel || asprintf(&c->path, "%s/%s", root, rel) < 0 ||
            !(c->name = strdup(strrchr(c->path, '/') + 1)))
                return -ENOMEM;
        c->had_old = stat(c->path, &c->old) == 0;
        dir = open_parent_below(root, rel, true, uid, gid, &name);
        if (dir < 0)
                return dir;
        /* The directory just walked to, not a path a symlink could divert. */
        r = sd_event_add_inotify_fd(e, &c->watch, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR, on_inotify, c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

Capture *capture_free(Capture *c) {
        if (!c)
                return NULL;
        sd_event_source_disable_unref(c->watch);
        free(c->root);
        free(c->rel);
        free(c->path);
        free(c->name);
        free(c);
        return NULL;
}
