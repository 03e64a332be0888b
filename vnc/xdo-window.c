/* Implementation of xdo-window.h.  Firefox maps its window some time after
 * exec; rather than retrying on a timer the child selects
 * SubstructureNotify on the root window and tries again on each MapNotify.
 * Without a window manager, activation (_NET_ACTIVE_WINDOW) does nothing,
 * so focus is set directly too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xdo.h>

#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "xdo-window.h"

/* A window that went away between the search and an operation on it
 * (BadWindow, BadMatch): the others are still arranged. */
static int on_x_error(Display *dpy, XErrorEvent *e) {
        return 0;
}

static int arrange(xdo_t *xdo, const char *wm_class) {
        xdo_search_t q = {
                .winclass = wm_class,
                .searchmask = SEARCH_CLASS | SEARCH_ONLYVISIBLE,
                .require = SEARCH_ALL,
                .max_depth = -1,
        };
        Window *ws = NULL;
        unsigned n = 0, w = 0, h = 0;

        if (xdo_search_windows(xdo, &q, &ws, &n) != XDO_SUCCESS)
                return -EIO;
        (void)xdo_get_viewport_dimensions(xdo, &w, &h, 0);
        for (unsigned i = 0; i < n; i++) {
                if (w > 0 && h > 0) {
                        (void)xdo_move_window(xdo, ws[i], 0, 0);
                        (void)xdo_set_window_size(xdo, ws[i], (int)w, (int)h, 0);
                }
                (void)xdo_raise_window(xdo, ws[i]);
                (void)xdo_activate_window(xdo, ws[i]);
                (void)xdo_focus_window(xdo, ws[i]);
        }
        XFlush(xdo->xdpy);
        free(ws);
        return (int)n;
}

/* 0 once arranged; XNextEvent returns only with an event, and a broken
 * connection ends the process through Xlib's handler (exit 1). */
static int arrange_when_mapped(xdo_t *xdo, const char *wm_class) {
        XEvent ev;

        XSelectInput(xdo->xdpy, DefaultRootWindow(xdo->xdpy), SubstructureNotifyMask);
        /* Already mapped (a fast start, or a tab in a running instance). */
        if (arrange(xdo, wm_class) > 0)
                return 0;
        for (;;) {
                XNextEvent(xdo->xdpy, &ev);
                if (ev.type == MapNotify && arrange(xdo, wm_class) > 0)
                        return 0;
        }
}

int xdo_window_main(int argc, char **argv) {
        xdo_t *xdo;
        uint64_t timeout;
        int r;

        if (argc != 4) {
                log_error("Usage: vm-browser-agent %s DISPLAY WM_CLASS TIMEOUT_S", XDO_WINDOW_VERB);
                return 2;
        }
        if (parse_unsigned(argv[3], 3600, &timeout) < 0 || timeout == 0) {
                log_error("Bad timeout '%s': seconds, 1-3600.", argv[3]);
                return 2;
        }
        /* SIGALRM's default action ends the process even inside a blocked
         * Xlib call (a server grab). */
        alarm((unsigned)timeout);
        XSetErrorHandler(on_x_error);
        xdo = xdo_new(argv[1]);
        if (!xdo)
                return 1;
        r = arrange_when_mapped(xdo, argv[2]);
        xdo_free(xdo);
        return r;
}
