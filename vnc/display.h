/* The built-in display stack, as service definitions built from its
 * options: Xvfb (ready when it writes its display number to -displayfd),
 * the window manager when configured and installed, x11vnc (ready on the
 * RFB banner), websockify serving noVNC (ready when it answers HTTP), the
 * browser user's session bus (ready when it prints its address), and the
 * browser, on demand, as its user.  Used when no services file is
 * configured.  The result is the supervisor's pure service model; nothing
 * here runs.  The files named in the argv are the agent's (desktop-files.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/supervise/service-def.h"
#include "desktop-files.h"

typedef struct DisplayOptions {
        const char *display;           /* ":1" */
        const char *geometry;          /* "1280x800" */
        uint32_t depth;                /* 24 */
        const char *window_manager;    /* "" = none */
        const char *vnc_listen;        /* x11vnc listen address: IPv4 or IPv6 ("" = 0.0.0.0), or "unix" */
        uint16_t vnc_port;
        const char *novnc_listen;      /* websockify listen address ("" = 0.0.0.0) */
        uint16_t novnc_port;
        /* > 0: a socket the agent listens on there, websockify's stdin.
         * Kept by the agent while websockify restarts (a new desktop
         * secret, a restore, a crash): otherwise any local user could take
         * the port meanwhile and be sent the viewer's token, the desktop
         * secret. */
        int novnc_socket;
        const char *novnc_web;         /* noVNC web root */
        /* The host's addresses (agent/host/host-addresses.h's text, NULL
         * or "": none), for websockify's share kept for the host. */
        const char *host_addresses;
        const char *x_user;            /* Xvfb runs as it (never root) */
        gid_t x_gid;                   /* x_user's group: that of the X socket's directory, given to the
                                        * X clients (x11vnc, the window manager, the browser); 0: none */
        bool x_shm;                    /* Xvfb keeps CAP_IPC_OWNER: MIT-SHM with x11vnc (else x11vnc -noshm) */
        const char *vnc_user;          /* x11vnc and websockify run as it (never root) */
        const char *firefox;           /* "" = no browser */
        const char *firefox_profile;
        const char *browser_user;      /* "" = no browser (it never runs as root) */
        bool browser_prestart;         /* started with the stack, not at the first URL */
        uint32_t browser_memory_max_mb; /* its cgroup's memory.max (ServiceDef.memory_max_mb); 0: none */
        const DesktopPaths *paths;     /* the generated files */
        const char *bin_path;          /* PATH to find the window manager in */
} DisplayOptions;

/* Names of the services the agent drives. */
#define DISPLAY_SERVICE_X11VNC "x11vnc"
#define DISPLAY_SERVICE_WEBSOCKIFY "websockify"
#define DISPLAY_SERVICE_BUS "browser-bus"
#define DISPLAY_SERVICE_BROWSER "firefox"
/* The browser's oom_score_adj: above a provider CLI's (+500), so that
 * where no memory.max bounds it the kernel's OOM killer takes the browser,
 * which runs every web page and which the supervisor starts again, before
 * a CLI, whose death fails its login. */
#define BROWSER_OOM_SCORE_ADJ 800

/* The key of websockify's environment entry that holds the host's
 * addresses (DisplayOptions.host_addresses): vnc/websockify-main.py reads
 * it at start. */
#define DISPLAY_HOST_ADDRESSES_ENV "VMBA_HOST_CIDRS"

/* websockify's environment entry for hosts (host-addresses.h's text; NULL
 * or "": none), owned by the caller; NULL on OOM. */
char *display_host_addresses_entry(const char *hosts);

/* Firefox's start-up milestones in its profile, rewritten at every start;
 * the last one of a start is its first window restored. */
#define BROWSER_CHECKPOINTS_FILE "sessionCheckpoints.json"
#define BROWSER_CHECKPOINT_READY "\"sessionstore-windows-restored\":true"

/* Fills *ret (finalized, dependency order).  -EINVAL with a message for a
 * bad display or geometry. */
int display_build_services(const DisplayOptions *o, ServiceDefs *ret, char *errbuf, size_t size);

/* ":1" → 1; -EINVAL unless ":<digits>" (a screen suffix ".0" is allowed). */
int display_number(const char *display);

/* Where Xvfb compiles its keymap at each start when its user may write and
 * search it (the X server's XKM_OUTPUT_DIR, Debian's); else into
 * /tmp/server-<display>.xkm, a name any local user can create first in
 * the sticky /tmp (xkbcomp can then neither replace nor write it, and Xvfb
 * exits, at every start). */
#define DISPLAY_XKM_DIR "/var/lib/xkb"

/* Whether a directory of this mode and owner keeps Xvfb's keymap to
 * x_uid: its own, writable and searchable by it, and by no one else (its
 * group is the X clients', the browser's and the VNC user's). */
bool display_xkm_dir_ok(mode_t mode, uid_t owner, uid_t x_uid);

/* Where to reach a server that listens on listen: loopback for a wildcard
 * ("", "0.0.0.0" → "127.0.0.1", "::" → "::1"), else listen itself.
 * Static or borrowed. */
const char *display_connect_host(const char *listen);

/* vnc_listen's value for x11vnc on a unix socket (DesktopPaths.vnc_socket)
 * in the VNC user's 0700 directory instead of TCP: only that user (and
 * root) can connect, so no local process can hold its one handshake. */
#define DISPLAY_VNC_LISTEN_UNIX "unix"

/* Where websockify reaches x11vnc, as its token file names it:
 * "unix_socket:<vnc_socket>" for DISPLAY_VNC_LISTEN_UNIX, else
 * "<display_connect_host(vnc_listen)>:<vnc_port>".  -ENOBUFS if it does
 * not fit in buf. */
int display_vnc_target(const char *vnc_listen, uint16_t vnc_port, const char *vnc_socket, char *buf, size_t size);
