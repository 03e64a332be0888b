/* The HTTP server: libmicrohttpd in external-loop epoll mode, driven by the
 * agent's sd-event loop as systemd-journal-remote does (MHD's epoll fd is
 * one io source, MHD_get_timeout() one time source, MHD_run() after each).
 * Every request goes through one gate before a handler sees it, decided
 * by http-gate.c from what this file gathers (limits, route, peer, token,
 * the headers a browser sends); then the body is buffered up to
 * http_max_body and the handler runs.
 *
 * Limits MHD enforces itself, with its own (HTML) bodies: a request line or
 * header block that does not fit CONNECTION_MEMORY_LIMIT (sized from
 * http_max_url + http_max_header, and big enough to be mmap'ed so that no
 * request is left in the heap: pool_size()) gets 414 or 431.  Connections
 * over http_max_per_ip (loopback counting as one client per local user),
 * or over http_max_connections unless from the host (a reserve kept for
 * it) or loopback (outside that pool, with a bound of its own:
 * http-peers.h), are accepted and closed at once; MHD's own connection
 * limit is above the most we admit (conn_limit()), so it never holds the
 * host back in the listen queue.  Idle connections are closed after
 * http_timeout_s.  A
 * request must also arrive whole within http_timeout_s (http-deadline.c),
 * which MHD's idle timeout alone does not ensure against a slow drip.
 *
 * Ownership: an HttpRequest is created by MHD's URI log callback (so the
 * raw URI length and query are known) and freed in the completion
 * callback.  Replies are MHD responses queued at once, or, for a suspended
 * request, kept in req->pending until MHD calls us back after resume.  A
 * reply whose response cannot be built is answered with a 500 made at
 * start (server->fallback), so no request, suspended or not, is left
 * without an answer.  /metrics counts an answer once MHD took it.
 *
 * Longer than the usual 800 lines: it is the one MHD adapter, whose
 * callbacks share HttpRequest's lifetime rules above; the decisions are
 * apart (http-gate.c, http-access.c, http-peers.c, http-deadline.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-access.h"
#include "http-deadline.h"
#include "http-peers.h"
#include "http.h"
#include "in-addr-util.h"
#include "json-wipe.h"
#include "log.h"
#include "macro.h"
#include "secret-util.h"
#include "sock-diag.h"
#include "socket-util.h"

/* The Allow header of a 405: every method of one path. */
#define HTTP_ALLOW_MAX 128
#define ROUTE_OTHER "other"

typedef struct RouteSet {
        const HttpRoute *routes;
        size_t n;
        void *userdata;
} RouteSet;

struct HttpServer {
        HttpServerOptions o;
        struct MHD_Daemon *daemon;
        sd_event_source *io, *timer;
        RouteSet *sets;
        size_t n_sets;
        Cidr *acl;
        size_t n_acl;
        bool acl_configured;
        HttpCounter *counters;
        size_t n_counters;
        HttpRequest *suspended; /* list, so shutdown can resume them first */
        HttpDeadlines *deadlines;
        HttpPeers *peers;
        unsigned long long loopback_unowned; /* loopback connections of an unknown local user */
        bool owner_supported; /* the kernel can tell a loopback peer's user */
        bool owner_warned;
        struct MHD_Response *fallback; /* 500 {"error":"internal error"}, shared */
};

/* Per connection (MHD's socket context). */
typedef struct Conn {
        HttpConn *deadline;
        HttpPeerKey key;
        bool admitted;     /* counted in peers */
} Conn;

static HttpConn *deadline_of(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        Conn *c = ci ? ci->socket_context : NULL;

        return c ? c->deadline : NULL;
}

struct HttpRequest {
        HttpServer *server;
        struct MHD_Connection *conn;
        size_t uri_len;
        char *query;              /* raw, without '?'; "" if none */
        const char *method, *path; /* borrowed from MHD */
        const HttpRoute *route;
        void *userdata;
        char *body;
        size_t body_size, body_alloc;
        bool started, in_handler, suspended, replied;
        bool too_big;             /* a chunked body passed max_body: the rest is dropped */
        bool refused;             /* MHD refused our response: the connection is closed */
        bool resumed;             /* answered while suspended: pending (or fallback) goes out next */
        bool from_a_page;         /* a web page made it: its connection closes after the answer */
        bool http11;              /* not HTTP/1.0 */
        bool path_nul;            /* the raw path holds an escaped NUL */
        bool target_invalid;      /* neither origin-form nor http absolute-form */
        size_t target_prefix;     /* what comes before the path: "http://" and authority, or nothing */
        char authority[HTTP_AUTHORITY_MAX + 1]; /* an absolute-form target's; "" for origin-form */
        struct MHD_Response *pending;
        unsigned pending_status;
        const char *label;        /* route for /metrics */
        void (*on_complete)(bool, void *);
        void *complete_userdata;
        void (*on_abort)(void *);
        void *abort_userdata;
        HttpRequest *susp_prev, *susp_next;
        sd_event_source *gone;    /* suspended: the client's end of the connection, see watch_client() */
};

