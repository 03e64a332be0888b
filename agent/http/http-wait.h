/* Long polling: a request that asked to wait (`?wait=SECONDS`) is
 * suspended until what it waits for may have changed (the owner kicks the
 * list) or its time is up.  So a host waits for /health/ready or a login's
 * status without polling, and the agent answers the moment the state
 * changes.  Each waiter is answered exactly once: by its check returning
 * "answered", by the timeout, by the client going away, or when the list
 * is freed (the check then answers as timed out). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "host-api.h"
#include "http.h"
#include "macro.h"
#include "time-util.h"

#define HTTP_WAIT_MAX_S HOST_API_WAIT_MAX_S
/* The 400 for a wait http_wait_seconds() refuses with r. */
#define HTTP_WAIT_ERROR "wait must be a number of seconds up to " STRINGIFY(HTTP_WAIT_MAX_S)
static inline const char *http_wait_error(int r) {
        return r == -ENOTUNIQ ? "wait given more than once" : HTTP_WAIT_ERROR;
}

typedef struct HttpWaitList HttpWaitList;

/* Looks at the state for req: replies and returns 1, or returns 0 to go
 * on waiting.  With timed_out it must reply. */
typedef int (*HttpWaitCheck)(HttpRequest *req, bool timed_out, void *userdata);

int http_wait_list_new(sd_event *e, HttpWaitList **ret);
HttpWaitList *http_wait_list_free(HttpWaitList *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpWaitList *, http_wait_list_free);

/* The wait the request asked for: 0 when absent or asked by a web page
 * (http_request_from_a_page()), -EINVAL when not a number of seconds in
 * 0..HTTP_WAIT_MAX_S, -EBADMSG when it holds an escaped NUL. */
int http_wait_seconds(HttpRequest *req, unsigned *ret);

/* Suspends req (the handler then returns 0); check runs on every kick
 * and, with timed_out, after timeout.  userdata is freed with
 * free_userdata (may be NULL) once the waiter is gone. */
int http_wait_add(HttpWaitList *l, HttpRequest *req, usec_t timeout, HttpWaitCheck check, void *userdata,
                  void (*free_userdata)(void *userdata));
/* Something changed: every waiter checks again. */
void http_wait_kick(HttpWaitList *l);
