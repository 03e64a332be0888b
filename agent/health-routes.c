/* Implementation of health-routes.h.  Works with m->supervisor == NULL (no
 * services yet, or none configured). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/host/host-secrets.h"
#include "agent/http/health-json.h"
#include "agent/http/health-status.h"
#include "agent/http/http-wait.h"
#include "agent/http/http.h"
#include "agent/login/cli-installed.h"
#include "agent/login/handoff-vsock.h"
#include "agent/login/login.h"
#include "agent/supervise/supervisor.h"
#include "build-config.h"
#include "health-routes.h"
#include "macro.h"
#include "manager.h"
#include "restore.h"

/* The text of one address, in the caller's buffer; NULL when not given. */
typedef char AddrText[INET6_ADDRSTRLEN];

static const char *addr_text(const IpcfgAddr *a, AddrText buf) {
        if (!a || a->family == AF_UNSPEC || !inet_ntop(a->family, &a->in6, buf, sizeof(AddrText)))
                return NULL;
        return buf;
}

typedef struct Snapshot {
        HealthSnapshot h;
        HealthService *services;
        HealthCli *clis;
        HealthHttpCount *http;
        AddrText address, gateway, dns[IPCFG_MAX_DNS];
        const char *dns_list[IPCFG_MAX_DNS];
        const char *state_names[_SERVICE_STATE_MAX];
} Snapshot;

static void snapshot_done(Snapshot *s) {
        free(s->services);
        free(s->clis);
        free(s->http);
}

/* The first configured interface, as text. */
static void snapshot_network(Manager *m, Snapshot *s) {
        const IpcfgIface *i = m->net.plan.n_ifaces > 0 ? &m->net.plan.ifaces[0] : NULL;
        HealthNetwork *n = &s->h.network;

        *n = (HealthNetwork){ .status = netinit_status_to_string(m->net.status), .prefix = -1,
                              .error = m->net.error, .dns = s->dns_list, .port_floor = m->port_floor };
        n->device = !isempty(m->net.result.device) ? m->net.result.device : i && *i->device ? i->device : NULL;
        if (!i)
                return;
        n->method = ipcfg_method_to_string(i->method);
        n->address = addr_text(&i->address, s->address);
        if (i->prefix >= 0 && i->address.family != AF_UNSPEC)
                n->prefix = i->prefix;
        n->gateway = addr_text(&i->gateway, s->gateway);
        for (size_t k = 0; k < i->n_dns && k < IPCFG_MAX_DNS; k++)
                s->dns_list[n->n_dns++] = addr_text(&i->dns[k], s->dns[k]);
        n->mtu = i->mtu;
}

/* Service i's CPU time (its cgroup's cpu.stat read now) into h: for
 * /metrics only, /health does not show it. */
static void service_cpu(Manager *m, size_t i, HealthService *h) {
        ServiceCpu c;

        if (supervisor_service_cpu(m->supervisor, i, &c) < 0)
                return;
        h->cpu_counted = c.counted;
        h->cpu_usec = c.usec;
        h->cpu_unknown = c.unknown;
}

/* The services, and the facts the status decision needs from them;
 * with_cpu: their CPU times too. */
static int snapshot_services(Manager *m, Snapshot *s, HealthFacts *f, bool with_cpu) {
        size_t n = m->supervisor ? supervisor_n_services(m->supervisor) : 0;

        s->services = calloc(n ? n : 1, sizeof *s->services);
        if (!s->services)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                ServiceStatus st;

                if (supervisor_get_status(m->supervisor, i, &st) < 0)
                        continue;
                s->services[s->h.n_services++] = (HealthService){
                        .name = st.name, .state = st.state, .pid = st.pid, .restarts = st.restarts,
                        .last_exit = st.last_exit, .last_error = st.last_error,
                        .ready_boottime = st.ready_boottime, .retry_in = st.retry_in,
                        .on_demand = st.on_demand,
                };
                if (with_cpu)
                        service_cpu(m, i, &s->services[s->h.n_services - 1]);
                if (st.on_demand)
                        continue;
                /* One that ended is not coming back by itself either. */
                f->chain_failed += st.state == SERVICE_FAILED || st.ended;
                f->chain_not_ready += st.state != SERVICE_READY;
        }
        s->h.services = s->services;
        for (int st = 0; st < _SERVICE_STATE_MAX; st++)
                s->state_names[st] = service_state_to_string(st);
        s->h.state_names = s->state_names;
        s->h.n_states = _SERVICE_STATE_MAX;
        return 0;
}

static int snapshot_clis(Manager *m, Snapshot *s) {
        size_t n = m->clis ? m->clis->pins->n : 0;

        s->clis = calloc(n ? n : 1, sizeof *s->clis);
        if (!s->clis)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const CliPin *p = &m->clis->pins->pins[i];
                s->clis[i] = (HealthCli){ .provider = p->provider, .package = p->package, .pinned = p->version,
                                          .installed = m->clis->installed[i] };
        }
        s->h.clis = s->clis;
        s->h.n_clis = n;
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
        s->h.http_waiting = m->http ? http_server_waiting(m->http) : 0;
        s->h.http_connections = m->http ? http_server_connections(m->http) : 0;
        s->h.http_loopback_unowned = m->http ? http_server_loopback_unowned(m->http) : 0;
        return 0;
}

