/* GET /health, /health/ready and /metrics: the adapter that snapshots the
 * Manager (supervisor status, netinit result, boot milestones, HTTP
 * counters) and hands the snapshot to health-json.c for shaping.  Works
 * with m->supervisor == NULL (no services yet, or none configured). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "build-config.h"
#include "health-json.h"
#include "health.h"
#include "http.h"
#include "macro.h"
#include "manager.h"
#include "supervisor.h"

typedef struct Snapshot {
        HealthSnapshot h;
        ServiceStatus *services;
        HealthHttpCount *http;
} Snapshot;

static void snapshot_done(Snapshot *s) {
        free(s->services);
        free(s->http);
}

static const char *net_status_to_string(NetStatus s) {
        switch (s) {
        case NET_APPLIED: return "applied";
        case NET_FAILED: return "failed";
        default: return "not_configured";
        }
}

static int snapshot_services(Manager *m, Snapshot *s) {
        size_t n = m->supervisor ? supervisor_n_services(m->supervisor) : 0;

        s->services = calloc(n ? n : 1, sizeof *s->services);
        if (!s->services)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (supervisor_get_status(m->supervisor, i, &s->services[s->h.n_services]) >= 0)
                        s->h.n_services++;
        s->h.services = s->services;
        for (int st = 0; st < _SERVICE_STATE_MAX; st++)
                s->h.state_names[st] = service_state_to_string(st);
        return 0;
}

static int snapshot_http(Manager *m, Snapshot *s) {
        const HttpCounter *c = NULL;
        size_t n = m->http ? http_server_get_counters(m->http, &c) : 0;

        s->http = calloc(n ? n : 1, sizeof *s->http);
        if (!s->http)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                s->http[i] = (HealthHttpCount) { c[i].route, c[i].status, c[i].count };
        s->h.http = s->http;
        s->h.n_http = n;
        return 0;
}

static int snapshot_take(Manager *m, Snapshot *s, bool with_http) {
        HealthSnapshot *h = &s->h;
        int r;

        *s = (Snapshot) {};
        h->status = manager_health_status(m);
        h->version = PACKAGE_VERSION;
        h->build_id = m->build_id;
        h->uptime = now(CLOCK_MONOTONIC) - m->start_monotonic;
        h->realtime = now(CLOCK_REALTIME);
        h->active_sessions = m->active_sessions ? m->active_sessions(m) : 0;
        h->config_error = m->config_error;
        h->net_status = net_status_to_string(m->net_status);
        h->net_iface = m->net_plan.n_ifaces > 0 ? &m->net_plan.ifaces[0] : NULL;
        h->net_device = m->net_result.device;
        h->net_error = m->net_error;
        h->boot_exec = m->boot.exec;
        h->boot_network = m->boot.network;
        h->boot_http = m->boot.http;
        h->boot_ready = m->boot.ready;
        r = snapshot_services(m, s);
        if (r >= 0 && with_http)
                r = snapshot_http(m, s);
        return r;
}

static int health_handler(HttpRequest *req, void *userdata) {
        _cleanup_(snapshot_done) Snapshot s = {};
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        int r;

        r = snapshot_take(userdata, &s, false);
        if (r >= 0)
                r = health_build_json(&s.h, &text, &size);
        if (r < 0)
                return r;
        return http_reply(req, 200, "application/json", text, size);
}

static int ready_handler(HttpRequest *req, void *userdata) {
        Manager *m = userdata;
        char reason[256] = "services not started";
        bool ready = false;
        json_t *o = NULL;
        int r;

        if (m->stopping)
                snprintf(reason, sizeof reason, "shutting down");
        else if (m->supervisor)
                ready = supervisor_chain_ready(m->supervisor, reason, sizeof reason);
        r = health_build_ready_json(ready, reason, &o);
        if (r < 0)
                return r;
        return http_reply_json(req, ready ? 200 : 503, o, 0);
}

static int metrics_handler(HttpRequest *req, void *userdata) {
        _cleanup_(snapshot_done) Snapshot s = {};
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        int r;

        r = snapshot_take(userdata, &s, true);
        if (r >= 0)
                r = health_build_metrics(&s.h, &text, &size);
        if (r < 0)
                return r;
        return http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, size);
}

static const HttpRoute health_routes[] = {
        { "GET", "/health", HTTP_ROUTE_PUBLIC, health_handler },
        { "GET", "/health/ready", HTTP_ROUTE_PUBLIC, ready_handler },
        { "GET", "/metrics", HTTP_ROUTE_PUBLIC, metrics_handler },
};

int health_setup(Manager *m) {
        if (!m->http)
                return -EINVAL;
        return http_server_add_routes(m->http, health_routes, ELEMENTSOF(health_routes), m);
}
