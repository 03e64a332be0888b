/* Implementation of desktop-files.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desktop-files.h"
#include "macro.h"
#include "secret-util.h"

static bool ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

static bool path_plain(const char *p) {
        return p && p[0] == '/' && !strstr(p, "//") && !strstr(p, "/./") && !strstr(p, "/../") &&
               !ends_with(p, "/") && !ends_with(p, "/.") && !ends_with(p, "/..");
}

void desktop_paths_done(DesktopPaths *p) {
        if (!p)
                return;
        free(p->xauthority);
        free(p->x_dir);
        free(p->x_xauthority);
        free(p->vnc_dir);
        free(p->vnc_xauthority);
        free(p->vnc_password);
        free(p->novnc_tokens);
        free(p->vnc_socket);
        free(p->browser_dir);
        free(p->browser_tmp);
        free(p->browser_downloads);
        free(p->browser_xauthority);
        free(p->bus_socket);
        free(p->bus_config);
        *p = (DesktopPaths){};
}

int desktop_paths_init(DesktopPaths *p, const char *runtime_dir, const char *profile) {
        _cleanup_(desktop_paths_done) DesktopPaths d = {};
        const char *slash;

        if (!path_plain(runtime_dir) || !path_plain(profile) || streq(runtime_dir, "/"))
                return -EINVAL;
        slash = strrchr(profile, '/');
        if (slash == profile)
                return -EINVAL; /* the browser's directory would be "/" */
        d.browser_dir = strndup(profile, (size_t)(slash - profile));
        if (!d.browser_dir ||
            asprintf(&d.xauthority, "%s/Xauthority", runtime_dir) < 0 ||
            asprintf(&d.x_dir, "%s-x", runtime_dir) < 0 ||
            asprintf(&d.x_xauthority, "%s/Xauthority", d.x_dir) < 0 ||
            asprintf(&d.vnc_dir, "%s-vnc", runtime_dir) < 0 ||
            asprintf(&d.vnc_xauthority, "%s/Xauthority", d.vnc_dir) < 0 ||
            asprintf(&d.vnc_password, "%s/vnc-password", d.vnc_dir) < 0 ||
            asprintf(&d.novnc_tokens, "%s/novnc-tokens", d.vnc_dir) < 0 ||
            asprintf(&d.vnc_socket, "%s/rfb.sock", d.vnc_dir) < 0 ||
            asprintf(&d.browser_tmp, "%s/tmp", d.browser_dir) < 0 ||
            asprintf(&d.browser_downloads, "%s/Downloads", d.browser_dir) < 0 ||
            asprintf(&d.browser_xauthority, "%s/.Xauthority", d.browser_dir) < 0 ||
            asprintf(&d.bus_socket, "%s/bus", d.browser_dir) < 0 ||
            asprintf(&d.bus_config, "%s/bus.conf", d.browser_dir) < 0)
                return -ENOMEM;
        *p = d;
        d = (DesktopPaths){};
        return 0;
}

int desktop_vnc_password_text(const char *secret, char **ret) {
        if (!desktop_secret_is_valid(secret))
                return -EINVAL;
        return asprintf(ret, "%s\n", secret) < 0 ? -ENOMEM : 0;
}

int desktop_novnc_tokens_text(const char *secret, const char *target, char **ret) {
        const char *colon = target ? strrchr(target, ':') : NULL;
        const char *path = target ? startswith(target, "unix_socket:") : NULL;

        /* websockify splits the target at its last ':': a path keeps none. */
        if (!desktop_secret_is_valid(secret) || !colon || colon == target || !colon[1] ||
            strpbrk(target, " \t\r\n[]") || (path && strchr(path, ':')))
                return -EINVAL;
        return asprintf(ret, "%s: %s\n", secret, target) < 0 ? -ENOMEM : 0;
}

int desktop_bus_config_text(uid_t browser_uid, char **ret) {
        if (browser_uid == 0)
                return -EINVAL;
        return asprintf(ret,
                        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                        "<!-- Written by vm-browser-agent at every start: the browser's session bus.\n"
                        "     No service activation; the browser's uid and root (the agent) connect. -->\n"
                        "<busconfig>\n"
                        "  <type>session</type>\n"
                        "  <keep_umask/>\n"
                        "  <!-- Replaced by dbus-daemon's address=unix:path=... -->\n"
                        "  <listen>unix:tmpdir=/tmp</listen>\n"
                        "  <auth>EXTERNAL</auth>\n"
                        "  <policy context=\"default\">\n"
                        "    <allow user=\"%u\"/>\n"
                        "    <allow user=\"0\"/>\n"
                        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                        "    <allow eavesdrop=\"true\"/>\n"
                        "    <allow own=\"*\"/>\n"
                        "  </policy>\n"
                        "  <limit name=\"max_incoming_bytes\">1000000000</limit>\n"
                        "  <limit name=\"max_outgoing_bytes\">1000000000</limit>\n"
                        "  <limit name=\"max_message_size\">1000000000</limit>\n"
                        "</busconfig>\n",
                        (unsigned)browser_uid) < 0 ? -ENOMEM : 0;
}
