/* Implementation of xdo-window.h.  Firefox maps its window some time after exec; rather than
 * retrying on a timer we select SubstructureNotify on the root window and
 * try again on each MapNotify.  Without a window manager, activation
 * (_NET_ACTIVE_WINDOW) does nothing, so focus is set directly too. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xdo.h>

#include "log.h"
#include "macro.h"
#include "xdo-window.h"

struct XdoWatch {
        xdo_t *xdo;
        char *wm_class;
        sd_event_source *io, *timer;
        XdoWatch **owner;
};

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

int xdo_arrange_windows(const char *display, const char *wm_class) {
        xdo_t *xdo = xdo_new(display);
        int r;

        if (!xdo)
                return -ECONNREFUSED;
        r = arrange(xdo, wm_class);
        xdo_free(xdo);
        return r;
}

XdoWatch *xdo_watch_free(XdoWatch *w) {
        if (!w)
                return NULL;
        if (w->owner)
                *w->owner = NULL;
        sd_event_source_disable_unref(w->io);
        sd_event_source_disable_unref(w->timer);
        if (w->xdo)
                xdo_free(w->xdo);
        free(w->wm_class);
        free(w);
        return NULL;
}

static int on_x(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        XdoWatch *w = userdata;
        bool mapped = false;
        XEvent ev;

        while (XPending(w->xdo->xdpy) > 0) {
                XNextEvent(w->xdo->xdpy, &ev);
                mapped |= ev.type == MapNotify;
        }
        if (mapped && arrange(w->xdo, w->wm_class) > 0) {
                log_debug("Browser window arranged on the display.");
                xdo_watch_free(w);
        }
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        log_debug("No browser window appeared; not arranged.");
        xdo_watch_free(userdata);
        return 0;
}

int xdo_watch_new(sd_event *e, const char *display, const char *wm_class, uint64_t timeout_usec,
                  XdoWatch **ret) {
        _cleanup_(xdo_watch_freep) XdoWatch *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        w->wm_class = strdup(wm_class);
        if (!w->wm_class)
                return -ENOMEM;
        w->xdo = xdo_new(display);
        if (!w->xdo)
                return -ECONNREFUSED;
        XSelectInput(w->xdo->xdpy, DefaultRootWindow(w->xdo->xdpy), SubstructureNotifyMask);
        XFlush(w->xdo->xdpy);
        r = sd_event_add_io(e, &w->io, ConnectionNumber(w->xdo->xdpy), EPOLLIN, on_x, w);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &w->timer, CLOCK_MONOTONIC, timeout_usec, 0, on_timeout, w);
        if (r < 0)
                return r;
        /* Already mapped (a fast start): done now. */
        if (arrange(w->xdo, w->wm_class) > 0)
                w = xdo_watch_free(w);
        if (ret) {
                *ret = w;
                if (w)
                        w->owner = ret;
        }
        TAKE_PTR(w); /* frees itself when done */
        return 0;
}