static void counter_add(HttpServer *s, const char *label, unsigned status) {
        HttpCounter *c;

        for (size_t i = 0; i < s->n_counters; i++)
                if (s->counters[i].status == status && streq(s->counters[i].route, label)) {
                        s->counters[i].count++;
                        return;
                }
        /* Labels are route paths or ROUTE_OTHER, so the table stays small
         * whatever clients send. */
        c = reallocarray(s->counters, s->n_counters + 1, sizeof *c);
        if (!c)
                return;
        s->counters = c;
        s->counters[s->n_counters++] = (HttpCounter) { .route = label, .status = status, .count = 1 };
}

size_t http_server_get_counters(HttpServer *s, const HttpCounter **ret) {
        *ret = s->counters;
        return s->n_counters;
}

unsigned http_server_waiting(HttpServer *s) {
        unsigned n = 0;

        for (HttpRequest *r = s->suspended; r; r = r->susp_next)
                n++;
        return n;
}

unsigned http_server_connections(HttpServer *s) {
        return (unsigned)http_peers_total(s->peers);
}

int http_server_listen_fd(HttpServer *s) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_LISTEN_FD);

        return info ? info->listen_fd : -EBADF;
}

unsigned long long http_server_loopback_unowned(HttpServer *s) {
        return s->loopback_unowned;
}

static void suspended_unlink(HttpRequest *r) {
        if (r->susp_prev)
                r->susp_prev->susp_next = r->susp_next;
        else if (r->server->suspended == r)
                r->server->suspended = r->susp_next;
        if (r->susp_next)
                r->susp_next->susp_prev = r->susp_prev;
        r->susp_prev = r->susp_next = NULL;
        r->gone = sd_event_source_disable_unref(r->gone);
}

/* Queues resp now; counted once MHD took it.  MHD takes a
 * response only on the first call (before any body byte) or the final one
 * (whole request in); refused, the connection is closed on return.
 * Takes ownership of resp; NULL queues the fallback 500. */
