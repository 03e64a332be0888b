/* Test driver for agent/http/http.c without the rest of the agent: an
 * sd-event loop, the server with its options, a minimal /health and a few
 * test routes (a control route, a loopback route, a deferred reply through
 * http_request_suspend, a body echo, the answer counters, a suspended
 * request whose reply cannot be built, the suspends and connections).  Used by tests/netns/test_http.py
 * where the real binary cannot isolate a case.
 *
 *   http-driver [--listen ADDR] [--port N] [--timeout S] [--max-per-ip N]
 *               [--max-conn N] [--max-body N] [--token T] [--allow CIDR]...
 *
 * Prints "listening" on stdout once serving; exits 0 on SIGTERM, 3 when an
 * abort callback ran for a request its owner had already let go. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http/http.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

typedef struct Driver {
        sd_event *event;
        HttpServerOptions o;
        const char *token;
        HttpServer *http;
        /* /test/suspend-nomem's owner of the suspended request, as a
         * waiter in http-wait.c is: it lets go once it replied. */
        HttpRequest *held;
        bool late_abort;
        unsigned suspends; /* /test/suspend requests suspended */
} Driver;

static int health_handler(HttpRequest *req, void *userdata) {
        return http_reply_json(req, 200, json_pack("{s:s, s:s}", "status", "ok", "version", "driver"), 0);
}


static int control_handler(HttpRequest *req, void *userdata) {
        return http_reply_json(req, 200, json_pack("{s:b}", "ok", 1), 0);
}

static int echo_handler(HttpRequest *req, void *userdata) {
        size_t n;
        const char *q;

        if (http_request_query(req, "q", &q) < 0)
                return http_reply_error(req, 400, "q holds an escaped NUL");
        (void)http_request_body(req, &n);
        return http_reply_json(req, 200, json_pack("{s:I, s:s, s:s?}", "size", (json_int_t)n,
                                                  "query", http_request_query_string(req), "q", q), 0);
}

/* /test/suspend's request and the timer that answers it.  The request
 * ends first when its client goes away (answered, then freed): the abort
 * callback then cancels the timer, which would reply to a freed request. */
typedef struct Deferred {
        HttpRequest *req;
        sd_event_source *timer;
} Deferred;

static void deferred_free(Deferred *f) {
        sd_event_source_disable_unref(f->timer);
        free(f);
}

static int deferred_reply(sd_event_source *s, uint64_t usec, void *userdata) {
        Deferred *f = userdata;

        log_debug("deferred reply for %p", (void *)f->req);
        http_reply_json(f->req, 200, json_pack("{s:s}", "deferred", "yes"), HTTP_REPLY_SECRET);
        deferred_free(f);
        return 0;
}

static void deferred_abort(void *userdata) {
        deferred_free(userdata);
}

static int suspend_handler(HttpRequest *req, void *userdata) {
        Driver *d = userdata;
        Deferred *f = calloc(1, sizeof *f);
        int r;

        if (!f)
                return -ENOMEM;
        f->req = req;
        r = sd_event_add_time_relative(d->event, &f->timer, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 0,
                                       deferred_reply, f);
        if (r >= 0)
                r = http_request_suspend(req, deferred_abort, f);
        if (r < 0) {
                deferred_free(f);
                return r;
        }
        d->suspends++;
        return 0;
}

/* {"suspends": /test/suspend requests suspended, "connections": open now}:
 * a test tells from them that a suspended request's connection is gone. */
static int state_handler(HttpRequest *req, void *userdata) {
        Driver *d = userdata;

        return http_reply_json(req, 200, json_pack("{s:I, s:I}", "suspends", (json_int_t)d->suspends,
                                                  "connections", (json_int_t)http_server_connections(d->http)),
                               0);
}

static void held_abort(void *userdata) {
        Driver *d = userdata;

        if (!d->held) {
                log_error("Abort callback for a request already answered");
                d->late_abort = true;
        }
        d->held = NULL;
}

/* The reply a failed allocation gives (json_pack() returning NULL), after
 * which the owner lets go, as every owner does once it replied. */
static int nomem_reply(sd_event_source *s, uint64_t usec, void *userdata) {
        Driver *d = userdata;
        int r = http_reply_json(d->held, 200, NULL, 0);

        log_debug("reply without memory: %d", r);
        d->held = NULL;
        return 0;
}

static int suspend_nomem_handler(HttpRequest *req, void *userdata) {
        Driver *d = userdata;
        int r;

        if (d->held)
                return -EBUSY;
        r = http_request_suspend(req, held_abort, d);
        if (r < 0)
                return r;
        d->held = req;
        return sd_event_add_time_relative(d->event, NULL, CLOCK_MONOTONIC, 0, 0, nomem_reply, d);
}

