/* Implementation of sv-prepare.h.  The user is looked up in /etc/passwd
 * with the pure parser (common/passwd-util.c) at each start, as a service
 * manager does: an image may add the user after the agent started. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "passwd-util.h"
#include "socket-util.h"
#include "supervisor.h"
#include "sv-prepare.h"

int sv_user_lookup(const char *passwd_path, const char *user, uid_t *ret_uid, gid_t *ret_gid, char *err,
                   size_t size) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_(passwd_entry_done) PasswdEntry e = {};
        const char *path = passwd_path ?: SV_PASSWD_PATH;
        size_t n;
        int r;

        r = read_full_file(path, SV_PASSWD_MAX, &text, &n);
        if (r < 0) {
                snprintf(err, size, "user '%s': cannot read %s: %s", user, path, strerror(-r));
                return r;
        }
        r = passwd_find(text, n, user, &e);
        if (r == -ENOENT || r == -EINVAL) {
                snprintf(err, size, "user '%s' not found in %s", user, path);
                return -ESRCH;
        }
        if (r < 0) {
                snprintf(err, size, "user '%s': %s", user, strerror(-r));
                return r;
        }
        if (e.uid == 0 || e.gid == 0) {
                snprintf(err, size, "user '%s' is root (uid %u, gid %u): refused", user, (unsigned)e.uid,
                         (unsigned)e.gid);
                return -EPERM;
        }
        *ret_uid = e.uid;
        *ret_gid = e.gid;
        return 0;
}

/* Whether a server accepts connections on the unix socket at path: then it
 * is someone's live display, not ours to take. */
static bool socket_is_live(const char *path) {
        _cleanup_(closep) int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct sockaddr_un sa;
        int len = sockaddr_un_set(&sa, path);

        if (fd < 0 || len < 0)
                return false;
        return connect(fd, (struct sockaddr *)&sa, (socklen_t)len) == 0 || errno == EAGAIN;
}

/* Whether pid is a live process of root's or the X server's user's.  A
 * lock naming another user's process names a pid the dead server had,
 * since taken by someone else: believing it would keep the display down
 * until that process ends.  Without /proc to ask, alive is enough. */
static bool pid_may_be_server(pid_t pid, uid_t uid) {
        char path[32];
        struct stat st;

        if (kill(pid, 0) < 0 && errno != EPERM)
                return false;
        snprintf(path, sizeof path, "/proc/%d", (int)pid);
        if (stat(path, &st) < 0)
                return true;
        return st.st_uid == 0 || st.st_uid == uid;
}

int supervisor_remove_stale_lock(const char *lock_path, const char *socket_dir, uid_t uid, char *sock,
                                 size_t size) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_(closep) int fd = -EBADF;
        const char *base = strrchr(lock_path, '/');
        int num, removed = 0;
        struct stat st;
        uint64_t pid;

        /* Opened once, without waiting and without following a symlink,
         * and judged by what was opened: the server's user owns its lock,
         * and could swap it for a FIFO after a look by name, or hold a
         * lease on it; either would block the agent in open().  What
         * cannot be read at once is no live server's lock. */
        fd = open_regular_nofollow(lock_path, &st);
        if (fd != -ENOENT) {
                /* A lock is believed only when root's or the X server's
                 * user's: in the sticky /tmp any user may write one naming
                 * a live pid (PID 1) while the server is down, and keep it
                 * down. */
                if (fd >= 0 && (st.st_uid == 0 || st.st_uid == uid) && read_full_fd(fd, 64, &text, NULL) >= 0) {
                        /* "%10d\n": the pid after blanks. */
                        const char *p = text + strspn(text, " ");
                        if (parse_unsigned_span(p, strcspn(p, "\n"), INT_MAX, &pid) == 0 && pid > 0 &&
                            pid_may_be_server((pid_t)pid, uid))
                                return 0;
                }
                if (unlink(lock_path) < 0 && errno != ENOENT)
                        return -errno;
                removed |= STALE_LOCK_REMOVED;
        }
        if (!base || sscanf(base, "/.X%d-lock", &num) != 1)
                return removed;
        if ((size_t)snprintf(sock, size, "%s/X%d", socket_dir, num) >= size)
                return -ENAMETOOLONG;
        if (lstat(sock, &st) < 0)
                return errno == ENOENT ? removed : -errno;
        if (S_ISSOCK(st.st_mode) && (st.st_uid == 0 || st.st_uid == uid) && socket_is_live(sock))
                return removed;
        if (unlink(sock) < 0 && errno != ENOENT)
                return -errno;
        return removed | STALE_SOCKET_REMOVED;
}

