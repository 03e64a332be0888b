/* Request deadlines for http.c (internal).  libmicrohttpd's connection
 * timeout is an idle timeout: a client dripping one byte a second keeps a
 * connection forever (slowloris).  This bounds the whole time a request may
 * take to arrive — from connection start, or from the end of the previous
 * request on a kept-alive connection, until the request is answered or
 * suspended — and ends a late one by shutdown(2) on its socket, which MHD
 * then sees and closes as any client hang-up.  One sd-event timer for the
 * earliest deadline of a DeadlineQueue (deadline-queue.h). */
#pragma once

#include <microhttpd.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

typedef struct HttpDeadlines HttpDeadlines;
typedef struct HttpConn HttpConn;

/* budget 0: no deadline (everything below becomes a no-op). */
int http_deadlines_new(sd_event *e, usec_t budget, HttpDeadlines **ret);
HttpDeadlines *http_deadlines_free(HttpDeadlines *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpDeadlines *, http_deadlines_free);

/* On MHD_OPTION_NOTIFY_CONNECTION: STARTED returns the connection's
 * deadline (NULL on allocation failure, which only loses the deadline),
 * CLOSED frees it. */
HttpConn *http_deadlines_conn_started(HttpDeadlines *d, struct MHD_Connection *c);
void http_deadlines_conn_closed(HttpDeadlines *d, HttpConn *hc);

/* A request begins (again) on this connection / has fully arrived. */
void http_deadlines_arm(HttpDeadlines *d, HttpConn *hc);
void http_deadlines_disarm(HttpDeadlines *d, HttpConn *hc);