/* {"ROUTE STATUS": count} for every answer the server counted. */
static int counters_handler(HttpRequest *req, void *userdata) {
        const HttpCounter *c;
        size_t n = http_server_get_counters(((Driver *)userdata)->http, &c);
        json_t *o = json_object();

        for (size_t i = 0; o && i < n; i++) {
                char key[256];

                snprintf(key, sizeof key, "%s %u", c[i].route, c[i].status);
                if (json_object_set_new(o, key, json_integer((json_int_t)c[i].count)) < 0) {
                        json_decref(o);
                        o = NULL;
                }
        }
        return http_reply_json(req, 200, o, 0);
}

/* An error message longer than any the gate has, with characters JSON
 * escapes. */
static int long_error_handler(HttpRequest *req, void *userdata) {
        static const char head[] = "a \"quoted\" \\ ";
        char message[201];

        memset(message, 'm', sizeof message - 1);
        memcpy(message, head, sizeof head - 1);
        message[sizeof message - 1] = '\0';
        return http_reply_error(req, 400, message);
}

static int fail_handler(HttpRequest *req, void *userdata) {
        return -EEXIST;
}

static const HttpRoute test_routes[] = {
        { "GET", "/health", HTTP_ROUTE_PUBLIC, health_handler },
        { "POST", "/test/control", HTTP_ROUTE_CONTROL, control_handler },
        { "GET", "/test/loopback", HTTP_ROUTE_LOOPBACK, control_handler },
        { "POST", "/test/echo", HTTP_ROUTE_PUBLIC, echo_handler },
        { "GET", "/test/echo", HTTP_ROUTE_PUBLIC, echo_handler },
        { "GET", "/test/suspend", HTTP_ROUTE_PUBLIC, suspend_handler },
        { "GET", "/test/fail", HTTP_ROUTE_PUBLIC, fail_handler },
        { "GET", "/test/prefix/", HTTP_ROUTE_PUBLIC | HTTP_ROUTE_PREFIX, echo_handler },
        { "GET", "/test/suspend-nomem", HTTP_ROUTE_PUBLIC, suspend_nomem_handler },
        { "GET", "/test/counters", HTTP_ROUTE_PUBLIC, counters_handler },
        { "GET", "/test/long-error", HTTP_ROUTE_PUBLIC, long_error_handler },
        { "GET", "/test/state", HTTP_ROUTE_PUBLIC, state_handler },
};

static uint32_t number(const char *s) {
        return (uint32_t)strtoul(s, NULL, 10);
}

static int parse_args(int argc, char **argv, Driver *d) {
        static const struct option options[] = {
                { "listen", required_argument, NULL, 'l' },  { "port", required_argument, NULL, 'p' },
                { "timeout", required_argument, NULL, 't' }, { "max-per-ip", required_argument, NULL, 'i' },
                { "max-conn", required_argument, NULL, 'c' }, { "max-body", required_argument, NULL, 'b' },
                { "token", required_argument, NULL, 'T' },   { "allow", required_argument, NULL, 'a' },
                {}
        };
        static char *allow[16];
        size_t n_allow = 0;
        int o;

        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (o) {
                case 'l': d->o.listen_address = optarg; break;
                case 'p': d->o.port = (uint16_t)number(optarg); break;
                case 't': d->o.timeout_s = number(optarg); break;
                case 'i': d->o.max_per_ip = number(optarg); break;
                case 'c': d->o.max_connections = number(optarg); break;
                case 'b': d->o.max_body = number(optarg); break;
                case 'T': d->token = optarg; break;
                case 'a':
                        if (n_allow + 1 >= ELEMENTSOF(allow))
                                return -E2BIG;
                        allow[n_allow++] = optarg;
                        d->o.allow_from = allow;
                        break;
                default: return -EINVAL;
                }
        return 0;
}

static const char *driver_token(void *userdata) {
        return ((Driver *)userdata)->token;
}

int main(int argc, char **argv) {
        Driver d = {
                .o = {
                        .listen_fd = -EBADF, .listen_address = "127.0.0.1", .port = 8080,
                        .max_connections = 1024, .max_per_ip = 64, .timeout_s = 10,
                        .max_body = 65536, .max_url = 4096, .max_header = 16384,
                },
        };
        sigset_t ss;
        int r;

        log_set_max_level(getenv("HTTP_DRIVER_DEBUG") ? LOG_DEBUG : LOG_INFO);
        if (parse_args(argc, argv, &d) < 0)
                return 2;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        r = sd_event_new(&d.event);
        if (r >= 0)
                r = sd_event_add_signal(d.event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(d.event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m"), 1;
        d.o.event = d.event;
        d.o.token = driver_token;
        d.o.userdata = &d;
        r = http_server_new(&d.o, &d.http);
        if (r < 0)
                return log_error_errno(r, "Failed to start HTTP: %m"), 1;
        r = http_server_add_routes(d.http, test_routes, ELEMENTSOF(test_routes), &d);
        if (r < 0)
                return log_error_errno(r, "Failed to add routes: %m"), 1;
        printf("listening\n");
        fflush(stdout);
        r = sd_event_loop(d.event);
        d.http = http_server_free(d.http);
        sd_event_unref(d.event);
        return r < 0 ? 1 : d.late_abort ? 3 : 0;
}
