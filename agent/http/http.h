/* HTTP on :8080: libmicrohttpd driven from the agent's sd-event loop.
 *
 * The contract for the health, control and login routes: modules
 * register route tables; handlers read the request through the accessors
 * and answer with exactly one http_reply_*() — now, or later after
 * http_request_suspend().  Limits (URL, headers, body, connections, per-IP
 * connections, timeouts) and access control (token, allow_from, loopback)
 * are enforced here, before any handler runs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "http-gate.h"
#include "macro.h"

typedef struct HttpServer HttpServer;
typedef struct HttpRequest HttpRequest;


/* Returns 0 once it has replied or suspended; a negative errno makes the
 * server answer with http_status_from_errno(). */
typedef int (*HttpHandler)(HttpRequest *req, void *userdata);

typedef struct HttpRoute {
        const char *method; /* "GET", "POST" */
        const char *path;
        HttpRouteFlags flags;
        HttpHandler handler;
} HttpRoute;

typedef struct HttpServerOptions {
        sd_event *event;
        int listen_fd;               /* >= 0: a socket passed by socket activation (taken over) */
        const char *listen_address;  /* otherwise bind this address ... */
        uint16_t port;               /* ... and port */
        uint32_t max_connections, max_per_ip, timeout_s, max_body, max_url, max_header;
        char *const *allow_from;     /* control routes: NULL = loopback + is_host() */
        char *const *allowed_hosts;  /* Host names besides IP literals and localhost */
        /* The browser's user, whose loopback connections have a share
         * apart from the other local users' (http-peers.h); (uid_t)-1: none. */
        uid_t browser_uid;
        /* The host's addresses (the ip= gateways) for the default
         * allow_from; asked per request, since netinit may finish after
         * the server listens.  May be NULL. */
        bool (*is_host)(const struct sockaddr *sa, void *userdata);
        /* The bearer token control routes require, asked per request;
         * NULL or "" = none configured: control routes are refused. */
        const char *(*token)(void *userdata);
        /* True while a snapshot restore is redone: control routes answer
         * 503 {"error":"Restoring"}.  May be NULL. */
        bool (*restoring)(void *userdata);
        void *userdata;
} HttpServerOptions;

/* o is copied; its strings and allow_from must outlive the server. */
int http_server_new(const HttpServerOptions *o, HttpServer **ret);
HttpServer *http_server_free(HttpServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpServer *, http_server_free);
/* routes must outlive the server (static tables). */
int http_server_add_routes(HttpServer *s, const HttpRoute *routes, size_t n, void *userdata);

/* Request accessors: borrowed strings, valid until the reply is queued. */
const char *http_request_path(HttpRequest *r);
const char *http_request_query_string(HttpRequest *r); /* raw, without '?'; "" if none */
/* Query argument key, decoded, in *ret: 1, or 0 (*ret NULL) if absent;
 * -EBADMSG when it holds an escaped NUL ("%00": it would read shorter,
 * "sessionId=<id>%00x" as <id>); -ENOTUNIQ when it is there twice, in
 * any case ("wait=1&WAIT=x": which one counts is not for us to guess). */
int http_request_query(HttpRequest *r, const char *key, const char **ret);
const char *http_request_header(HttpRequest *r, const char *name);
const char *http_request_body(HttpRequest *r, size_t *ret_size); /* NUL-terminated */
const struct sockaddr *http_request_peer(HttpRequest *r);
/* Whether a web page made the request (an Origin, or a Sec-Fetch-Site
 * other than "none"): its connection closes with the answer. */
bool http_request_from_a_page(HttpRequest *r);

/* Replies.  json is stolen (decref'd).  HTTP_REPLY_SECRET: the serialized
 * body is wiped (explicit_bzero) when MHD frees it.  A reply answers the
 * request even when its response cannot be built (json NULL, out of
 * memory): 500 {"error":"internal error"} goes out instead and -ENOMEM is
 * returned, so an owner may let go of a suspended request once it replied.
 * -EALREADY: answered before. */
enum { HTTP_REPLY_SECRET = 1 << 0 };
int http_reply_json(HttpRequest *r, unsigned status, json_t *json, unsigned flags);
int http_reply_error(HttpRequest *r, unsigned status, const char *message); /* {"error":message} */
int http_reply(HttpRequest *r, unsigned status, const char *content_type,
               const void *body, size_t size); /* body copied */
/* The same with one more header (name and value may be NULL); -EINVAL
 * when the value is not a valid header value: then nothing was sent and
 * the caller answers otherwise. */
int http_reply_with_header(HttpRequest *r, unsigned status, const char *content_type, const char *name,
                           const char *value, const void *body, size_t size);

/* Called exactly once when the request ends: completely_sent is true only
 * if the whole response reached the socket (MHD_REQUEST_TERMINATED_COMPLETED_OK). */
void http_request_on_complete(HttpRequest *r, void (*cb)(bool completely_sent, void *userdata),
                              void *userdata);

/* Ends r's connection while its response is still being sent, with what
 * the kernel holds of it (a reset): for an answer that must not go on.
 * Its on_complete then runs from the loop, completely_sent false. */
void http_request_cut_off(HttpRequest *r);

/* Defers the reply: the handler returns 0 and replies later (the event
 * loop keeps running).  on_abort runs if the client goes away first; after
 * it the request pointer is invalid. */
int http_request_suspend(HttpRequest *r, void (*on_abort)(void *userdata), void *userdata);

/* The one place a -errno becomes an HTTP status:
 * -EINVAL 400, -EACCES 401, -EPERM 403, -ENOENT 404, -EOPNOTSUPP 405,
 * -EEXIST/-EBUSY 409, -E2BIG/-EFBIG 413, -ENAMETOOLONG 414, -EUSERS 429,
 * -EAGAIN 503, else 500. */
unsigned http_status_from_errno(int r);

/* A restore began (the token is being replaced): every suspended control
 * request, which passed the gate with the old token, gets the gate's
 * answer of now, 503 {"error":"Restoring"}, after its abort callback. */
void http_server_restore_begun(HttpServer *s);

/* Requests answered, by route and status, for /metrics.  route is the
 * matched route's path, or "other" for requests no route took (404, 414
 * before routing).  Borrowed; valid until the next request is answered. */
typedef struct HttpCounter {
        const char *route;
        unsigned status;
        unsigned long long count;
} HttpCounter;
size_t http_server_get_counters(HttpServer *s, const HttpCounter **ret);
/* Requests suspended, waiting for their answer (long polls, a login's
 * pending URL). */
unsigned http_server_waiting(HttpServer *s);
/* Connections admitted (within the limits) and not yet closed. */
unsigned http_server_connections(HttpServer *s);
/* The listening socket (borrowed: libmicrohttpd's), or -EBADF. */
int http_server_listen_fd(HttpServer *s);
/* Loopback connections whose local user could not be told (counted
 * together, as one client): none while socket diagnostics work. */
unsigned long long http_server_loopback_unowned(HttpServer *s);
