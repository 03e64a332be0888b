/* Whole-request deadlines for the HTTP server: see http-deadline.h for
 * why (MHD's timeout is an idle timeout) and how (shutdown(2) on the late
 * connection's socket from one sd-event timer). */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "http-deadline.h"
#include "log.h"
#include "macro.h"

struct HttpConn {
        struct MHD_Connection *conn;
        usec_t deadline;            /* CLOCK_MONOTONIC; 0 = not armed */
        HttpConn *prev, *next;
};

struct HttpDeadlines {
        sd_event_source *timer;
        usec_t budget;
        HttpConn *head, *tail;      /* armed connections, earliest first */
};

static void list_remove(HttpDeadlines *d, HttpConn *hc) {
        if (hc->deadline == 0)
                return;
        if (hc->prev)
                hc->prev->next = hc->next;
        else
                d->head = hc->next;
        if (hc->next)
                hc->next->prev = hc->prev;
        else
                d->tail = hc->prev;
        hc->prev = hc->next = NULL;
        hc->deadline = 0;
}

static void timer_update(HttpDeadlines *d) {
        if (!d->head) {
                (void)sd_event_source_set_enabled(d->timer, SD_EVENT_OFF);
                return;
        }
        (void)sd_event_source_set_time(d->timer, d->head->deadline);
        (void)sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpDeadlines *d = userdata;
        usec_t t = now(CLOCK_MONOTONIC);

        while (d->head && d->head->deadline <= t) {
                HttpConn *hc = d->head;
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(hc->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

                list_remove(d, hc);
                /* MHD owns the fd; shutdown() only makes it readable at EOF,
                 * so MHD closes the connection through its usual path. */
                if (ci && shutdown(ci->connect_fd, SHUT_RDWR) < 0)
                        log_debug("shutdown() of a late HTTP connection failed: %m");
        }
        timer_update(d);
        return 0;
}

int http_deadlines_new(sd_event *e, usec_t budget, HttpDeadlines **ret) {
        _cleanup_(http_deadlines_freep) HttpDeadlines *d = NULL;
        int r;

        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->budget = budget;
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
        list_remove(d, hc);
        if (!d->head)
                timer_update(d);
        free(hc);
}

void http_deadlines_arm(HttpDeadlines *d, HttpConn *hc) {
        bool was_empty = !d->head;

        if (!hc || d->budget == 0)
                return;
        list_remove(d, hc);
        hc->deadline = now(CLOCK_MONOTONIC) + d->budget;
        hc->prev = d->tail;
        if (d->tail)
                d->tail->next = hc;
        else
                d->head = hc;
        d->tail = hc;
        if (was_empty)
                timer_update(d);
}

void http_deadlines_disarm(HttpDeadlines *d, HttpConn *hc) {
        if (!hc)
                return;
        list_remove(d, hc);
}