static int queue(HttpRequest *r, unsigned status, struct MHD_Response *resp) {
        enum MHD_Result ok;

        /* A page in the VM's browser could otherwise keep connections
         * open (idle, kept alive by the browser, to 127.0.0.2, .3, ...)
         * and fill its user's loopback share, which the browser's own
         * OAuth redirects need.  Not on the shared fallback 500. */
        if (r->from_a_page && resp)
                (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        ok = MHD_queue_response(r->conn, status, resp ?: r->server->fallback);

        if (resp)
                MHD_destroy_response(resp);
        if (ok != MHD_YES) {
                r->refused = true;
                return -EIO;
        }
        r->replied = true;
        http_deadlines_disarm(r->server->deadlines, deadline_of(r->conn));
        counter_add(r->server, r->label ? r->label : ROUTE_OTHER, status);
        return 0;
}

/* Hands a response to MHD, now or (suspended) on the next access callback.
 * Takes ownership of resp; NULL (it could not be built) sends the fallback
 * 500 instead, so that every reply answers: a suspended request's owner
 * lets go once it replied, and nothing else would answer it then. */
static int deliver(HttpRequest *r, unsigned status, struct MHD_Response *resp) {
        if (r->replied) {
                if (resp)
                        MHD_destroy_response(resp);
                return -EALREADY;
        }
        if (!resp)
                status = 500;
        if (r->suspended) {
                r->pending = resp;
                r->pending_status = status;
                r->replied = r->resumed = true;
                r->suspended = false;
                r->on_abort = NULL;
                suspended_unlink(r);
                MHD_resume_connection(r->conn);
                /* Resumed outside MHD_run() (a timer, a child, another fd):
                 * with an external event loop MHD only notices on its next
                 * run, so make that run happen now. */
                (void)sd_event_source_set_time(r->server->timer, 1);
                (void)sd_event_source_set_enabled(r->server->timer, SD_EVENT_ONESHOT);
                return 0;
        }
        return queue(r, status, resp);
}

/* The fallback 500 when a reply could not be built; returns err. */
static int deliver_failed(HttpRequest *r, int err) {
        (void)deliver(r, 500, NULL);
        return err;
}

int http_reply_with_header(HttpRequest *r, unsigned status, const char *content_type, const char *name,
                           const char *value, const void *body, size_t size) {
        struct MHD_Response *resp;

        resp = MHD_create_response_from_buffer(size, (void *)body, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return deliver_failed(r, -ENOMEM);
        if (content_type)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        /* MHD refuses a value with CR or LF: no header can be smuggled in.
         * Nothing is sent then: the caller answers otherwise. */
        if (name && value && MHD_add_response_header(resp, name, value) != MHD_YES) {
                MHD_destroy_response(resp);
                return -EINVAL;
        }
        return deliver(r, status, resp);
}

int http_reply(HttpRequest *r, unsigned status, const char *content_type, const void *body, size_t size) {
        return http_reply_with_header(r, status, content_type, NULL, NULL, body, size);
}

/* Queries and bodies may carry secrets (an OAuth code, a state, proxy
 * credentials): wiped before they go back to malloc. */
static void free_wiped(char *p, size_t size) {
        if (p) {
                explicit_bzero(p, size);
                free(p);
        }
}

static void free_secret(void *p) {
        erase_and_free(p);
}

/* json as a JSON response, with one more header when name is set. */
static int reply_json_with_header(HttpRequest *r, unsigned status, json_t *json, unsigned flags,
                                  const char *name, const char *value) {
        struct MHD_Response *resp;
        char *text;

        if (!json)
                return deliver_failed(r, -ENOMEM);
        text = json_dumps(json, JSON_COMPACT);
        if (flags & HTTP_REPLY_SECRET)
                json_wipe(json);
        json_decref(json);
        if (!text)
                return deliver_failed(r, -ENOMEM);
        resp = MHD_create_response_from_buffer_with_free_callback(
                strlen(text), text, (flags & HTTP_REPLY_SECRET) ? free_secret : free);
        if (!resp) {
                ((flags & HTTP_REPLY_SECRET) ? free_secret : free)(text);
                return deliver_failed(r, -ENOMEM);
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (name)
                MHD_add_response_header(resp, name, value);
        return deliver(r, status, resp);
}

int http_reply_json(HttpRequest *r, unsigned status, json_t *json, unsigned flags) {
        return reply_json_with_header(r, status, json, flags, NULL, NULL);
}

/* Every {"error": message} body, the handlers' and the gate's. */
static int reply_error_with_header(HttpRequest *r, unsigned status, const char *message,
                                   const char *name, const char *value) {
        return reply_json_with_header(r, status, json_pack("{s:s}", "error", message), 0, name, value);
}

int http_reply_error(HttpRequest *r, unsigned status, const char *message) {
        return reply_error_with_header(r, status, message, NULL, NULL);
}

/* Error replies from the gate, with the extra header some statuses need. */
static int reply_gate(HttpRequest *r, unsigned status, const char *message,
                      const char *header, const char *value) {
        return reply_error_with_header(r, status, message, header, value);
}

void http_request_on_complete(HttpRequest *r, void (*cb)(bool, void *), void *userdata) {
        r->on_complete = cb;
        r->complete_userdata = userdata;
}

void http_request_cut_off(HttpRequest *r) {
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct linger reset = { .l_onoff = 1, .l_linger = 0 };

        if (!fd)
                return;
        /* Closed with a reset: what is queued in the kernel is dropped,
         * not sent.  The shutdown fails MHD's next send, which closes it
         * through its usual path; its next run is made to happen now. */
        (void)setsockopt(fd->connect_fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        (void)shutdown(fd->connect_fd, SHUT_RDWR);
        (void)sd_event_source_set_time(r->server->timer, 1);
        (void)sd_event_source_set_enabled(r->server->timer, SD_EVENT_ONESHOT);
}

/* Ends a suspended request its owner no longer answers: the owner is told
 * (on_abort) and lets go, and the request is answered with status and
 * error (the fallback 500 if need be), which unlinks it. */
static void suspended_abort(HttpRequest *r, unsigned status, const char *error) {
        void (*abort_cb)(void *) = TAKE_PTR(r->on_abort);

        if (abort_cb)
                abort_cb(r->abort_userdata);
        (void)reply_gate(r, status, error, NULL, NULL);
}

/* The client of a suspended request closed its end: answered, so that
 * MHD resumes the connection, finds it closed, and frees its slot. */
static int on_client_gone(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        suspended_abort(userdata, 400, "the client closed its end of the connection");
        return 0;
}

/* MHD watches no suspended connection, and times none out: without this
 * watch a client gone keeps its slot (and its client's share of the
 * limits) until the wait ends, up to minutes.  Only its end: a request
 * pipelined behind this one wakes nothing.  Best effort: without it, the
 * wait's own end frees the slot as before. */
static void watch_client(HttpRequest *r) {
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        int k = fd ? sd_event_add_io(r->server->o.event, &r->gone, fd->connect_fd, EPOLLRDHUP, on_client_gone, r) :
                     -EBADF;

        if (k < 0)
                log_debug_errno(k, "Cannot watch a waiting request's connection: %m");
}

int http_request_suspend(HttpRequest *r, void (*on_abort)(void *), void *userdata) {
        if (!r->in_handler || r->replied || r->suspended)
                return -EINVAL;
        MHD_suspend_connection(r->conn);
        http_deadlines_disarm(r->server->deadlines, deadline_of(r->conn));
        r->suspended = true;
        r->on_abort = on_abort;
        r->abort_userdata = userdata;
        r->susp_next = r->server->suspended;
        if (r->susp_next)
                r->susp_next->susp_prev = r;
        r->server->suspended = r;
        watch_client(r);
        return 0;
}

const char *http_request_path(HttpRequest *r) {
        return r->path;
}

const char *http_request_query_string(HttpRequest *r) {
        return r->query ? r->query : "";
}

/* A query argument's occurrences, and the first one's value. */
typedef struct ArgScan {
        const char *key;
        unsigned n;
        const char *value;
        size_t size;
} ArgScan;

static enum MHD_Result arg_scan_add(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                    const char *value, size_t value_size) {
        ArgScan *a = cls;

        /* Names compared as libmicrohttpd's lookup does, ignoring case. */
        if (strcasecmp(key, a->key) == 0 && a->n++ == 0) {
                a->value = value;
                a->size = value_size;
        }
        return MHD_YES;
}

int http_request_query(HttpRequest *r, const char *key, const char **ret) {
        ArgScan a = { .key = key };

        *ret = NULL;
        (void)MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, arg_scan_add, &a);
        if (a.n > 1)
                return -ENOTUNIQ;
        if (!a.value)
                return 0;
        if (strlen(a.value) != a.size)
                return -EBADMSG;
        *ret = a.value;
        return 1;
}

const char *http_request_header(HttpRequest *r, const char *name) {
        return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_request_body(HttpRequest *r, size_t *ret_size) {
        if (ret_size)
                *ret_size = r->body_size;
        return r->body ? r->body : "";
}

const struct sockaddr *http_request_peer(HttpRequest *r) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        return ci ? ci->client_addr : NULL;
}

bool http_request_from_a_page(HttpRequest *r) {
        return r->from_a_page;
}

/* Default allow_from: loopback and the host (the ip= gateways). */
static bool peer_allowed(HttpServer *s, const struct sockaddr *sa) {
        if (s->acl_configured)
                return cidr_list_match(s->acl, s->n_acl, sa);
        return sockaddr_is_loopback(sa) || (s->o.is_host && s->o.is_host(sa, s->o.userdata));
}

static bool token_ok(HttpRequest *r, const char *token) {
        size_t n = 0;
        const char *t = http_bearer_token(http_request_header(r, MHD_HTTP_HEADER_AUTHORIZATION), &n);

        return t && !isempty(token) && secret_equal(t, n, token);
}

static bool route_matches_path(const HttpRoute *rt, const char *path) {
        return (rt->flags & HTTP_ROUTE_PREFIX) ? !!startswith(path, rt->path) : streq(path, rt->path);
}

static bool exact_route_exists(HttpServer *s, const char *path) {
        for (size_t i = 0; i < s->n_sets; i++)
                for (size_t k = 0; k < s->sets[i].n; k++) {
                        const HttpRoute *rt = &s->sets[i].routes[k];
                        if (!(rt->flags & HTTP_ROUTE_PREFIX) && streq(rt->path, path))
                                return true;
                }
        return false;
}

/* Finds the route; -EOPNOTSUPP with the Allow list when only the method
 * differs.  HEAD is served by GET routes (MHD drops the body).  A path
 * that has routes of its own is theirs alone: POST /auth/callback is a
 * 405 there, not a login of provider "callback" under "/auth/". */
static int route_find(HttpServer *s, HttpRequest *r, char *allow, size_t size) {
        const char *method = streq(r->method, "HEAD") ? "GET" : r->method;
        bool path_known = false, exact = exact_route_exists(s, r->path);

        allow[0] = '\0';
        for (size_t i = 0; i < s->n_sets; i++)
                for (size_t k = 0; k < s->sets[i].n; k++) {
                        const HttpRoute *rt = &s->sets[i].routes[k];

                        if (!route_matches_path(rt, r->path) || (exact && (rt->flags & HTTP_ROUTE_PREFIX)))
                                continue;
                        if (streq(rt->method, method)) {
                                r->route = rt;
                                r->userdata = s->sets[i].userdata;
                                r->label = rt->path;
                                return 0;
                        }
                        if (!path_known)
                                r->label = rt->path; /* 405s count under the route */
                        if (!path_known || !strstr(allow, rt->method)) {
                                size_t l = strlen(allow);
                                snprintf(allow + l, size - l, "%s%s%s", l ? ", " : "", rt->method,
                                         streq(rt->method, "GET") && !(rt->flags & HTTP_ROUTE_NO_HEAD) ? ", HEAD" : "");
                        }
                        path_known = true;
                }
        return path_known ? -EOPNOTSUPP : -ENOENT;
}

/* A field name is a token: not empty, no blank (a blank before the colon
 * would make "Host " a field of its own), no control byte. */
static bool field_name_ok(const char *key, size_t size) {
        if (size == 0)
                return false;
        for (size_t i = 0; i < size; i++)
                if ((unsigned char)key[i] <= ' ' || key[i] == 0x7f)
                        return false;
        return true;
}

/* No bare CR in a value.  (A NUL cannot be seen here: libmicrohttpd
 * 0.9.75 reads each header line as a C string, so a value ends at its
 * first NUL, sizes included, and the gate checks what is before it.) */
static bool field_value_ok(const char *value, size_t size) {
        return !value || !memchr(value, '\r', size);
}

static enum MHD_Result header_scan_add(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                       const char *value, size_t value_size) {
        HttpGateInput *in = cls;

        in->header_size += key_size + value_size + 4; /* ": ", CRLF */
        /* Each field's first value, as http_request_header() would find it. */
        if (!field_name_ok(key, key_size) || !field_value_ok(value, value_size))
                in->header_malformed = true;
        else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0 && in->hosts++ == 0)
                in->host = value;
        else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0 && in->content_lengths++ == 0)
                in->content_length = value;
        else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0 && in->transfer_encodings++ == 0)
                in->transfer_encoding = value;
        return MHD_YES;
}

