/* Implementation of desktop.h.  Files root writes into the browser user's,
 * the X or the VNC user's directory go through write_file_atomic_owned()
 * (a new file renamed over the name: a symlink planted there is replaced,
 * never followed) and directories through mkdir_owned() (never chown()s
 * what another uid owns), since that user controls the directory's
 * entries. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/supervise/service-def.h"
#include "browser.h"
#include "desktop.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "mount-util.h"
#include "xauth.h"

/* write_file_atomic_owned() into a directory its user controls: what the
 * user may have put at path instead of a file (a directory makes the
 * rename fail) is removed, never followed, and the write tried again. */
static int write_user_file(const char *path, const void *data, size_t n, uid_t uid, gid_t gid) {
        int r = write_file_atomic_owned(path, data, n, 0600, uid, gid, 0);

        _cleanup_(freep) char *dir = NULL;
        _cleanup_(closep) int dfd = -EBADF;
        const char *slash = strrchr(path, '/');

        if ((r != -EISDIR && r != -ENOTEMPTY && r != -EEXIST) || !slash || slash == path)
                return r;
        dir = strndup(path, (size_t)(slash - path));
        if (!dir)
                return -ENOMEM;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = rm_rf_at(dfd, slash + 1);
        if (r < 0)
                return r;
        return write_file_atomic_owned(path, data, n, 0600, uid, gid, 0);
}

static int fail(int r, char *err, size_t size, const char *what, const char *path) {
        snprintf(err, size, "%s %s: %s", what, path, strerror(-r));
        return r;
}

/* The runtime directory is root's alone. */
static int runtime_dir_make(const char *dir) {
        struct stat st;
        int r = mkdir_all(dir, 0755, 0700);

        if (r < 0)
                return r;
        if (lstat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
                return -EPERM;
        if ((st.st_mode & 07777) != 0700 && chmod(dir, 0700) < 0)
                return -errno;
        return 0;
}

static int write_cookie(const DesktopFilesOptions *o, char *err, size_t size) {
        uint8_t cookie[XAUTH_COOKIE_SIZE], entry[128];
        ssize_t n;
        int r;

        if (getrandom(cookie, sizeof cookie, 0) != (ssize_t)sizeof cookie)
                return fail(-EIO, err, size, "cannot make the X cookie for", o->paths->xauthority);
        n = xauth_wild_entry(o->display, cookie, entry, sizeof entry);
        explicit_bzero(cookie, sizeof cookie);
        if (n < 0)
                return fail((int)n, err, size, "cannot compose", o->paths->xauthority);
        r = write_file_atomic(o->paths->xauthority, entry, (size_t)n, 0600);
        if (r < 0)
                fail(r, err, size, "cannot write", o->paths->xauthority);
        if (r >= 0 && o->browser) {
                r = write_user_file(o->paths->browser_xauthority, entry, (size_t)n, o->uid, o->gid);
                if (r < 0)
                        fail(r, err, size, "cannot write", o->paths->browser_xauthority);
        }
        if (r >= 0 && o->x) {
                r = write_user_file(o->paths->x_xauthority, entry, (size_t)n, o->x_uid, o->x_gid);
                if (r < 0)
                        fail(r, err, size, "cannot write", o->paths->x_xauthority);
        }
        if (r >= 0 && o->vnc) {
                r = write_user_file(o->paths->vnc_xauthority, entry, (size_t)n, o->vnc_uid, o->vnc_gid);
                if (r < 0)
                        fail(r, err, size, "cannot write", o->paths->vnc_xauthority);
        }
        explicit_bzero(entry, sizeof entry);
        return r;
}

/* A service user's directory beside runtime_dir (Xvfb's, x11vnc's and
 * websockify's), made before the cookie is copied into it.  Root writes
 * into it by path, so its parent must be one that user cannot rename
 * entries in (a sticky /tmp would let it swap its own directory for a
 * symlink between two writes). */
static int user_dir_make(const char *dir, uid_t uid, gid_t gid, const char *who, char *err, size_t size) {
        _cleanup_(freep) char *parent = strdup(dir);
        char *slash = parent ? strrchr(parent, '/') : NULL;
        struct stat st;
        int r;

        if (!slash)
                return fail(-ENOMEM, err, size, "cannot create", dir);
        *slash = '\0';
        if (stat(*parent ? parent : "/", &st) >= 0 && (st.st_uid != 0 || (st.st_mode & 0022))) {
                snprintf(err, size, "%s is in %s, which another user owns or may write: refused", dir,
                         *parent ? parent : "/");
                return -EPERM;
        }
        r = mkdir_owned(dir, 0700, uid, gid);
        if (r == -EPERM)
                snprintf(err, size, "%s is not the %s user's (uid %u): refused", dir, who, (unsigned)uid);
        else if (r < 0)
                fail(r, err, size, "cannot create", dir);
        return r;
}

/* Where Xvfb makes its socket: root's, gid's (the X user's group), 1770.
 * Xvfb runs as the X user, so the directory must be there already, and
 * sticky: no member can remove or replace another's entry (one may still
 * make an entry in place of Xvfb's socket before it starts; the supervisor
 * clears that, see stale_lock).  Only the group may enter, so no other
 * local process can connect to Xvfb at all (it has no abstract socket:
 * -nolisten local).  Xvfb asks for 1777 in a warning: it cannot change a
 * directory of root's. */
static int x11_unix_dir_make(gid_t gid, char *err, size_t size) {
        /* mkdir_owned() changes the group first: the old one loses its way
         * in as gid gains it, and the X clients of a run that left 1777
         * keep theirs. */
        int r = mkdir_owned(X11_SOCKET_DIR, 01770, 0, gid);

        if (r == -EPERM || r == -ELOOP || r == -ENOTDIR) {
                snprintf(err, size, "%s is not a directory of root's: refused", X11_SOCKET_DIR);
                return -EPERM;
        }
        return r < 0 ? fail(r, err, size, "cannot create", X11_SOCKET_DIR) : 0;
}

/* The browser's Downloads as a tmpfs of o->downloads_mb, unless a mount is
 * there already (an earlier run's, in the same mount namespace): 0, or
 * -errno with err. */
static int downloads_mount(const DesktopFilesOptions *o, char *err, size_t size) {
        const char *path = o->paths->browser_downloads;
        _cleanup_(closep) int fd = -EBADF;
        int r;

        r = mkdir_owned(path, 0700, o->uid, o->gid);
        if (r < 0)
                return fail(r, err, size, "cannot create", path);
        /* The browser user's directory: a symlink put in its place is not
         * followed, and the mount goes where the fd is. */
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return fail(negative_errno(), err, size, "cannot open", path);
        /* Only root mounts, and the agent mounts nothing else there. */
        r = fd_is_mount_root(fd);
        if (r != 0)
                return r < 0 ? fail(r, err, size, "cannot look at", path) : 0;
        r = tmpfs_mount_fd(fd, o->downloads_mb, 0700, o->uid, o->gid);
        if (r < 0)
                return fail(r, err, size, "cannot mount a tmpfs on", path);
        log_info("The browser's downloads go to a tmpfs of %u MiB (%s), not to the disk.", o->downloads_mb, path);
        return 0;
}

int desktop_write_browser_files(const DesktopFilesOptions *o, char *err, size_t size) {
        const char *dirs[] = { o->paths->browser_dir, o->paths->browser_tmp, o->profile };
        _cleanup_(freep) char *conf = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                r = mkdir_owned(dirs[i], 0700, o->uid, o->gid);
                if (r == -EPERM)
                        snprintf(err, size, "%s is not the browser user's (uid %u): refused", dirs[i],
                                 (unsigned)o->uid);
                if (r < 0)
                        return r == -EPERM ? r : fail(r, err, size, "cannot create", dirs[i]);
        }
        r = desktop_bus_config_text(o->uid, &conf);
        if (r < 0)
                return fail(r, err, size, "cannot compose", o->paths->bus_config);
        r = write_file_atomic_owned(o->paths->bus_config, conf, strlen(conf), 0644, 0, 0, 0);
        if (r < 0)
                return fail(r, err, size, "cannot write", o->paths->bus_config);
        r = browser_prepare_profile(o->profile);
        if (r < 0)
                return fail(r, err, size, "cannot write user.js in", o->profile);
        if (o->downloads_mb > 0 && downloads_mount(o, err, size) < 0)
                log_error("A page's downloads go to the disk, which they can fill: %s.", err);
        return 0;
}