/* Why no login's CLI can run, when providers are defined (as the start
 * log says it): NULL when they can, or there are none. */
static const char *clis_unavailable(Manager *m) {
        return m->logins && login_manager_providers(m->logins) ? login_manager_cli_unavailable(m->logins) : NULL;
}

/* for_metrics: with what only /metrics shows (CPU times, HTTP counts). */
static int snapshot_take(Manager *m, Snapshot *s, bool for_metrics) {
        HealthSnapshot *h = &s->h;
        const char *cli_error = clis_unavailable(m);
        HealthFacts f = {
                .services_started = !!m->supervisor,
                .stopping = m->stopping,
                .config_error = m->config_error[0] != '\0',
                .network_failed = m->net.status == NETINIT_FAILED,
                .secrets_pending = host_secrets_token_state(m->secrets) == SECRET_PENDING ||
                                   host_secrets_desktop_state(m->secrets) == SECRET_PENDING,
                .secrets_missing = host_secrets_token_state(m->secrets) == SECRET_MISSING ||
                                   host_secrets_desktop_state(m->secrets) == SECRET_MISSING,
                .desktop_held = m->desktop.vnc_held,
                .clis_unavailable = cli_error != NULL,
        };
        int r;

        *s = (Snapshot) {};
        h->version = PACKAGE_VERSION;
        h->build_id = m->build_id;
        h->uptime = now(CLOCK_MONOTONIC) - m->start_monotonic;
        h->realtime = now(CLOCK_REALTIME);
        h->active_sessions = m->logins ? login_manager_active(m->logins) : 0;
        if (m->logins) {
                h->login_cli_cpu_usec = login_manager_cli_cpu(m->logins)->usec;
                h->login_cli_cpu_unknown = login_manager_cli_cpu(m->logins)->unknown;
        }
        h->auth = host_secrets_auth_string(m->secrets);
        /* Held: the secret is there, but x11vnc stays down until its files
         * can be written (desktop-setup.c); "starting" would hide why. */
        h->desktop = m->desktop.vnc_held ? "held" : host_secrets_desktop_string(m->secrets);
        h->config_error = m->config_error;
        h->cli_error = cli_error;
        snapshot_network(m, s);
        h->boot_exec = m->boot.exec;
        h->boot_network = m->boot.network;
        h->boot_http = m->boot.http;
        h->boot_ready = m->boot.ready;
        restore_report(m, &h->restore);
        h->push_enabled = !!m->handoff;
        h->push_queued = m->handoff ? handoff_queued(m->handoff) : 0;
        r = snapshot_services(m, s, &f, for_metrics);
        h->status = health_status_to_string(health_status_decide(&f));
        if (r >= 0)
                r = snapshot_clis(m, s);
        if (r >= 0 && for_metrics)
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

/* Answers now when ready (or timed_out); else 0: wait on. */
static int ready_check(HttpRequest *req, bool timed_out, void *userdata) {
        Manager *m = userdata;
        char reason[256] = "services not started";
        bool ready = false;
        json_t *o = NULL;
        int r;

        if (m->stopping)
                snprintf(reason, sizeof reason, "shutting down");
        else if (m->supervisor)
                ready = supervisor_chain_ready(m->supervisor, reason, sizeof reason);
        if (!ready && !timed_out && !m->stopping)
                return 0;
        r = health_build_ready_json(ready, reason, &o);
        if (r < 0)
                return http_reply_error(req, 500, "out of memory"), 1;
        (void)http_reply_json(req, ready ? 200 : 503, o, 0);
        return 1;
}

/* GET /health/ready[?wait=SECONDS]: with a wait, a request made before the
 * chain is ready is answered the moment it is (or when the wait is over). */
static int ready_handler(HttpRequest *req, void *userdata) {
        Manager *m = userdata;
        unsigned wait = 0;
        int r = http_wait_seconds(req, &wait);

        if (r < 0)
                return http_reply_error(req, 400, http_wait_error(r));
        if (wait == 0 || !m->ready_waiters) {
                (void)ready_check(req, true, m);
                return 0;
        }
        if (ready_check(req, false, m) > 0)
                return 0;
        return http_wait_add(m->ready_waiters, req, (usec_t)wait * USEC_PER_SEC, ready_check, m, NULL);
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

int health_routes_register(Manager *m) {
        int r;

        if (!m->http)
                return -EINVAL;
        r = http_wait_list_new(m->event, &m->ready_waiters);
        if (r < 0)
                return r;
        return http_server_add_routes(m->http, health_routes, ELEMENTSOF(health_routes), m);
}

void health_routes_changed(Manager *m) {
        if (m->ready_waiters)
                http_wait_kick(m->ready_waiters);
}
