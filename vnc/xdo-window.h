/* Window operations on the VM's display through libxdo (no xdotool
 * binary): find the browser's window, size it to the screen, raise and
 * focus it, so the person watching through noVNC sees the sign-in page
 * and nothing else.  A window that is not mapped yet is waited for with X
 * MapNotify events on the root window, on the given loop. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct XdoWatch XdoWatch;

/* Arranges every visible window of class wm_class on display now.
 * Returns how many were arranged (0: none mapped yet), or -errno. */
int xdo_arrange_windows(const char *display, const char *wm_class);

/* Arranges the window as soon as one of class wm_class is mapped, giving
 * up after timeout_usec.  The watch frees itself when done; *ret (may be
 * NULL) is only for cancelling with xdo_watch_free(). */
int xdo_watch_new(sd_event *e, const char *display, const char *wm_class, uint64_t timeout_usec,
                  XdoWatch **ret);
XdoWatch *xdo_watch_free(XdoWatch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(XdoWatch *, xdo_watch_free);