/* The header block as the client sent it, near enough (MHD's memory pool
 * only bounds request line + headers together, this bounds the headers),
 * and what the gate checks of its framing. */
static void header_scan(HttpRequest *r, HttpGateInput *in) {
        (void)MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, header_scan_add, in);
}

/* The gate's verdict (http-gate.c decides) on what the request is now.
 * Its header value may point into allow, the caller's. */
static HttpGateVerdict gate(HttpServer *s, HttpRequest *r, char allow[static HTTP_ALLOW_MAX]) {
        const char *token = s->o.token ? s->o.token(s->o.userdata) : NULL;
        const struct sockaddr *sa = http_request_peer(r);
        HttpGateLimits limits = { .max_url = s->o.max_url, .max_header = s->o.max_header,
                                  .max_body = s->o.max_body, .allowed_hosts = s->o.allowed_hosts };
        HttpGateInput in = { .uri_len = r->uri_len, .head = streq(r->method, "HEAD"),
                             .match = HTTP_MATCH_NO_PATH, .http11 = r->http11, .path_nul = r->path_nul,
                             .target_invalid = r->target_invalid,
                             .target_host = r->authority[0] ? r->authority : NULL };
        int k;

        if (r->uri_len <= s->o.max_url) {
                header_scan(r, &in);
                k = route_find(s, r, allow, HTTP_ALLOW_MAX);
                in.match = k == -ENOENT ? HTTP_MATCH_NO_PATH : k == -EOPNOTSUPP ? HTTP_MATCH_NO_METHOD
                                                                                   : HTTP_MATCH_FOUND;
                in.allow = allow;
        }
        if (in.match == HTTP_MATCH_FOUND && r->route) {
                in.flags = r->route->flags;
                in.peer_loopback = sockaddr_is_loopback(sa);
                in.peer_allowed = (in.flags & HTTP_ROUTE_CONTROL) && peer_allowed(s, sa);
                in.token_configured = !isempty(token);
                in.token_ok = (in.flags & HTTP_ROUTE_CONTROL) && token_ok(r, token);
                in.restoring = (in.flags & HTTP_ROUTE_CONTROL) && s->o.restoring && s->o.restoring(s->o.userdata);
                in.origin = http_request_header(r, MHD_HTTP_HEADER_ORIGIN);
                in.sec_fetch_site = http_request_header(r, "Sec-Fetch-Site");
                in.sec_fetch_mode = http_request_header(r, "Sec-Fetch-Mode");
                in.sec_fetch_dest = http_request_header(r, "Sec-Fetch-Dest");
                in.content_type = http_request_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
        }
        return http_gate_decide(&in, &limits);
}

