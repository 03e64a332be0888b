/* The built-in display stack, as service definitions built from its
 * options: Xvfb (ready when it writes its display number to -displayfd),
 * the window manager when configured and installed, x11vnc (ready on the
 * RFB banner), websockify serving noVNC (ready when it answers HTTP), and
 * the browser, on demand.  Used when no services file is configured.  The
 * result is the supervisor's pure service model; nothing here runs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "agent/supervise/service-def.h"

typedef struct DisplayOptions {
        const char *display;           /* ":1" */
        const char *geometry;          /* "1280x800" */
        uint32_t depth;                /* 24 */
        const char *window_manager;    /* "" = none */
        const char *vnc_listen;        /* x11vnc listen address */
        uint16_t vnc_port;
        const char *vnc_password_file; /* "" = no password */
        uint16_t novnc_port;
        const char *novnc_web;         /* noVNC web root */
        const char *firefox;           /* "" = no browser service */
        const char *firefox_profile;
        const char *browser_home;      /* HOME of the browser and its remote calls */
        const char *bin_path;          /* PATH to find the window manager in */
} DisplayOptions;

/* Fills *ret (finalized, dependency order).  -EINVAL with a message for a
 * bad display or geometry. */
int display_build_services(const DisplayOptions *o, ServiceDefs *ret, char *errbuf, size_t size);

/* ":1" → 1; -EINVAL unless ":<digits>" (a screen suffix ".0" is allowed). */
int display_number(const char *display);
