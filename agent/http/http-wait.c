/* Implementation of http-wait.h: a small array of waiters, each with its
 * timer; kicks walk it.  Bounded by the connection limits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http-wait.h"
#include "parse-util.h"

typedef struct Waiter {
        HttpWaitList *list;
        HttpRequest *req;
        sd_event_source *timer;
        HttpWaitCheck check;
        void *userdata;
        void (*free_userdata)(void *userdata);
} Waiter;

struct HttpWaitList {
        sd_event *event;
        Waiter **w;
        size_t n, allocated;
};

int http_wait_list_new(sd_event *e, HttpWaitList **ret) {
        HttpWaitList *l = calloc(1, sizeof *l);

        if (!l)
                return -ENOMEM;
        l->event = e;
        *ret = l;
        return 0;
}

static void waiter_remove(Waiter *w) {
        HttpWaitList *l = w->list;

        for (size_t i = 0; i < l->n; i++)
                if (l->w[i] == w) {
                        l->w[i] = l->w[--l->n];
                        break;
                }
        sd_event_source_disable_unref(w->timer);
        if (w->free_userdata)
                w->free_userdata(w->userdata);
        free(w);
}

static void waiter_timeout(Waiter *w) {
        (void)w->check(w->req, true, w->userdata);
        waiter_remove(w);
}

HttpWaitList *http_wait_list_free(HttpWaitList *l) {
        if (!l)
                return NULL;
        while (l->n > 0)
                waiter_timeout(l->w[l->n - 1]);
        free(l->w);
        free(l);
        return NULL;
}

int http_wait_seconds(HttpRequest *req, unsigned *ret) {
        const char *v;
        uint64_t n;
        int r = http_request_query(req, "wait", &v);

        if (r <= 0) {
                *ret = 0;
                return r;
        }
        r = parse_unsigned(v, HTTP_WAIT_MAX_S, &n);
        /* A page's request is answered at once: held, a page's fetches
         * (six per loopback address) would fill the browser user's
         * loopback share, which the OAuth redirects need, for the whole
         * wait. */
        if (r >= 0)
                *ret = http_request_from_a_page(req) ? 0 : (unsigned)n;
        return r;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        waiter_timeout(userdata);
        return 0;
}

static void on_abort(void *userdata) {
        waiter_remove(userdata);
}

int http_wait_add(HttpWaitList *l, HttpRequest *req, usec_t timeout, HttpWaitCheck check, void *userdata,
                  void (*free_userdata)(void *userdata)) {
        _cleanup_(freep) Waiter *w = calloc(1, sizeof *w);
        int r = w ? 0 : -ENOMEM;

        if (r >= 0 && l->n == l->allocated) {
                size_t want = l->allocated ? l->allocated * 2 : 8;
                Waiter **a = reallocarray(l->w, want, sizeof *a);
                if (a) {
                        l->w = a;
                        l->allocated = want;
                } else
                        r = -ENOMEM;
        }
        if (r >= 0) {
                *w = (Waiter){ .list = l, .req = req, .check = check, .userdata = userdata,
                               .free_userdata = free_userdata };
                r = sd_event_add_time_relative(l->event, &w->timer, CLOCK_MONOTONIC, timeout, 0, on_timer, w);
        }
        if (r >= 0)
                r = http_request_suspend(req, on_abort, w);
        if (r < 0) {
                if (w)
                        w->timer = sd_event_source_disable_unref(w->timer);
                if (free_userdata)
                        free_userdata(userdata);
                return r;
        }
        l->w[l->n++] = TAKE_PTR(w);
        return 0;
}

void http_wait_kick(HttpWaitList *l) {
        /* Backwards: an answered waiter is replaced by the last one, which
         * has already been checked.  Replying only queues the response, so
         * nothing else leaves the list meanwhile. */
        for (size_t i = l->n; i > 0; i--) {
                Waiter *w = l->w[i - 1];

                if (w->check(w->req, false, w->userdata) > 0)
                        waiter_remove(w);
        }
}
