/* Implementation of display.h.  The argv of each component is here and
 * nowhere else; the supervisor runs them as opaque services.  Choices:
 *  - Xvfb gets -displayfd 3 together with a fixed display: it then writes
 *    the number once it accepts connections, which is the readiness event.
 *    -auth names the cookie file the agent wrote before (a missing file
 *    would let every local process in: Xvfb fails open).  -nolisten tcp
 *    and -nolisten local: nothing but the socket in /tmp/.X11-unix, whose
 *    directory only x_user's group may enter (desktop.h).  Else any local
 *    process could connect without the cookie and hold the server's 256
 *    client slots (each for its 60 s handshake timeout, then again): no
 *    new window, no x11vnc after a restart.  Its clients get that group
 *    as their one supplementary group (x_gid).  The abstract name they
 *    try first is the agent's (desktop_hold_x_abstract_name()).
 *  - x11vnc listens by default on a unix socket in the VNC user's 0700
 *    directory, with no TCP port (-rfbport 0): it serves one handshake at
 *    a time, so a peer that stops halfway froze the desktop for its 20 s
 *    timeout, and on loopback any local process could.  websockify, a
 *    process per connection and the token first, is the way in.  Else on
 *    exactly vnc_listen.  This Debian build also listens on [::]:PORT
 *    (its -6 default, off with -no6 or -noipv4) and on LibVNCServer's own
 *    [::]:5900 (-rfbportv6 -1), so those are turned off explicitly.  -passwdfile: the desktop secret
 *    (only security type 2 is offered then).  -quiet: its start-up
 *    banner is ~60 lines, which on a serial console costs real boot
 *    time; on TCP it still prints "PORT=5901" once listening, which
 *    kicks the probe (on the socket, its creation does).  Probed (and
 *    reached by websockify) on loopback when the address is a wildcard.
 *    It reads the screen through MIT-SHM, in
 *    0600 segments of its own uid, which Xvfb (another user) attaches
 *    with CAP_IPC_OWNER (add_xvfb()); where Xvfb cannot have it (x_shm
 *    false) with -noshm, over the X socket.
 *    -noremote -novncconnect: by default x11vnc obeys any X client of its
 *    display (the browser's user among them) through root-window
 *    properties: X11VNC_REMOTE reconfigures it (-R listen:ADDR moved its
 *    listener, -R connect:HOST sends the desktop to any address without
 *    a password) and VNC_CONNECT opens that reverse connection too.
 *  - websockify serves noVNC on novnc_listen and forwards only a
 *    connection that brings the token (TokenFile: the desktop secret);
 *    without it the socket is closed, no 101.  It is started through
 *    python3 -c (WEBSOCKIFY_MAIN), not its script.
 *  - Xvfb runs as x_user, with its copy of the cookie: every X client
 *    (x11vnc, the browser, the window manager) talks to it, and a hole in
 *    it must not give root; nor the VNC user's files, whose processes are
 *    killed before each new desktop secret (so Xvfb cannot share its uid).
 *  - x11vnc and websockify run as vnc_user, reading their copies of the
 *    cookie, password and tokens in its directory: the two face the
 *    network, and a hole in either must not give root.
 *  - the browser's session bus and Firefox run as browser_user; Firefox
 *    keeps remoting on (no --no-remote): browser.c hands it URLs over
 *    that bus. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <linux/capability.h>

#include "display.h"
#include "fileio.h"
#include "launch.h"
#include "macro.h"
#include "parse-util.h"
#include "socket-util.h"
#include "strv.h"
#include "vnc/websockify-main.h" /* generated from websockify-main.py */

int display_number(const char *display) {
        const char *p = display ? startswith(display, ":") : NULL;
        size_t n;
        uint64_t v;

        if (!p)
                return -EINVAL;
        n = strspn(p, "0123456789");
        if ((p[n] != '\0' && !(p[n] == '.' && strspn(p + n + 1, "0123456789") > 0)) ||
            parse_unsigned_span(p, n, 65535 - 6000, &v) < 0)
                return -EINVAL;
        return (int)v;
}

