/* The files the agent derives at start for the display stack, named and
 * composed here (pure; vnc/desktop.c writes them):
 *   runtime_dir (0700 root):  Xauthority    the X cookie (the agent's libxdo)
 *   runtime_dir-x, beside it (0700, x_user's: Xvfb never runs as root):
 *                             Xauthority    Xvfb's copy of the cookie (-auth)
 *   runtime_dir-vnc, beside it (0700, vnc_user's: x11vnc and websockify face
 *   the network and never run as root):
 *                             Xauthority    x11vnc's copy of the cookie (-auth)
 *                             vnc-password  x11vnc -passwdfile: the desktop secret
 *                             novnc-tokens  websockify's TokenFile: "SECRET: host:port"
 *   the browser's directory, the profile's parent (0700, the browser user's):
 *                             .Xauthority   its own copy of the cookie
 *                             tmp/          its TMPDIR (Firefox's startup lock lives there)
 *                             bus, bus.conf its session bus (dbus-daemon as that user)
 * The profile itself is firefox_profile, below the browser's directory. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

typedef struct DesktopPaths {
        char *xauthority;
        char *x_dir;
        char *x_xauthority;
        char *vnc_dir;
        char *vnc_xauthority;
        char *vnc_password;
        char *novnc_tokens;
        char *vnc_socket;     /* x11vnc's, with vnc_listen "unix" */
        char *browser_dir;
        char *browser_tmp;
        char *browser_downloads; /* where Firefox saves what a page downloads: HOME/Downloads */
        char *browser_xauthority;
        char *bus_socket;
        char *bus_config;
} DesktopPaths;

/* From runtime_dir and the profile directory, both absolute and plain (no
 * ".", "..", "//" or trailing '/'); the profile's parent is the browser's
 * directory and may not be "/" (it is given to the browser user), and
 * runtime_dir's siblings runtime_dir-x and runtime_dir-vnc are the X and
 * the VNC user's.
 * -EINVAL otherwise, -ENOMEM. */
int desktop_paths_init(DesktopPaths *p, const char *runtime_dir, const char *profile);
void desktop_paths_done(DesktopPaths *p);

/* x11vnc's password file: the secret on the first line (VNC uses its
 * first 8 characters).  The secret must pass desktop_secret_is_valid(). */
int desktop_vnc_password_text(const char *secret, char **ret);
/* websockify's token file: "SECRET: TARGET\n", TARGET "HOST:PORT" as
 * websockify splits it (the last ':' ends the host, so an IPv6 address
 * goes bare) or "unix_socket:PATH" (display_vnc_target(); PATH without a
 * ':').  -EINVAL for a target with blanks, brackets or no ':'. */
int desktop_novnc_tokens_text(const char *secret, const char *target, char **ret);
/* The browser user's session bus: Debian's session.conf without service
 * activation (nothing starts on demand, at-spi included), connections from
 * the browser's uid and from root (the agent calls Firefox's OpenURL).
 * The listen address is given on dbus-daemon's command line. */
int desktop_bus_config_text(uid_t browser_uid, char **ret);