/* The gate runs on MHD's first call, before any body byte is read. */
static void request_start(HttpServer *s, HttpRequest *r) {
        char allow[HTTP_ALLOW_MAX];
        HttpGateVerdict v = gate(s, r, allow);

        r->from_a_page = http_from_a_page(http_request_header(r, MHD_HTTP_HEADER_ORIGIN),
                                          http_request_header(r, "Sec-Fetch-Site"));
        if (v.status)
                reply_gate(r, v.status, v.error, v.header, v.value);
}

/* libmicrohttpd 0.9.75 takes a response only before the first body byte
 * or once the whole request is in (MHD_queue_response(): state
 * HEADERS_PROCESSED or FULL_REQ_RECEIVED); mid-upload it refuses.  A
 * Content-Length over the limit is answered before any byte (the gate);
 * a chunked body that grows past it is read to its end and dropped, and
 * the 413 goes out on the final call.  What that reading costs is bounded
 * by the whole-request deadline (http-deadline.c, still armed: only a
 * queued answer disarms it), nothing of it is kept, and per byte it costs
 * less than a body within the limit, which any client may send. */
static enum MHD_Result body_append(HttpRequest *r, const char *data, size_t *size) {
        size_t max = r->server->o.max_body;

        if (r->too_big || r->body_size + *size > max) {
                if (!r->too_big) {
                        r->too_big = true;
                        free_wiped(r->body, r->body_alloc);
                        r->body = NULL;
                        r->body_size = r->body_alloc = 0;
                }
                *size = 0;
                return MHD_YES;
        }
        if (r->body_size + *size + 1 > r->body_alloc) {
                size_t want = MIN(MAX(r->body_alloc * 2, r->body_size + *size + 1), max + 1);
                char *b = malloc(want); /* not realloc: it would leave an unwiped copy */
                if (!b)
                        return MHD_NO;
                if (r->body)
                        memcpy(b, r->body, r->body_size);
                free_wiped(r->body, r->body_alloc);
                r->body = b;
                r->body_alloc = want;
        }
        memcpy(r->body + r->body_size, data, *size);
        r->body_size += *size;
        r->body[r->body_size] = '\0';
        *size = 0;
        return MHD_YES;
}