static char **strv_make(const char *first, ...) {
        const char *items[32];
        size_t n = 0;
        va_list ap;

        va_start(ap, first);
        for (const char *s = first; s && n < ELEMENTSOF(items) - 1; s = va_arg(ap, const char *))
                items[n++] = s;
        va_end(ap);
        items[n] = NULL;
        return strv_concat((char *const *)items, NULL);
}

/* "K=V" into a fixed buffer (the values are paths and addresses). */
static const char *kv(char *buf, size_t size, const char *k, const char *v) {
        snprintf(buf, size, "%s=%s", k, v);
        return buf;
}

const char *display_connect_host(const char *listen) {
        if (isempty(listen) || streq(listen, "0.0.0.0"))
                return "127.0.0.1";
        if (streq(listen, "::"))
                return "::1";
        return listen;
}

bool display_xkm_dir_ok(mode_t mode, uid_t owner, uid_t x_uid) {
        return S_ISDIR(mode) && owner == x_uid && (mode & (S_IWUSR | S_IXUSR)) == (S_IWUSR | S_IXUSR) &&
               !(mode & (S_IWGRP | S_IWOTH));
}

int display_vnc_target(const char *vnc_listen, uint16_t vnc_port, const char *vnc_socket, char *buf, size_t size) {
        int n = streq_ptr(vnc_listen, DISPLAY_VNC_LISTEN_UNIX)
                        ? snprintf(buf, size, "unix_socket:%s", vnc_socket)
                        : snprintf(buf, size, "%s:%u", display_connect_host(vnc_listen), vnc_port);

        return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

/* Adds tmpl (taken) as name, run as user, with argv (taken), one
 * dependency or two, and env entries (copied) before the template's own.
 * A user that cannot be copied fails the service: never root for want of
 * memory. */
static int add_service(ServiceDefs *d, const char *name, const char *user, char **argv, const char *dep1,
                       const char *dep2, char *const *env, ServiceDef *tmpl) {
        ServiceDef s = *tmpl;
        char **more = s.env;
        int r;

        *tmpl = (ServiceDef){};
        s.name = strdup(name);
        s.user = strdup(user);
        s.argv = argv;
        s.depends_on = dep1 ? strv_make(dep1, dep2, NULL) : NULL;
        s.env = strv_concat(env, more);
        strv_free(more);
        if (!s.name || !s.user || !s.argv || (dep1 && !s.depends_on) || !s.env)
                r = -ENOMEM;
        else
                r = service_defs_add(d, &s);
        service_def_done(&s);
        return r;
}

static int add_xvfb(const DisplayOptions *c, int num, ServiceDefs *d) {
        char display[16], screen[64], lock[64], xkm[64];
        ServiceDef t = { .probe.type = PROBE_DISPLAYFD };

        snprintf(display, sizeof display, ":%d", num);
        snprintf(screen, sizeof screen, "%sx%u", c->geometry, c->depth);
        snprintf(lock, sizeof lock, "/tmp/.X%d-lock", num);
        t.stale_lock = strdup(lock);
        /* Its keymap, when x_user may not write DISPLAY_XKM_DIR. */
        snprintf(xkm, sizeof xkm, "/tmp/server-%d.xkm", num);
        t.others_files = strv_make(xkm, NULL);
        /* Without its cookie copy (its user was added after the agent
         * started, or took another uid) Xvfb would admit every client. */
        t.owned_files = strv_make(c->paths->x_xauthority, NULL);
        /* MIT-SHM: the X server attaches its clients' SysV segments
         * (x11vnc's framebuffer tiles, Firefox's images), which are 0600
         * and theirs; only CAP_IPC_OWNER lets a server of another uid do
         * so.  It reaches the segments of the agent's own IPC namespace
         * alone, which hold what its clients hand it anyway.  Without it
         * x11vnc reads the screen through the X socket: about five times
         * its CPU and half the update rate for full-screen redraws. */
        t.ambient_caps = c->x_shm ? UINT64_C(1) << CAP_IPC_OWNER : 0;
        /* What it says at every start about /tmp/.X11-unix not being 1777:
         * the 1770 is ours (desktop.h), and it works on. */
        t.quiet_output = strv_make("_XSERVTransmkdir: Mode of " X11_SOCKET_DIR " should be set to 1777",
                                   "_XSERVTransmkdir: this may cause subsequent errors", NULL);
        if (!t.stale_lock || !t.others_files || !t.owned_files || !t.quiet_output) {
                service_def_done(&t);
                return -ENOMEM;
        }
        return add_service(d, "Xvfb", c->x_user,
                           strv_make("Xvfb", display, "-displayfd", "3", "-auth", c->paths->x_xauthority, "-screen",
                                     "0", screen, "-nolisten", "tcp", "-nolisten", "local", NULL),
                           NULL, NULL, (char *[]){ NULL }, &t);
}

/* x11vnc's listen flags: exactly the one address (report: -listen alone
 * still listens on [::]:PORT and [::]:5900), or the unix socket alone
 * (-rfbport 0: no TCP port; -no6 and -rfbportv6 -1: none on [::] either).
 * Then "-1", the value of the last flag. */
static void vnc_listen_args(const DisplayOptions *c, const char *port, const char *args[6]) {
        const char *listen = c->vnc_listen;
        bool v6 = listen && strchr(listen, ':');

        if (streq_ptr(listen, DISPLAY_VNC_LISTEN_UNIX)) {
                memcpy(args, (const char *[6]){ "-unixsock", c->paths->vnc_socket, "-rfbport", "0", "-no6",
                                                "-rfbportv6" }, 6 * sizeof *args);
                return;
        }
        memcpy(args, (const char *[6]){ "-rfbport", port, v6 ? "-listen6" : "-listen",
                                        isempty(listen) ? "0.0.0.0" : listen, v6 ? "-noipv4" : "-no6",
                                        "-rfbportv6" }, 6 * sizeof *args);
}

/* The tasks vnc_user may have at once: x11vnc, websockify and the process
 * websockify forks per connection.  A flood of connections from the
 * network is held to that many (~2.5 MB each, until their 10 s request
 * timeout) instead of taking the VM's memory; the ones past it are closed.
 * Room for a few viewers: noVNC's page opens up to six connections at
 * once, each desktop one more.  websockify-main.py shares them out:
 * PER_SOURCE to each source, and OTHERS_MAX to all sources but the
 * host's and root's together (neighbours and local users), so that the
 * rest stays the host's and the agent's (its unit test holds the numbers
 * to this one). */
#define VNC_USER_TASKS_MAX 64

static int add_x11vnc(const DisplayOptions *c, const char *display, ServiceDefs *d) {
        char port[8], e1[64], e2[PATH_MAX];
        const char *l[6];
        ServiceDef t = { .max_procs = VNC_USER_TASKS_MAX, .extra_gid = c->x_gid };

        snprintf(port, sizeof port, "%u", c->vnc_port);
        vnc_listen_args(c, port, l);
        if (streq_ptr(c->vnc_listen, DISPLAY_VNC_LISTEN_UNIX))
                t.probe = (ProbeSpec){ .type = PROBE_UNIX_BANNER, .path = strdup(c->paths->vnc_socket),
                                       .expect = strdup("RFB ") };
        else
                t.probe = (ProbeSpec){ .type = PROBE_TCP_BANNER, .port = c->vnc_port,
                                       .host = strdup(display_connect_host(c->vnc_listen)), .expect = strdup("RFB ") };
        /* Its copies, written for vnc_user's uid when the secret came; a
         * user changed since (or refused: sharing the browser's uid) has
         * none, and x11vnc is failed naming the file. */
        t.owned_files = strv_make(c->paths->vnc_password, c->paths->vnc_xauthority, NULL);
        if (!t.owned_files) {
                service_def_done(&t);
                return -ENOMEM;
        }
        return add_service(d, DISPLAY_SERVICE_X11VNC, c->vnc_user,
                           strv_make("x11vnc", "-display", display, "-auth", c->paths->vnc_xauthority, l[0], l[1],
                                     l[2], l[3], l[4], l[5], "-1", "-forever", "-shared", "-quiet",
                                     "-noremote", "-novncconnect", "-passwdfile", c->paths->vnc_password,
                                     c->x_shm ? NULL : "-noshm", /* last: NULL ends the list */
                                     NULL),
                           "Xvfb", NULL,
                           (char *[]){ (char *)kv(e1, sizeof e1, "DISPLAY", display),
                                       (char *)kv(e2, sizeof e2, "XAUTHORITY", c->paths->vnc_xauthority), NULL },
                           &t);
}

char *display_host_addresses_entry(const char *hosts) {
        char *entry;

        return asprintf(&entry, DISPLAY_HOST_ADDRESSES_ENV "=%s", strempty(hosts)) < 0 ? NULL : entry;
}

/* websockify runs as python3 -c with vnc/websockify-main.py's text (its
 * own entry point without its two slow imports, and its request handler
 * closed down: a request must arrive within 10 s, no redirect for a path
 * with a backslash, no directory listings, one log record per line, at most
 * PER_SOURCE connections per source and OTHERS_MAX for all sources but the
 * host's and root's together, the inherited socket's family kept).
 * The file says why each; the build embeds it as WEBSOCKIFY_MAIN.  The
 * host's addresses come in its environment (DISPLAY_HOST_ADDRESSES_ENV). */
static int add_websockify(const DisplayOptions *c, const char *display, ServiceDefs *d) {
        const char *listen = isempty(c->novnc_listen) ? "0.0.0.0" : c->novnc_listen;
        _cleanup_(freep) char *hosts = display_host_addresses_entry(c->host_addresses);
        char source[96], e1[64];
        ServiceDef t = { .max_procs = VNC_USER_TASKS_MAX };

        if (!hosts)
                return -ENOMEM;
        snprintf(source, sizeof source, strchr(listen, ':') ? "[%s]:%u" : "%s:%u", listen, c->novnc_port);
        t.probe = (ProbeSpec){ .type = PROBE_HTTP, .port = c->novnc_port,
                               .host = strdup(display_connect_host(c->novnc_listen)), .path = strdup("/") };
        /* The agent's listening socket when it has one: see novnc_socket. */
        t.stdin_socket = c->novnc_socket > 0 ? c->novnc_socket : 0;
        return add_service(d, DISPLAY_SERVICE_WEBSOCKIFY, c->vnc_user,
                           strv_make("python3", "-c", WEBSOCKIFY_MAIN, "--web", c->novnc_web, "--token-plugin",
                                     "TokenFile", "--token-source", c->paths->novnc_tokens,
                                     t.stdin_socket ? "--inetd" : source, NULL),
                           DISPLAY_SERVICE_X11VNC, NULL,
                           (char *[]){ (char *)kv(e1, sizeof e1, "DISPLAY", display), hosts, NULL }, &t);
}

/* Configured but not installed: left out, since it is optional and
 * nothing else depends on it.  It manages the browser's
 * windows and runs as the browser's user, with its cookie and HOME: the
 * desktop is anyone's who has the desktop secret, and whatever a window
 * manager can be made to start must not be root's.  No browser, no
 * windows to manage: left out too. */
static int add_window_manager(const DisplayOptions *c, const char *display, ServiceDefs *d) {
        _cleanup_(freep) char *wm = NULL;
        char e1[64], e2[PATH_MAX], e3[PATH_MAX];
        ServiceDef t = { .extra_gid = c->x_gid };

        if (isempty(c->window_manager) || find_executable(c->window_manager, c->bin_path, &wm) < 0)
                return 0;
        return add_service(d, "window-manager", c->browser_user, strv_make(c->window_manager, NULL), "Xvfb", NULL,
                           (char *[]){ (char *)kv(e1, sizeof e1, "DISPLAY", display),
                                       (char *)kv(e2, sizeof e2, "XAUTHORITY", c->paths->browser_xauthority),
                                       (char *)kv(e3, sizeof e3, "HOME", c->paths->browser_dir), NULL },
                           &t);
}

static int add_bus(const DisplayOptions *c, ServiceDefs *d) {
        _cleanup_(freep) char *config = NULL, *address = NULL;
        ServiceDef t = { .probe.type = PROBE_FD_LINE };
        char e1[PATH_MAX];

        if (asprintf(&config, "--config-file=%s", c->paths->bus_config) < 0 ||
            asprintf(&address, "--address=unix:path=%s", c->paths->bus_socket) < 0)
                return -ENOMEM;
        t.create_dirs = strv_make(c->paths->browser_dir, NULL);
        if (!t.create_dirs)
                return -ENOMEM;
        return add_service(d, DISPLAY_SERVICE_BUS, c->browser_user,
                           strv_make("dbus-daemon", config, "--nofork", "--print-address=3", address, NULL),
                           NULL, NULL, (char *[]){ (char *)kv(e1, sizeof e1, "HOME", c->paths->browser_dir), NULL },
                           &t);
}

/* The tasks browser_user may have at once, threads included (RLIMIT_NPROC
 * on Firefox): Firefox ESR 153 through the netns browser tests peaked at
 * about 180 (content processes and their threads); ten times that leaves
 * room for many tabs, and a page that escaped the content sandbox cannot
 * fork the VM out of tasks. */
#define BROWSER_USER_TASKS_MAX 2048

static int add_browser(const DisplayOptions *c, const char *display, ServiceDefs *d) {
        const DesktopPaths *p = c->paths;
        char e[6][PATH_MAX + 32];
        /* Prestarted it opens the profile's blank home page; the first URL
         * then goes to it over D-Bus.  It is part of the display chain
         * then: closed by the person (exit 0), however soon after its
         * window showed, it comes back blank; an exit 0 before its window
         * (a broken profile) fails as a crash does.  On demand, closed it stays down until
         * the next URL. */
        ServiceDef t = { .on_demand = !c->browser_prestart,
                         .restart = c->browser_prestart ? RESTART_ALWAYS : RESTART_ON_FAILURE,
                         .quit_restarts = c->browser_prestart, .extra_gid = c->x_gid,
                         .max_procs = BROWSER_USER_TASKS_MAX,
                         .memory_max_mb = c->browser_memory_max_mb, .memory_max_key = "browser_memory_max_mb",
                         .oom_score_adj = BROWSER_OOM_SCORE_ADJ };

        /* Ready once its first window is restored: Firefox records its
         * start-up milestones in the profile, and a URL handed to it before
         * this one is requested but never shown. */
        t.probe.type = PROBE_FILE;
        if (asprintf(&t.probe.path, "%s/" BROWSER_CHECKPOINTS_FILE, c->firefox_profile) < 0)
                t.probe.path = NULL;
        t.probe.expect = strdup(BROWSER_CHECKPOINT_READY);
        t.create_dirs = strv_make(p->browser_tmp, c->firefox_profile, NULL);
        if (!t.create_dirs || !t.probe.path || !t.probe.expect) {
                service_def_done(&t);
                return -ENOMEM;
        }
        snprintf(e[0], sizeof e[0], "DBUS_SESSION_BUS_ADDRESS=unix:path=%s", p->bus_socket);
        return add_service(d, DISPLAY_SERVICE_BROWSER, c->browser_user,
                           strv_make(c->firefox, "--profile", c->firefox_profile, NULL),
                           "Xvfb", DISPLAY_SERVICE_BUS,
                           (char *[]){ (char *)kv(e[1], sizeof e[1], "DISPLAY", display),
                                       (char *)kv(e[2], sizeof e[2], "XAUTHORITY", p->browser_xauthority),
                                       (char *)kv(e[3], sizeof e[3], "HOME", p->browser_dir),
                                       (char *)kv(e[4], sizeof e[4], "TMPDIR", p->browser_tmp),
                                       e[0], (char *)"MOZ_DISABLE_AUTO_SAFE_MODE=1",
                                       /* No crash reporter: its minidump (the memory of
                                        * the login pages) and the page's URL (an OAuth
                                        * code or state) would be offered to Mozilla,
                                        * with a crash ping sent despite the policy's
                                        * DisableTelemetry.  Neither the policy nor the
                                        * prefs turn it off. */
                                       (char *)"MOZ_CRASHREPORTER_DISABLE=1", NULL },
                           &t);
}

static int check(const DisplayOptions *c, int num, char *errbuf, size_t size) {
        unsigned w, h;

        if (num < 0) {
                snprintf(errbuf, size, "display: '%s' is not of the form :N", c->display ?: "");
                return -EINVAL;
        }
        if (!c->geometry || sscanf(c->geometry, "%ux%u", &w, &h) != 2 || w == 0 || h == 0 ||
            strspn(c->geometry, "0123456789x") != strlen(c->geometry)) {
                snprintf(errbuf, size, "geometry: '%s' is not of the form WIDTHxHEIGHT", c->geometry ?: "");
                return -EINVAL;
        }
        if (isempty(c->x_user)) {
                snprintf(errbuf, size, "x_user: empty, and Xvfb never runs as root");
                return -EINVAL;
        }
        if (streq(c->x_user, c->vnc_user) || (!isempty(c->browser_user) && streq(c->x_user, c->browser_user))) {
                snprintf(errbuf, size, "x_user: '%s' is also vnc_user or browser_user; Xvfb needs a user of its own",
                         c->x_user);
                return -EINVAL;
        }
        if (isempty(c->vnc_user)) {
                snprintf(errbuf, size, "vnc_user: empty, and x11vnc and websockify never run as root");
                return -EINVAL;
        }
        if (!isempty(c->browser_user) && streq(c->vnc_user, c->browser_user)) {
                snprintf(errbuf, size, "vnc_user: '%s' is also browser_user; the servers facing the network "
                         "would reach the browser's profile", c->vnc_user);
                return -EINVAL;
        }
        if (streq_ptr(c->vnc_listen, DISPLAY_VNC_LISTEN_UNIX) && strlen(c->paths->vnc_socket) >= SUN_PATH_SIZE) {
                snprintf(errbuf, size, "vnc_listen unix: x11vnc's socket %s is over %zu bytes (a shorter "
                         "runtime_dir, or an address in vnc_listen)", c->paths->vnc_socket, SUN_PATH_SIZE - 1);
                return -ENAMETOOLONG;
        }
        /* websockify's token file names it, and splits a target at its last ':'. */
        if (streq_ptr(c->vnc_listen, DISPLAY_VNC_LISTEN_UNIX) && strchr(c->paths->vnc_socket, ':')) {
                snprintf(errbuf, size, "vnc_listen unix: x11vnc's socket %s has a ':', which websockify's "
                         "token file cannot name (a runtime_dir without one)", c->paths->vnc_socket);
                return -EINVAL;
        }
        return 0;
}

int display_build_services(const DisplayOptions *c, ServiceDefs *ret, char *errbuf, size_t size) {
        _cleanup_(service_defs_done) ServiceDefs d = {};
        bool browser = !isempty(c->firefox) && !isempty(c->browser_user);
        char display[16];
        int num = display_number(c->display), r;

        r = check(c, num, errbuf, size);
        if (r < 0)
                return r;
        snprintf(display, sizeof display, ":%d", num);
        r = add_xvfb(c, num, &d);
        if (r >= 0 && browser)
                r = add_window_manager(c, display, &d);
        if (r >= 0)
                r = add_x11vnc(c, display, &d);
        if (r >= 0)
                r = add_websockify(c, display, &d);
        if (r >= 0 && browser)
                r = add_bus(c, &d);
        if (r >= 0 && browser)
                r = add_browser(c, display, &d);
        if (r >= 0)
                r = service_defs_finalize(&d, errbuf, size);
        if (r < 0)
                return r;
        *ret = d;
        d = (ServiceDefs){};
        return 0;
}