int desktop_write_start_files(const DesktopFilesOptions *o, char *err, size_t size) {
        int r = runtime_dir_make(o->runtime_dir);

        if (r == -EPERM) {
                snprintf(err, size, "%s is not a directory of root's: refused", o->runtime_dir);
                return r;
        }
        if (r < 0)
                return fail(r, err, size, "cannot create", o->runtime_dir);
        /* No X user, no X server of ours: the directory is left as it is. */
        if (o->x && ((r = x11_unix_dir_make(o->x_gid, err, size)) < 0 ||
                     (r = user_dir_make(o->paths->x_dir, o->x_uid, o->x_gid, "X", err, size)) < 0))
                return r;
        if (o->vnc && (r = user_dir_make(o->paths->vnc_dir, o->vnc_uid, o->vnc_gid, "VNC", err, size)) < 0)
                return r;
        return write_cookie(o, err, size);
}

int desktop_hold_x_abstract_name(unsigned display, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_(closep) int fd = -EBADF;
        /* sun_path[0] stays NUL: the abstract namespace, no file. */
        int n = snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, X11_SOCKET_DIR "/X%u", display);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int desktop_write_secret_files(const DesktopPaths *p, const char *secret, const char *vnc_target, uid_t uid,
                               gid_t gid) {
        _cleanup_(erase_and_freep) char *pw = NULL, *tokens = NULL;
        int r;

        r = desktop_vnc_password_text(secret, &pw);
        if (r >= 0)
                r = desktop_novnc_tokens_text(secret, vnc_target, &tokens);
        if (r < 0)
                return r;
        r = write_user_file(p->vnc_password, pw, strlen(pw), uid, gid);
        if (r < 0)
                return r;
        return write_user_file(p->novnc_tokens, tokens, strlen(tokens), uid, gid);
}
