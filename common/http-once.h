/* One HTTP/1.x exchange as a client, on an sd-event loop: connect to an
 * address, send one request the caller wrote (the bytes are wiped when
 * freed: they may carry an OAuth code or a token), read the answer until
 * the server closes (the request says HTTP/1.0 or Connection: close),
 * bounded in size and time, and hand back the status, the header block and
 * the body.  Used for a provider CLI's own callback listener and for
 * Firecracker's metadata service.  The answer parsing is pure, in
 * http-answer.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "http-answer.h"
#include "macro.h"
#include "time-util.h"

typedef struct HttpOnce HttpOnce;

/* r: 0 with the answer; a connect or send error (-ECONNREFUSED, ...;
 * -ESHUTDOWN when the server closed or reset the connection before the
 * whole request was sent: a send's EPIPE or ECONNRESET); -ENODATA when
 * it ended the connection after the request without a byte of answer
 * (a server that stops, or a program on the port that is no HTTP
 * server); -EBADMSG when the answer is not HTTP; -EPIPE only when the connection ended before the body its
 * Content-Length announced was in (a truncated body is never handed on);
 * -EFBIG over the size bound; -ETIMEDOUT.  a is valid during the call
 * only; the exchange is freed after it returns. */
typedef void (*HttpOnceDone)(int r, const HttpAnswer *a, void *userdata);

/* Called once the connection is made, before a byte of the request is
 * sent, with the connected socket (borrowed): 0 sends the request;
 * -errno ends the exchange there, done getting that error.  It must not
 * free the exchange. */
typedef int (*HttpOnceConnected)(int fd, void *userdata);

/* request: taken over (wiped and freed by the exchange, also on failure).
 * ret may be NULL; it is only for cancelling with http_once_free(), after
 * which done is never called. */
int http_once_start(sd_event *e, const struct sockaddr *sa, socklen_t salen, char *request,
                    size_t request_len, size_t max_answer, usec_t timeout, HttpOnceDone done,
                    void *userdata, HttpOnce **ret);
/* Sets h's connected check; before the event loop runs again after
 * http_once_start(), so that it sees the connection before any send. */
void http_once_set_connected(HttpOnce *h, HttpOnceConnected connected);
HttpOnce *http_once_free(HttpOnce *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpOnce *, http_once_free);