static void request_dispatch(HttpRequest *r) {
        char allow[HTTP_ALLOW_MAX];
        HttpGateVerdict v;
        int k;

        /* Asked again once the body is in: a restore may have begun, or
         * replaced the token, while it came (a handler must never run for
         * a token the restore refused). */
        v = gate(r->server, r, allow);
        if (v.status) {
                reply_gate(r, v.status, v.error, v.header, v.value);
                return;
        }
        r->in_handler = true;
        k = r->route->handler(r, r->userdata);
        r->in_handler = false;
        if (r->replied || (r->suspended && k >= 0))
                return;
        if (k >= 0) {
                log_debug("Handler for %s %s returned without replying", r->method, r->route->path);
                k = -EIO;
        }
        reply_gate(r, http_status_from_errno(k), k == -EIO ? "internal error" : "request failed",
                   NULL, NULL);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls) {
        HttpServer *s = cls;
        HttpRequest *r = *req_cls;

        if (!r)
                return MHD_NO; /* the URI callback could not allocate */
        if (r->resumed) {
                r->resumed = false;
                (void)queue(r, r->pending_status, TAKE_PTR(r->pending));
        } else if (!r->started) {
                r->started = true;
                r->conn = conn;
                r->method = method;
                r->path = http_target_path(url, r->target_prefix);
                if (!r->path) {
                        r->target_invalid = true;
                        r->path = url;
                }
                r->http11 = !streq(version, MHD_HTTP_VERSION_1_0);
                request_start(s, r);
        } else if (r->replied)
                *upload_data_size = 0;
        else if (*upload_data_size > 0) {
                if (body_append(r, upload_data, upload_data_size) != MHD_YES)
                        return MHD_NO;
        } else if (r->too_big)
                /* The connection is closed after it, as after the 413
                 * answered from Content-Length. */
                (void)reply_gate(r, 413, "request body too large", MHD_HTTP_HEADER_CONNECTION, "close");
        else
                request_dispatch(r);
        return r->refused ? MHD_NO : MHD_YES;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
        HttpServer *s = cls;
        HttpRequest *r;
        const char *q;
        int k;

        r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        r->server = s;
        r->conn = conn;
        r->uri_len = strlen(uri);
        k = http_target_split(uri, r->authority);
        r->target_invalid = k < 0;
        r->target_prefix = k > 0 ? (size_t)k : 0;
        q = strchr(uri, '?');
        /* MHD unescapes the path into a C string: "/shutdown%00.html"
         * would reach the routes as "/shutdown". */
        r->path_nul = memmem(uri, q ? (size_t)(q - uri) : r->uri_len, "%00", 3) != NULL;
        /* Over-long URIs get 414 and need no copy. */
        if (q && r->uri_len <= s->o.max_url)
                r->query = strdup(q + 1);
        return r;
}

static void request_free(HttpRequest *r) {
        if (r->pending)
                MHD_destroy_response(r->pending);
        erase_and_free(r->query);
        free_wiped(r->body, r->body_alloc);
        free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
        HttpRequest *r = *req_cls;

        if (!r)
                return;
        *req_cls = NULL;
        if (r->suspended)
                suspended_unlink(r);
        if (r->suspended && r->on_abort)
                r->on_abort(r->abort_userdata);
        if (r->on_complete)
                r->on_complete(r->replied && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK,
                               r->complete_userdata);
        request_free(r);
        /* Kept alive: the next request's clock starts now. */
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
                http_deadlines_arm(((HttpServer *)cls)->deadlines, deadline_of(conn));
}

/* Whether peer is the host: admitted by allow_from (or, by default, one of
 * the ip= gateways) and not loopback, which any local process shares. */
static bool peer_is_host(HttpServer *s, const struct sockaddr *sa) {
        return sa && !sockaddr_is_loopback(sa) && peer_allowed(s, sa);
}

/* For a loopback peer, the local user holding its socket; unknown ones
 * share one client's limit.  A peer that already closed its end is no
 * news (MHD closes ours next); any other failure is counted, the first
 * one a warning (the kernel lacks inet_diag/tcp_diag, say). */
static uid_t loopback_owner(HttpServer *s, const struct sockaddr *sa, int fd) {
        uid_t owner = HTTP_PEER_OWNER_UNKNOWN;
        int r;

        if (!sa || !sockaddr_is_loopback(sa))
                return owner;
        r = !s->owner_supported ? -EOPNOTSUPP : fd < 0 ? -EBADF : sock_diag_peer_owner(fd, &owner);
        if (r >= 0 || r == -ENOTCONN) /* owner is set on success only */
                return owner;
        s->loopback_unowned++;
        if (!s->owner_warned)
                log_warning_errno(r, "Loopback HTTP connections whose local user is unknown share one "
                                  "client's limit: socket diagnostics: %m");
        s->owner_warned = true;
        return HTTP_PEER_OWNER_UNKNOWN;
}

/* Counts the connection against its client (loopback: one per local
 * user), and ends one over a limit by shutdown(2), which lets MHD close
 * it through its usual path. */
