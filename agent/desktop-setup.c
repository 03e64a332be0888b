/* See desktop-setup.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "agent/host/host-secrets.h"
#include "agent/supervise/children.h"
#include "agent/supervise/supervisor.h"
#include "agent/supervise/sv-prepare.h"
#include "desktop-setup.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "passwd-util.h"
#include "vnc/desktop.h"
#include "vnc/display.h"

/* u from user's passwd entry; without it, what goes unserved (without)
 * and why are logged. */
static void user_lookup(DesktopUser *u, const char *user, const char *without) {
        char err[256];

        u->found = sv_user_lookup(NULL, user, &u->uid, &u->gid, err, sizeof err) >= 0;
        if (!u->found)
                log_error("%s: %s.", without, err);
}

static void browser_user_lookup(Desktop *d) {
        const Config *c = d->config;

        d->browser.found = false;
        if (isempty(c->browser_user) || isempty(c->firefox)) {
                log_info("No browser_user or firefox configured: no browser.");
                return;
        }
        user_lookup(&d->browser, c->browser_user, "The browser will not start");
}

/* Root's directory that the browser user must not read into (the login
 * homes): created 0700, and closed to other users when root owns it.  Its
 * group is the login manager's to set (the CLI user's, login.h). */
static void private_dir(const char *path) {
        struct stat st;

        if (isempty(path) || mkdir_all(path, 0755, 0700) < 0 || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return;
        if (st.st_uid == 0 && (st.st_mode & 0007) && chmod(path, st.st_mode & 0770) >= 0)
                log_notice("%s was open to other users; closed to them.", path);
}

static int write_secret_files(Desktop *d) {
        const Config *c = d->config;
        const char *secret = host_secrets_desktop(d->secrets);
        char target[PATH_MAX + 32];
        int r;

        if (!d->vnc.found)
                return 0;
        r = display_vnc_target(c->vnc_listen, c->vnc_port, d->paths.vnc_socket, target, sizeof target);
        if (r >= 0)
                r = desktop_write_secret_files(&d->paths, secret, target, d->vnc.uid, d->vnc.gid);
        if (r < 0)
                return log_error_errno(r, "Failed to write the desktop secret's files in %s: %m", c->runtime_dir);
        return 0;
}

/* Who else than the display's users, in the passwd or group text of path,
 * has x_user's group: find's answer (0 and *ret_other, -ENOENT, ...).  A
 * missing file names nobody: -ENOENT too. */
static int x_group_other(const Config *c, gid_t x_gid, const char *path,
                         int (*find)(const char *, size_t, gid_t, const char *const *, char **), char **ret_other) {
        _cleanup_(freep) char *text = NULL;
        size_t n;
        int r;

        r = read_full_file(path, SV_PASSWD_MAX, &text, &n);
        if (r < 0)
                return r;
        return find(text, n, x_gid,
                    (const char *[]){ c->x_user, strempty(c->vnc_user), strempty(c->browser_user), NULL }, ret_other);
}

/* The X socket's directory admits x_user's group, which the X clients
 * get as a supplementary one: any other user with it as primary group, or
 * listed as its member (which initgroups() gives a login of that user), not
 * one of the display's, would reach Xvfb. */
static bool x_group_is_its_own(const Desktop *d) {
        const Config *c = d->config;
        _cleanup_(freep) char *other = NULL;
        const char *path = SV_PASSWD_PATH, *how = "primary group";
        int r;

        r = x_group_other(c, d->x.gid, path, passwd_find_gid, &other);
        if (r == -ENOENT) {
                path = SV_GROUP_PATH;
                how = "member";
                r = x_group_other(c, d->x.gid, path, group_find_member, &other);
        }
        if (r == -ENOENT)
                return true;
        if (r < 0)
                log_error_errno(r, "The desktop will not be served: cannot tell who else has x_user '%s''s group "
                                "(gid %u) in %s: %m", c->x_user, (unsigned)d->x.gid, path);
        else
                log_error("The desktop will not be served: x_user '%s''s group (gid %u) is also user '%s''s (%s, in "
                          "%s); it opens the X socket's directory, so it must be the X server's clients' alone.",
                          c->x_user, (unsigned)d->x.gid, other, how, path);
        return false;
}

/* Said, not changed: the directory is the image's (mkimage makes it
 * x_user's). */
static void xkm_dir_check(const Desktop *d, int num) {
        struct stat st;

        if (stat(DISPLAY_XKM_DIR, &st) >= 0 && display_xkm_dir_ok(st.st_mode, st.st_uid, d->x.uid))
                return;
        log_warning("%s is not x_user '%s''s alone (writable by it, by no one else), so Xvfb compiles its keymap "
                    "into /tmp/server-%d.xkm, a name any local user can take first, and Xvfb then fails at every "
                    "start; make %s x_user's, mode 0700, as the image does.",
                    DISPLAY_XKM_DIR, d->config->x_user, num, DISPLAY_XKM_DIR);
}

/* x_user and vnc_user looked up, each dropped (logged) when it shares a
 * uid with another desktop user.  Xvfb, x11vnc and websockify never run
 * as root: without their user, no desktop (the supervisor fails them
 * with the same reason). */
static void display_users_lookup(Desktop *d) {
        const Config *c = d->config;

        user_lookup(&d->x, c->x_user, "The desktop will not be served");
        user_lookup(&d->vnc, c->vnc_user, "The desktop will not be served");
        /* The names differ (checked with the config); two names for one
         * uid would let the sweep before a new secret kill Xvfb, or the
         * browser's user drive the X server.  Without its cookie copy Xvfb
         * does not start (its owned_files). */
        if (d->x.found && ((d->vnc.found && d->x.uid == d->vnc.uid) ||
                           (d->browser.found && d->x.uid == d->browser.uid))) {
                log_error("The desktop will not be served: x_user '%s' has the uid of vnc_user or browser_user "
                          "(%u); Xvfb needs a user of its own.",
                          c->x_user, (unsigned)d->x.uid);
                d->x.found = false;
        }
        if (d->x.found && !x_group_is_its_own(d))
                d->x.found = false;
        /* Two names for one uid again: the sweep before each new desktop
         * secret kills every process of vnc_user's uid, the browser too,
         * and the network-facing servers would own its profile.  Without
         * its files x11vnc does not start (its owned_files). */
        if (d->vnc.found && d->browser.found && d->vnc.uid == d->browser.uid) {
                log_error("The desktop will not be served: vnc_user '%s' has the uid of browser_user (%u); x11vnc "
                          "and websockify need a user of their own.",
                          c->vnc_user, (unsigned)d->vnc.uid);
                d->vnc.found = false;
        }
}

void desktop_init(Desktop *d) {
        *d = (Desktop){ .x_name_socket = -EBADF };
}

void desktop_done(Desktop *d) {
        d->x_name_socket = safe_close(d->x_name_socket);
        desktop_paths_done(&d->paths);
        explicit_bzero(d->log_vnc_password, sizeof d->log_vnc_password);
}

int desktop_setup(Desktop *d, const Config *c, HostSecrets *secrets) {
        char err[512] = "";
        int r, num = display_number(c->display);

        d->config = c;
        d->secrets = secrets;
        r = desktop_paths_init(&d->paths, c->runtime_dir, c->firefox_profile);
        if (r < 0)
                return log_error_errno(r, "runtime_dir '%s' and firefox_profile '%s' must be plain absolute paths, "
                                       "the profile below a directory of its own: %m", c->runtime_dir,
                                       c->firefox_profile);
        browser_user_lookup(d);
        /* A services file brings its own stack: nothing of ours to write. */
        if (!isempty(c->services_file))
                return 0;
        display_users_lookup(d);
        if (d->x.found && num >= 0)
                xkm_dir_check(d, num);
        DesktopFilesOptions o = {
                .paths = &d->paths, .runtime_dir = c->runtime_dir, .profile = c->firefox_profile,
                .display = num < 0 ? 0 : (unsigned)num, .browser = d->browser.found,
                .uid = d->browser.uid, .gid = d->browser.gid, .downloads_mb = c->browser_downloads_mb,
                .x = d->x.found, .x_uid = d->x.uid, .x_gid = d->x.gid,
                .vnc = d->vnc.found, .vnc_uid = d->vnc.uid, .vnc_gid = d->vnc.gid,
        };
        if (o.browser)
                private_dir(c->login_home);
        if (o.browser && desktop_write_browser_files(&o, err, sizeof err) < 0) {
                log_error("The browser will not start: %s.", err);
                o.browser = false;
        }
        r = desktop_write_start_files(&o, err, sizeof err);
        if (r < 0)
                return log_error_errno(r, "No display (its files): %s", err);
        if (o.x && num >= 0 && d->x_name_socket < 0) {
                r = desktop_hold_x_abstract_name(o.display, &d->x_name_socket);
                if (r < 0)
                        return log_error_errno(r, "No display: the abstract socket name @" X11_SOCKET_DIR "/X%u, "
                                               "which X clients try before Xvfb's socket, cannot be held: %m",
                                               o.display);
        }
        if (setenv("XAUTHORITY", d->paths.xauthority, 1) < 0)
                return log_error_errno(-errno, "Failed to set XAUTHORITY: %m");
        return write_secret_files(d);
}

/* Before the VNC user's files get a new secret: nothing of that user may
 * be left to read it but the servers started for it.  x11vnc and
 * websockify go too; the caller restarts them (their exits come as the
 * restart's stops). */
static void vnc_sweep(Desktop *d) {
        int r;

        if (!d->vnc.found)
                return;
        /* Not waited for: a process SIGKILL ended reads nothing more, and
         * a restore's 503 would last their exits longer. */
        r = children_kill_uid(d->vnc.uid, false);
        if (r < 0)
                log_warning_errno(r, "Cannot look for %s's processes before the new desktop secret: %m",
                                  d->config->vnc_user);
        else
                log_info("Stopped %d process(es) of %s before writing the new desktop secret.", r,
                         d->config->vnc_user);
}

/* Rewrites the secret's files, after the VNC user's processes are gone.
 * If they cannot be written, x11vnc (and websockify with it) stays down:
 * a restart would serve the old secret from the old files; the next
 * renewal that writes them brings it back. */
static int secret_files_renew(Desktop *d, Supervisor *sv) {
        int r;

        vnc_sweep(d);
        r = write_secret_files(d);
        if (!sv)
                return r;
        if (r < 0) {
                log_error("The desktop stays down until the desktop secret's files can be written.");
                d->vnc_held = true;
                (void)supervisor_stop_service(sv, DISPLAY_SERVICE_X11VNC);
        } else if (d->vnc_held) {
                d->vnc_held = false;
                log_info("The desktop secret's files are written: x11vnc starts again.");
                (void)supervisor_start_service(sv, DISPLAY_SERVICE_X11VNC, NULL);
        }
        return r;
}

/* Whether desktop_setup() made the built-in stack's secret files. */
static bool has_secret_files(const Desktop *d) {
        return d->config && d->paths.vnc_password && isempty(d->config->services_file);
}

int desktop_secret_files_update(Desktop *d, Supervisor *sv) {
        if (!has_secret_files(d))
                return 0;
        return secret_files_renew(d, sv);
}

void desktop_restore_hold(Desktop *d, Supervisor *sv) {
        if (!sv || supervisor_stop_service(sv, DISPLAY_SERVICE_X11VNC) < 0)
                return;
        /* Killed now rather than after their SIGTERM handlers ran (the
         * secrets step would kill them anyway): their clean-up would take
         * CPU from the restore. */
        vnc_sweep(d);
        log_info("Restore: x11vnc and websockify stopped until the clone has its own desktop secret.");
}

int desktop_restore_resume(Desktop *d, Supervisor *sv) {
        int r;

        if (!sv)
                return -ENOENT;
        if (d->vnc_held)
                return 0;
        r = supervisor_start_service(sv, DISPLAY_SERVICE_X11VNC, NULL);
        /* 1, in a backoff: it starts after it, as asked. */
        return r == -EALREADY ? supervisor_restart_service(sv, DISPLAY_SERVICE_X11VNC) : MIN(r, 0);
}

void desktop_secrets_changed(Desktop *d, Supervisor *sv) {
        int r;

        if (!has_secret_files(d) || secret_files_renew(d, sv) < 0 || !sv)
                return;
        /* x11vnc reads its password file once; websockify, its dependent,
         * goes down and comes back after it. */
        r = supervisor_restart_service(sv, DISPLAY_SERVICE_X11VNC);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to restart x11vnc for the new desktop secret: %m");
}

const char *const *desktop_log_secrets(Desktop *d) {
        /* Now's, then the ones a restore replaced (output the old servers
         * wrote may still come; the template still takes them). */
        const char *desktops[2] = { host_secrets_desktop(d->secrets), host_secrets_replaced_desktop(d->secrets) };
        const char *tokens[2] = { host_secrets_token(d->secrets), host_secrets_replaced_token(d->secrets) };
        size_t n = 0;

        explicit_bzero(d->log_vnc_password, sizeof d->log_vnc_password);
        for (size_t i = 0; i < ELEMENTSOF(desktops); i++) {
                if (!desktops[i])
                        continue;
                d->log_secrets[n++] = desktops[i];
                snprintf(d->log_vnc_password[i], sizeof d->log_vnc_password[i], "%.8s", desktops[i]);
                d->log_secrets[n++] = d->log_vnc_password[i];
        }
        for (size_t i = 0; i < ELEMENTSOF(tokens); i++)
                if (tokens[i])
                        d->log_secrets[n++] = tokens[i];
        d->log_secrets[n] = NULL;
        return d->log_secrets;
}

gid_t desktop_x_clients_gid(const Desktop *d) {
        return d->x.found ? d->x.gid : 0;
}
