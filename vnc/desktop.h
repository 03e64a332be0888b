/* Writes the desktop's files (desktop-files.h) with the right owners and
 * modes: at start, before any service runs, and again when the desktop
 * secret changes.  An adapter: the texts and names are desktop-files.c's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "desktop-files.h"

typedef struct DesktopFilesOptions {
        const DesktopPaths *paths;
        const char *runtime_dir;
        const char *profile;      /* firefox_profile */
        unsigned display;         /* X display number, for the cookie entry */
        bool browser;             /* the browser user exists: prepare its files */
        uid_t uid;                /* the browser user (not root) */
        gid_t gid;
        uint32_t downloads_mb;    /* > 0: the browser's Downloads a tmpfs of this size */
        bool x;                   /* the X user exists: prepare its directory */
        uid_t x_uid;              /* the X user (not root) */
        gid_t x_gid;
        bool vnc;                 /* the VNC user exists: prepare its directory */
        uid_t vnc_uid;            /* the VNC user (not root) */
        gid_t vnc_gid;
} DesktopFilesOptions;

/* For the browser (o->browser): its directory, tmp and profile (its own,
 * 0700: an existing directory another uid owns is refused with -EPERM),
 * the bus config (0644 root) and user.js.  The first error stops it, with
 * what failed in err.  With o->downloads_mb, the browser's Downloads (its
 * own, 0700) is made a tmpfs of that size (nosuid, nodev, noexec), once:
 * Firefox saves there what a page downloads, without asking, its .part
 * files too, and with the disk's room a page could take all of it.  A
 * mount that fails is logged and the browser starts all the same. */
int desktop_write_browser_files(const DesktopFilesOptions *o, char *err, size_t size);

/* runtime_dir (0700 root; an existing one is made so when root owns it,
 * refused with -EPERM otherwise) and a fresh random cookie in Xauthority
 * (0600 root) and, when o->browser, in the browser's copy (0600, its own).
 * When o->x, /tmp/.X11-unix (root's, 1770, o->x_gid's: made when missing,
 * refused when another user owns it, since Xvfb does not run as root to
 * make it; only the X server's clients enter it, with that group as a
 * supplementary one) and the X user's directory, and when o->vnc, the
 * VNC user's (0700, their own; one another uid owns is refused with
 * -EPERM, and so is a parent others may write), each with its copy of
 * the cookie (0600, its own).
 * Xvfb must not start when this failed: its -auth fails open. */
int desktop_write_start_files(const DesktopFilesOptions *o, char *err, size_t size);

/* Xvfb has no abstract socket (-nolisten local: anyone could connect
 * there and hold its client slots), but its clients (libxcb) try that
 * name first, @/tmp/.X11-unix/X<display>, and fall back to the file only
 * when nothing accepts there: any local process that took the name would
 * get their connections, the cookie with the first.  A socket bound to it
 * and never listening keeps the name from everyone else and refuses
 * every connection (ECONNREFUSED, and the client goes on to the file);
 * the agent holds it while it runs.  Its fd in *ret_fd, or -errno
 * (-EADDRINUSE: another process has the name; no display may be served). */
int desktop_hold_x_abstract_name(unsigned display, int *ret_fd);

/* The secret's files in the VNC user's directory: x11vnc's password file
 * and websockify's token file (0600, uid:gid's), pointing websockify at
 * x11vnc's vnc_target (display_vnc_target()).  -EINVAL when the secret
 * does not pass desktop_secret_is_valid(). */
int desktop_write_secret_files(const DesktopPaths *p, const char *secret, const char *vnc_target, uid_t uid,
                               gid_t gid);