static void conn_admit(HttpServer *s, struct MHD_Connection *conn, Conn *c) {
        const union MHD_ConnectionInfo *peer = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const struct sockaddr *sa = peer ? peer->client_addr : NULL;
        HttpAdmission a = { .max_connections = s->o.max_connections, .max_per_peer = s->o.max_per_ip,
                            .host = peer_is_host(s, sa) };

        c->key = http_peer_key(sa, loopback_owner(s, sa, fd ? fd->connect_fd : -EBADF), s->o.browser_uid, a.host);
        c->admitted = http_peers_admit(s->peers, &c->key, &a) >= 0;
        if (!c->admitted && fd)
                (void)shutdown(fd->connect_fd, SHUT_RDWR);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        HttpServer *s = cls;
        Conn *c = *socket_context;

        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                c = calloc(1, sizeof *c);
                if (!c) {
                        const union MHD_ConnectionInfo *fd =
                                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                        if (fd)
                                (void)shutdown(fd->connect_fd, SHUT_RDWR);
                        return;
                }
                c->deadline = http_deadlines_conn_started(s->deadlines, conn);
                conn_admit(s, conn, c);
                *socket_context = c;
        } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && c) {
                http_deadlines_conn_closed(s->deadlines, c->deadline);
                if (c->admitted)
                        http_peers_release(s->peers, &c->key);
                free(c);
                *socket_context = NULL;
        }
}

_printf_(2, 0) static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[256];
        size_t n;

        /* Debug only: under attack MHD reports every refused connection. */
        if (log_get_max_level() < LOG_DEBUG)
                return;
        vsnprintf(buf, sizeof buf, fmt, ap);
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = '\0';
        log_debug("libmicrohttpd: %s", buf);
}

static void update_timer(HttpServer *s) {
        MHD_UNSIGNED_LONG_LONG ms;

        if (MHD_get_timeout(s->daemon, &ms) != MHD_YES) {
                (void)sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                return;
        }
        (void)sd_event_source_set_time(s->timer, now(CLOCK_MONOTONIC) + (usec_t)ms * USEC_PER_MSEC);
        (void)sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static void server_run(HttpServer *s) {
        if (MHD_run(s->daemon) != MHD_YES)
                log_debug("MHD_run() failed");
        update_timer(s);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        server_run(userdata);
        return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        server_run(userdata);
        return 0;
}

static int listen_socket(const char *address, uint16_t port, int *ret_fd, bool *ret_ipv6) {
        int r = tcp_socket_bound(address, port, SOCK_NONBLOCK, true, ret_fd);

        if (r >= 0)
                *ret_ipv6 = strchr(address, ':') != NULL;
        return r;
}

/* Every accepted connection is an fd: make sure the soft limit covers
 * http_max_connections, within the hard limit. */
static void raise_nofile(rlim_t want) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        rl.rlim_cur = MIN(want, rl.rlim_max);
        (void)setrlimit(RLIMIT_NOFILE, &rl);
}

static int acl_setup(HttpServer *s) {
        const char *bad = NULL;
        int r;

        if (!s->o.allow_from)
                return 0;
        r = cidr_list_parse(s->o.allow_from, &s->acl, &s->n_acl, &bad);
        if (r == -EINVAL) {
                /* Fail closed but keep serving: /health must stay up (as
                 * PID 1 a bad config is reported, never fatal), and an
                 * unreadable allow_from must not open the control routes. */
                log_warning("allow_from: invalid entry \"%s\"; control routes refused from every address.",
                            bad);
                s->n_acl = 0;
                r = 0;
        }
        s->acl_configured = r >= 0;
        return r;
}

/* libmicrohttpd 0.9.75 mmaps a connection's memory pool over 32 KiB (and
 * at least 4/3 of a page), else mallocs it (MHD_pool_create()). */
#define POOL_MMAP_MIN (32 * 1024 + 1)

/* Each connection's memory pool (CONNECTION_MEMORY_LIMIT).  It holds the
 * request line and headers plus MHD's read buffer: room is left so our
 * own 414 (JSON) answers URLs between http_max_url and this.
 *
 * It also holds secrets: MHD parses in place there (the query unescaped,
 * header values such as a Bearer token pointed to there, body bytes read
 * ahead).  A closed connection's pool is destroyed without being wiped
 * (MHD_pool_destroy()): free() would leave an OAuth code in the heap for
 * the next malloc, munmap() gives the pages back to the kernel, so the
 * pool is made big enough to be mmap'ed (should the mmap fail, MHD
 * mallocs it after all).  A kept-alive connection's pool is zeroed for
 * its next request (MHD_pool_reset(): all but the bytes of that request
 * already read).  MHD rounds the size up to whole pages: done here, so
 * that the limit is what we pass. */
static size_t pool_size(const HttpServerOptions *c) {
        long page = sysconf(_SC_PAGESIZE);
        size_t p = page > 0 ? (size_t)page : 4096;
        size_t want = MAX((size_t)c->max_url + c->max_header + 4096, MAX(POOL_MMAP_MIN, p * 4 / 3));

        return (want + p - 1) / p * p;
}

/* Room in MHD's connection count for connections that our accounting
 * refused (shut down at once) or that closed, which MHD counts until it
 * cleans them up after the run that closes them. */
#define HTTP_CLOSING_ROOM 64u

/* MHD's connection limit: at it, MHD stops accepting and every new
 * connection, the host's too, waits in the listen queue.  So it is above
 * the most our accounting admits at once, and the accounting is what
 * refuses. */
