/* Implementation of display.h.  The argv of each component is here and
 * nowhere else; the supervisor runs them as opaque services.  Choices:
 *  - Xvfb gets -displayfd 3 together with a fixed display: it then writes
 *    the number once it accepts connections, which is the readiness event.
 *    -nolisten tcp: nothing but the local socket.
 *  - x11vnc listens on vnc_listen; it is probed (and websockify forwards)
 *    on loopback when that is a wildcard address.  -quiet: its start-up
 *    banner is ~60 lines, which on a serial console costs real boot time;
 *    it still prints "PORT=5901" once listening, which kicks the probe.
 *  - firefox keeps remoting on (no --no-remote), so browser.c can hand
 *    a URL to the running instance with the same --profile. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "display.h"
#include "fileio.h"
#include "launch.h"
#include "macro.h"
#include "strv.h"

int display_number(const char *display) {
        const char *p = display ? startswith(display, ":") : NULL;
        size_t n;
        long v;

        if (!p)
                return -EINVAL;
        n = strspn(p, "0123456789");
        if (n == 0 || n > 5 || (p[n] != '\0' && !(p[n] == '.' && strspn(p + n + 1, "0123456789") > 0)))
                return -EINVAL;
        v = strtol(p, NULL, 10);
        return v <= 65535 - 6000 ? (int)v : -EINVAL;
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

static const char *loopback_for(const char *listen) {
        if (isempty(listen) || streq(listen, "0.0.0.0"))
                return "127.0.0.1";
        if (streq(listen, "::"))
                return "::1";
        return listen;
}

static int add_xvfb(const DisplayOptions *c, int num, ServiceDefs *d) {
        char display[16], screen[64], lock[64];
        ServiceDef s = {};
        int r;

        snprintf(display, sizeof display, ":%d", num);
        snprintf(screen, sizeof screen, "%sx%u", c->geometry, c->depth);
        snprintf(lock, sizeof lock, "/tmp/.X%d-lock", num);
        s.name = strdup("Xvfb");
        s.argv = strv_make("Xvfb", display, "-displayfd", "3", "-screen", "0", screen,
                           "-nolisten", "tcp", NULL);
        s.stale_lock = strdup(lock);
        s.probe.type = PROBE_DISPLAYFD;
        if (!s.name || !s.argv || !s.stale_lock)
                r = -ENOMEM;
        else
                r = service_defs_add(d, &s);
        service_def_done(&s);
        return r;
}

static int add_simple(ServiceDefs *d, const char *name, char **argv, const char *dep,
                      const char *display_env, ServiceDef *tmpl) {
        ServiceDef s = *tmpl;
        char env[32];
        int r;

        *tmpl = (ServiceDef){};
        snprintf(env, sizeof env, "DISPLAY=%s", display_env);
        s.name = strdup(name);
        s.argv = argv;
        s.depends_on = strv_make(dep, NULL);
        {
                char *first[] = { env, NULL };
                char **more = s.env;
                s.env = strv_concat(first, more);
                strv_free(more);
        }
        if (!s.name || !s.argv || !s.depends_on || !s.env)
                r = -ENOMEM;
        else
                r = service_defs_add(d, &s);
        service_def_done(&s);
        return r;
}

static int add_vnc_chain(const DisplayOptions *c, const char *display, ServiceDefs *d) {
        char port[8], web_port[8], target[80];
        const char *vnc_host = loopback_for(c->vnc_listen);
        bool pw = !isempty(c->vnc_password_file);
        ServiceDef t = {};
        int r;

        snprintf(port, sizeof port, "%u", c->vnc_port);
        snprintf(web_port, sizeof web_port, "%u", c->novnc_port);
        snprintf(target, sizeof target, strchr(vnc_host, ':') ? "[%s]:%u" : "%s:%u", vnc_host, c->vnc_port);

        t.probe = (ProbeSpec){ .type = PROBE_TCP_BANNER, .port = c->vnc_port,
                               .host = strdup(vnc_host), .expect = strdup("RFB ") };
        r = add_simple(d, "x11vnc",
                       strv_make("x11vnc", "-display", display, "-rfbport", port, "-listen",
                                 isempty(c->vnc_listen) ? "0.0.0.0" : c->vnc_listen, "-forever",
                                 "-shared", "-quiet", pw ? "-rfbauth" : "-nopw", pw ? c->vnc_password_file : NULL,
                                 NULL),
                       "Xvfb", display, &t);
        if (r < 0)
                return r;

        t.probe = (ProbeSpec){ .type = PROBE_HTTP, .port = c->novnc_port, .host = strdup("127.0.0.1"),
                               .path = strdup("/") };
        return add_simple(d, "websockify",
                          strv_make("websockify", "--web", c->novnc_web, web_port, target, NULL),
                          "x11vnc", display, &t);
}

/* Configured but not installed: left out, as the issue asks ("when one
 * is installed"); nothing else depends on it. */
static int add_window_manager(const DisplayOptions *c, const char *display, ServiceDefs *d) {
        _cleanup_(freep) char *wm = NULL;
        ServiceDef t = {};

        if (isempty(c->window_manager) || find_executable(c->window_manager, c->bin_path, &wm) < 0)
                return 0;
        return add_simple(d, "window-manager", strv_make(c->window_manager, NULL), "Xvfb", display, &t);
}

static int add_browser(const DisplayOptions *c, const char *display, ServiceDefs *d) {
        ServiceDef t = {};

        if (isempty(c->firefox))
                return 0;
        t.on_demand = true;
        t.restart = RESTART_ON_FAILURE;
        t.create_dirs = strv_make(c->firefox_profile, NULL);
        if (!isempty(c->browser_home)) {
                /* The same HOME as the remote calls (browser.c), so
                 * they reach this instance. */
                char home[512];
                snprintf(home, sizeof home, "HOME=%s", c->browser_home);
                t.env = strv_make(home, NULL);
        }
        return add_simple(d, "firefox", strv_make(c->firefox, "--profile", c->firefox_profile, NULL),
                          "Xvfb", display, &t);
}

int display_build_services(const DisplayOptions *c, ServiceDefs *ret, char *errbuf, size_t size) {
        _cleanup_(service_defs_done) ServiceDefs d = {};
        char display[16];
        unsigned w, h;
        int num, r;

        num = display_number(c->display);
        if (num < 0) {
                snprintf(errbuf, size, "display: '%s' is not of the form :N", c->display ?: "");
                return -EINVAL;
        }
        if (!c->geometry || sscanf(c->geometry, "%ux%u", &w, &h) != 2 || w == 0 || h == 0 ||
            strspn(c->geometry, "0123456789x") != strlen(c->geometry)) {
                snprintf(errbuf, size, "geometry: '%s' is not of the form WIDTHxHEIGHT", c->geometry ?: "");
                return -EINVAL;
        }
        snprintf(display, sizeof display, ":%d", num);
        r = add_xvfb(c, num, &d);
        if (r >= 0)
                r = add_window_manager(c, display, &d);
        if (r >= 0)
                r = add_vnc_chain(c, display, &d);
        if (r >= 0)
                r = add_browser(c, display, &d);
        if (r >= 0)
                r = service_defs_finalize(&d, errbuf, size);
        if (r < 0)
                return r;
        *ret = d;
        d = (ServiceDefs){};
        return 0;
}
