/* Test driver for agent/http.c and agent/health.c without the rest of the
 * agent: a Manager with an sd-event loop, no supervisor, the health routes
 * and a few test routes (a control route, a loopback route, a deferred
 * reply through http_request_suspend, a body echo).  Used by
 * tests/netns/test_http.py where the real binary cannot isolate a case.
 *
 *   http-driver [--listen ADDR] [--port N] [--timeout S] [--max-per-ip N]
 *               [--max-conn N] [--max-body N] [--token T] [--allow CIDR]...
 *
 * Prints "listening" on stdout once serving; exits 0 on SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/health.h"
#include "agent/http.h"
#include "agent/manager.h"
#include "agent/supervisor.h"
#include "log.h"
#include "macro.h"

const char *manager_health_status(Manager *m) {
        return m->supervisor ? "starting" : "ok";
}

size_t supervisor_n_services(Supervisor *s) {
        return 0;
}

int supervisor_get_status(Supervisor *s, size_t i, ServiceStatus *ret) {
        return -ERANGE;
}

bool supervisor_chain_ready(Supervisor *s, char *reason, size_t size) {
        snprintf(reason, size, "no services");
        return false;
}

static int control_handler(HttpRequest *req, void *userdata) {
        return http_reply_json(req, 200, json_pack("{s:b}", "ok", 1), 0);
}

static int echo_handler(HttpRequest *req, void *userdata) {
        size_t n;
        const char *q = http_request_query(req, "q");

        (void)http_request_body(req, &n);
        return http_reply_json(req, 200, json_pack("{s:I, s:s, s:s?}", "size", (json_int_t)n,
                                                  "query", http_request_query_string(req), "q", q), 0);
}

static int deferred_reply(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpRequest *req = userdata;

        log_debug("deferred reply for %p", (void *)req);
        http_reply_json(req, 200, json_pack("{s:s}", "deferred", "yes"), HTTP_REPLY_SECRET);
        return 0;
}

static int suspend_handler(HttpRequest *req, void *userdata) {
        Manager *m = userdata;
        int r = http_request_suspend(req, NULL, NULL);

        if (r < 0)
                return r;
        /* Floating source: freed by sd-event once it fired (or with the loop). */
        return sd_event_add_time_relative(m->event, NULL, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 0,
                                          deferred_reply, req);
}

static int fail_handler(HttpRequest *req, void *userdata) {
        return -EEXIST;
}

static const HttpRoute test_routes[] = {
        { "POST", "/test/control", HTTP_ROUTE_CONTROL, control_handler },
        { "GET", "/test/loopback", HTTP_ROUTE_LOOPBACK, control_handler },
        { "POST", "/test/echo", HTTP_ROUTE_PUBLIC, echo_handler },
        { "GET", "/test/echo", HTTP_ROUTE_PUBLIC, echo_handler },
        { "GET", "/test/suspend", HTTP_ROUTE_PUBLIC, suspend_handler },
        { "GET", "/test/fail", HTTP_ROUTE_PUBLIC, fail_handler },
        { "GET", "/test/prefix/", HTTP_ROUTE_PUBLIC | HTTP_ROUTE_PREFIX, echo_handler },
};

static int parse_args(int argc, char **argv, Config *c) {
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
                case 'l': c->http_listen = optarg; break;
                case 'p': c->http_port = (uint16_t)atoi(optarg); break;
                case 't': c->http_timeout_s = (uint32_t)atoi(optarg); break;
                case 'i': c->http_max_per_ip = (uint32_t)atoi(optarg); break;
                case 'c': c->http_max_connections = (uint32_t)atoi(optarg); break;
                case 'b': c->http_max_body = (uint32_t)atoi(optarg); break;
                case 'T': c->token = optarg; break;
                case 'a':
                        if (n_allow + 1 >= ELEMENTSOF(allow))
                                return -E2BIG;
                        allow[n_allow++] = optarg;
                        c->allow_from = allow;
                        break;
                default: return -EINVAL;
                }
        return 0;
}

int main(int argc, char **argv) {
        Manager m = {
                .config = {
                        .http_listen = (char *)"127.0.0.1", .http_port = 8080,
                        .http_max_connections = 1024, .http_max_per_ip = 64, .http_timeout_s = 10,
                        .http_max_body = 65536, .http_max_url = 4096, .http_max_header = 16384,
                },
        };
        sigset_t ss;
        int r;

        log_set_max_level(getenv("HTTP_DRIVER_DEBUG") ? LOG_DEBUG : LOG_INFO);
        if (parse_args(argc, argv, &m.config) < 0)
                return 2;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        r = sd_event_new(&m.event);
        if (r >= 0)
                r = sd_event_add_signal(m.event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m.event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m"), 1;
        m.start_monotonic = now(CLOCK_MONOTONIC);
        m.boot.exec = process_start_boottime();
        r = http_server_new(&m, -1, &m.http);
        if (r < 0)
                return log_error_errno(r, "Failed to start HTTP: %m"), 1;
        r = health_setup(&m);
        if (r >= 0)
                r = http_server_add_routes(m.http, test_routes, ELEMENTSOF(test_routes), &m);
        if (r < 0)
                return log_error_errno(r, "Failed to add routes: %m"), 1;
        printf("listening\n");
        fflush(stdout);
        r = sd_event_loop(m.event);
        m.http = http_server_free(m.http);
        sd_event_unref(m.event);
        return r < 0 ? 1 : 0;
}
