/* The built-in display stack, as service definitions built from the
 * Config: Xvfb (ready when it writes its display number to -displayfd),
 * the window manager when configured and installed, x11vnc (ready on the
 * RFB banner), websockify serving noVNC (ready when it answers HTTP), and
 * the browser, on demand.  Used when services_file is "". */
#pragma once

#include <stddef.h>

#include "agent/config.h"
#include "agent/service-def.h"

/* Fills *ret (finalized, dependency order).  -EINVAL with a message for a
 * bad display or geometry. */
int display_build_services(const Config *c, ServiceDefs *ret, char *errbuf, size_t size);

/* An X server's lock file (/tmp/.X1-lock) left by a server that died
 * without cleaning up stops a new one from starting.  Removes it, and the
 * matching /tmp/.X11-unix/X<n> socket, when the pid it names is gone.
 * 1 removed, 0 absent or still owned by a live process, <0 error. */
int display_remove_stale_lock(const char *lock_path);

/* ":1" → 1; -EINVAL unless ":<digits>" (a screen suffix ".0" is allowed). */
int display_number(const char *display);