/* Removes path's last component, without following a symlink in its place
 * or as its directory: the directory may belong to the service's user. */
static int unlink_below_dir(const char *path) {
        _cleanup_(freep) char *dir = strdup(path);
        _cleanup_(closep) int fd = -EBADF;
        char *slash = dir ? strrchr(dir, '/') : NULL;

        if (!dir)
                return -ENOMEM;
        if (!slash || slash == dir || !slash[1])
                return -EINVAL;
        *slash = '\0';
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return unlinkat(fd, slash + 1, 0) < 0 ? -errno : 0;
}

/* In a sticky shared directory (/tmp) a file the service writes at each
 * start can be created first by any user, and then fails every start:
 * one not root's or uid's is removed (root may, the service may not).
 * This narrows the window to the moments between here and the write; a
 * directory of the service's own closes it (display.h, DISPLAY_XKM_DIR). */
static void others_files_remove(const ServiceDef *def, uid_t uid) {
        for (char **f = def->others_files; f && *f; f++) {
                struct stat st;
                int r;

                if (lstat(*f, &st) < 0 || st.st_uid == 0 || st.st_uid == uid)
                        continue;
                r = unlink_below_dir(*f);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Service %s: cannot remove %s, uid %u's: %m", def->name, *f,
                                          (unsigned)st.st_uid);
                else if (r >= 0)
                        log_notice("Service %s: removed %s, uid %u's, which would fail its start.", def->name, *f,
                                   (unsigned)st.st_uid);
        }
}

int sv_check_owned_files(const ServiceDef *def, uid_t uid, char *err, size_t size) {
        for (char **f = def->owned_files; f && *f; f++) {
                _cleanup_(closep) int fd = -EBADF;
                struct stat st;

                fd = open_regular_nofollow(*f, &st);
                if (fd < 0) {
                        snprintf(err, size, "%s: %s: refused", *f, strerror(-fd));
                        return fd;
                }
                if (st.st_uid != uid) {
                        snprintf(err, size, "%s is not uid %u's: refused", *f, (unsigned)uid);
                        return -EPERM;
                }
        }
        return 0;
}

void sv_prepare(const ServiceDef *def, uid_t uid, gid_t gid) {
        int r;

        if (def->stale_lock) {
                char sock[PATH_MAX];

                r = supervisor_remove_stale_lock(def->stale_lock, X11_SOCKET_DIR, uid, sock, sizeof sock);
                if (r < 0)
                        log_warning_errno(r, "Service %s: cannot check %s: %m", def->name, def->stale_lock);
                if (r > 0 && (r & STALE_LOCK_REMOVED))
                        log_notice("Service %s: removed stale %s.", def->name, def->stale_lock);
                if (r > 0 && (r & STALE_SOCKET_REMOVED))
                        log_notice("Service %s: removed %s, which no server of root's or uid %u accepted "
                                   "connections on.",
                                   def->name, sock, (unsigned)uid);
        }
        others_files_remove(def, uid);
        /* Its stdin socket listening from now on, also while it restarts.
         * Bound without SO_REUSEADDR (which kept every other socket off the
         * port until now); with it from here, the connections it accepts
         * leave TIME_WAITs that let the next run of the agent bind it.
         * Failing, the service says so when it cannot accept. */
        if (def->stdin_socket > 0 &&
            (setsockopt(def->stdin_socket, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) < 0 ||
             listen(def->stdin_socket, SV_STDIN_BACKLOG) < 0))
                log_warning_errno(-errno, "Service %s: cannot listen on its socket: %m", def->name);
        /* A file probe waits for what this start writes: the last start's
         * file must not pass it, nor the last start's socket (left by a
         * killed server) take its connections. */
        if ((def->probe.type == PROBE_FILE || def->probe.type == PROBE_UNIX_BANNER) && def->probe.path) {
                r = unlink_below_dir(def->probe.path);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Service %s: cannot remove %s: %m", def->name, def->probe.path);
        }
        for (char **d = def->create_dirs; d && *d; d++) {
                r = uid != 0 ? mkdir_owned(*d, 0700, uid, gid) : mkdir_all(*d, 0755, 0700);
                if (r == -EPERM)
                        log_warning("Service %s: %s is not owned by uid %u; left as it is.", def->name, *d,
                                    (unsigned)uid);
                else if (r < 0)
                        log_warning_errno(r, "Service %s: cannot create %s: %m", def->name, *d);
        }
}
