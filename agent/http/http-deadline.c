/* Whole-request deadlines for the HTTP server: see http-deadline.h for
 * why (MHD's timeout is an idle timeout) and how (shutdown(2) on the late
 * connection's socket from one sd-event timer). */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "deadline-queue.h"
#include "http-deadline.h"
#include "log.h"
#include "macro.h"

struct HttpConn {
        struct MHD_Connection *conn;
        DeadlineEntry entry;
};

struct HttpDeadlines {
        sd_event_source *timer;
        usec_t timer_at;            /* what the timer is set for; USEC_INFINITY: off, 0: not known */
        usec_t budget;
        DeadlineQueue armed;
};

/* The timer follows the earliest deadline; called after each change of
 * the queue.  A timer that could not be set is tried again at the next
 * change (its failures come only from a loop that is going away, or
 * ENOMEM). */
static void timer_follow(HttpDeadlines *d) {
        usec_t next = deadline_queue_next(&d->armed);
        int r;

        if (next == d->timer_at)
                return;
        if (next == USEC_INFINITY)
                r = sd_event_source_set_enabled(d->timer, SD_EVENT_OFF);
        else {
                r = sd_event_source_set_time(d->timer, next);
                if (r >= 0)
                        r = sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
        }
        d->timer_at = r < 0 ? 0 : next;
        if (r < 0)
                log_debug_errno(r, "Cannot set the HTTP request deadline timer: %m");
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpDeadlines *d = userdata;
        usec_t t = now(CLOCK_MONOTONIC);

        for (DeadlineEntry *e; (e = deadline_queue_pop_due(&d->armed, t));) {
                HttpConn *hc = container_of(e, HttpConn, entry);
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(hc->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

                /* MHD owns the fd; shutdown() only makes it readable at EOF,
                 * so MHD closes the connection through its usual path. */
                if (ci && shutdown(ci->connect_fd, SHUT_RDWR) < 0)
                        log_debug("shutdown() of a late HTTP connection failed: %m");
        }
        /* The oneshot timer is off now: on again for what is left, if anything. */
        d->timer_at = USEC_INFINITY;
        timer_follow(d);
        return 0;
}

int http_deadlines_new(sd_event *e, usec_t budget, HttpDeadlines **ret) {
        _cleanup_(http_deadlines_freep) HttpDeadlines *d = NULL;
        int r;

        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->budget = budget;
        d->timer_at = USEC_INFINITY; /* made off below */
        r = sd_event_add_time(e, &d->timer, CLOCK_MONOTONIC, USEC_INFINITY, 10 * USEC_PER_MSEC,
                              on_deadline, d);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(d->timer, SD_EVENT_OFF);
        (void)sd_event_source_set_description(d->timer, "http-deadline");
        *ret = TAKE_PTR(d);
        return 0;
}

HttpDeadlines *http_deadlines_free(HttpDeadlines *d) {
        if (!d)
                return NULL;
        /* Connections still listed are freed by MHD's CLOSED notification,
         * which the caller gets by stopping the daemon first. */
        sd_event_source_disable_unref(d->timer);
        free(d);
        return NULL;
}

HttpConn *http_deadlines_conn_started(HttpDeadlines *d, struct MHD_Connection *c) {
        HttpConn *hc = calloc(1, sizeof *hc);

        if (!hc)
                return NULL;
        hc->conn = c;
        http_deadlines_arm(d, hc);
        return hc;
}

void http_deadlines_conn_closed(HttpDeadlines *d, HttpConn *hc) {
        if (!hc)
                return;
        http_deadlines_disarm(d, hc);
        free(hc);
}

void http_deadlines_arm(HttpDeadlines *d, HttpConn *hc) {
        if (!hc || d->budget == 0)
                return;
        deadline_queue_put(&d->armed, &hc->entry, now(CLOCK_MONOTONIC) + d->budget);
        timer_follow(d);
}

void http_deadlines_disarm(HttpDeadlines *d, HttpConn *hc) {
        if (!hc)
                return;
        deadline_queue_remove(&d->armed, &hc->entry);
        timer_follow(d);
}