static uint32_t conn_limit(const HttpServerOptions *c) {
        HttpAdmission a = { .max_connections = c->max_connections, .max_per_peer = c->max_per_ip };

        return add_sat_u32(http_peers_most(&a), HTTP_CLOSING_ROOM);
}

static int daemon_start(HttpServer *s, int fd, bool ipv6) {
        const HttpServerOptions *c = &s->o;
        unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
        size_t pool = pool_size(c);

        s->daemon = MHD_start_daemon(
                flags | (ipv6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, on_access, s,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                MHD_OPTION_LISTEN_SOCKET, fd,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned)conn_limit(c),
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->timeout_s,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                MHD_OPTION_END);
        return s->daemon ? 0 : -EIO;
}

/* Made once, static text: queued for any number of requests (MHD counts
 * its users) without an allocation at the time. */
static int fallback_new(struct MHD_Response **ret) {
        static const char body[] = "{\"error\":\"internal error\"}";
        struct MHD_Response *resp;

        resp = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return -ENOMEM;
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES ||
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
                MHD_destroy_response(resp);
                return -ENOMEM;
        }
        *ret = resp;
        return 0;
}

int http_server_new(const HttpServerOptions *o, HttpServer **ret) {
        _cleanup_(http_server_freep) HttpServer *s = NULL;
        _cleanup_(closep) int fd = o->listen_fd;
        const union MHD_DaemonInfo *info;
        bool ipv6 = false;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->o = *o;
        s->o.listen_fd = -EBADF;
        r = acl_setup(s);
        if (r >= 0)
                r = http_peers_new(&s->peers);
        if (r >= 0)
                r = http_deadlines_new(o->event, (usec_t)o->timeout_s * USEC_PER_SEC, &s->deadlines);
        if (r >= 0)
                r = fallback_new(&s->fallback);
        if (r >= 0 && fd < 0)
                r = listen_socket(o->listen_address, o->port, &fd, &ipv6);
        if (r < 0)
                return r;
        /* MHD's limit, and the listening socket and the agent's other fds. */
        raise_nofile((rlim_t)conn_limit(o) + 64);
        /* MHD owns the listening socket from here, also on failure paths. */
        r = daemon_start(s, TAKE_FD(fd), ipv6);
        if (r < 0)
                return r;
        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        r = info ? sd_event_add_io(o->event, &s->io, info->epoll_fd, EPOLLIN, on_io, s) : -EIO;
        if (r >= 0)
                r = sd_event_add_time(o->event, &s->timer, CLOCK_MONOTONIC, USEC_INFINITY, 1, on_timer, s);
        if (r < 0)
                return r;
        (void)sd_event_source_set_description(s->io, "http-io");
        (void)sd_event_source_set_description(s->timer, "http-timer");
        update_timer(s);
        r = sock_diag_tcp_supported();
        s->owner_supported = r >= 0;
        if (r < 0) {
                log_warning_errno(r, "Loopback HTTP connections will share one client's limit, whatever their "
                                  "local user: no TCP socket diagnostics (kernel modules inet_diag, tcp_diag): %m");
                s->owner_warned = true;
        } else
                log_info("Loopback HTTP connections are counted per local user (TCP socket diagnostics).");
        *ret = TAKE_PTR(s);
        return 0;
}

int http_server_add_routes(HttpServer *s, const HttpRoute *routes, size_t n, void *userdata) {
        RouteSet *sets = reallocarray(s->sets, s->n_sets + 1, sizeof *sets);

        if (!sets)
                return -ENOMEM;
        s->sets = sets;
        s->sets[s->n_sets++] = (RouteSet) { .routes = routes, .n = n, .userdata = userdata };
        return 0;
}

/* Answers the suspended requests (only the control routes' with
 * control_only), each after its abort callback: its owner lets go first,
 * as when the client goes away.  Looked for from the head each time: a
 * callback may answer others. */
static void answer_suspended(HttpServer *s, bool control_only, unsigned status, const char *error) {
        for (;;) {
                HttpRequest *r = s->suspended;

                while (r && control_only && !(r->route && (r->route->flags & HTTP_ROUTE_CONTROL)))
                        r = r->susp_next;
                if (!r)
                        return;
                suspended_abort(r, status, error); /* unlinks r */
        }
}

void http_server_restore_begun(HttpServer *s) {
        if (s)
                answer_suspended(s, true, 503, "Restoring");
}

HttpServer *http_server_free(HttpServer *s) {
        if (!s)
                return NULL;
        s->io = sd_event_source_disable_unref(s->io);
        s->timer = sd_event_source_disable_unref(s->timer);
        /* MHD refuses to stop with suspended connections: answer them. */
        answer_suspended(s, false, 503, "shutting down");
        if (s->daemon)
                MHD_stop_daemon(s->daemon);
        if (s->fallback)
                MHD_destroy_response(s->fallback);
        s->deadlines = http_deadlines_free(s->deadlines);
        s->peers = http_peers_free(s->peers);
        free(s->acl);
        free(s->sets);
        free(s->counters);
        free(s);
        return NULL;
}
