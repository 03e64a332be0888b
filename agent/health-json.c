/* Formats /health (JSON), /health/ready (JSON) and /metrics (Prometheus
 * text 0.0.4) from a HealthSnapshot.  Pure: the snapshot carries the clock
 * readings, so the output is a function of it alone and unit tests compare
 * it byte for byte.  Times in `boot` are whole milliseconds since kernel
 * start (CLOCK_BOOTTIME), null for a milestone not reached yet. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health-json.h"
#include "macro.h"

char *health_format_timestamp(usec_t realtime, char buf[static HEALTH_TIMESTAMP_MAX]) {
        time_t t = (time_t)(realtime / USEC_PER_SEC);
        struct tm tm;

        /* Milliseconds as JavaScript's toISOString() prints them: the seed
         * host parsed the Node agent's timestamps. */
        if (!gmtime_r(&t, &tm))
                return strcpy(buf, "1970-01-01T00:00:00.000Z");
        snprintf(buf, HEALTH_TIMESTAMP_MAX, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ",
                 tm.tm_year + 1900, (unsigned char)(tm.tm_mon + 1), (unsigned char)tm.tm_mday,
                 (unsigned char)tm.tm_hour, (unsigned char)tm.tm_min, (unsigned char)tm.tm_sec,
                 (unsigned)(realtime % USEC_PER_SEC / USEC_PER_MSEC));
        return buf;
}

static json_t *string_or_null(const char *s) {
        return isempty(s) ? json_null() : json_string(s);
}

static json_t *ms_or_null(usec_t t) {
        return t == 0 ? json_null() : json_integer((json_int_t)(t / USEC_PER_MSEC));
}

static json_t *addr_or_null(const IpcfgAddr *a) {
        char buf[INET6_ADDRSTRLEN];

        if (a->family == AF_UNSPEC || !inet_ntop(a->family, &a->in6, buf, sizeof buf))
                return json_null();
        return json_string(buf);
}

static json_t *network_json(const HealthSnapshot *s) {
        const IpcfgIface *i = s->net_iface;
        json_t *dns = json_array();
        const char *dev = !isempty(s->net_device) ? s->net_device : i && *i->device ? i->device : NULL;

        for (size_t k = 0; i && k < i->n_dns; k++)
                json_array_append_new(dns, addr_or_null(&i->dns[k]));
        return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                         "status", s->net_status ? s->net_status : "not_configured",
                         "device", string_or_null(dev),
                         "method", i ? string_or_null(ipcfg_method_to_string(i->method)) : json_null(),
                         "address", i ? addr_or_null(&i->address) : json_null(),
                         "prefix", i && i->prefix >= 0 && i->address.family != AF_UNSPEC
                                 ? json_integer(i->prefix) : json_null(),
                         "gateway", i ? addr_or_null(&i->gateway) : json_null(),
                         "dns", dns,
                         "mtu", i && i->mtu ? json_integer(i->mtu) : json_null(),
                         "error", string_or_null(s->net_error));
}

static const char *state_name(const HealthSnapshot *s, ServiceState st) {
        if (st < 0 || st >= _SERVICE_STATE_MAX || !s->state_names[st])
                return "unknown";
        return s->state_names[st];
}

static int services_json(const HealthSnapshot *s, json_t **ret_services, json_t **ret_ready) {
        _cleanup_(json_decrefp) json_t *services = json_object(), *ready = json_object();

        if (!services || !ready)
                return -ENOMEM;
        for (size_t k = 0; k < s->n_services; k++) {
                const ServiceStatus *v = &s->services[k];
                json_t *o = json_pack("{s:s, s:o, s:I, s:o, s:o, s:b}",
                                      "state", state_name(s, v->state),
                                      "pid", v->pid > 0 ? json_integer(v->pid) : json_null(),
                                      "restarts", (json_int_t)v->restarts,
                                      "last_exit", string_or_null(v->last_exit),
                                      "last_error", string_or_null(v->last_error),
                                      "on_demand", v->on_demand);
                if (!o || json_object_set_new(services, v->name, o) < 0 ||
                    json_object_set_new(ready, v->name, ms_or_null(v->ready_boottime)) < 0)
                        return -ENOMEM;
        }
        *ret_services = TAKE_PTR(services);
        *ret_ready = TAKE_PTR(ready);
        return 0;
}

int health_build_json(const HealthSnapshot *s, json_t **ret) {
        _cleanup_(json_decrefp) json_t *o = NULL;
        json_t *services = NULL, *ready = NULL;
        char ts[HEALTH_TIMESTAMP_MAX];
        int r;

        r = services_json(s, &services, &ready);
        if (r < 0)
                return r;
        o = json_pack("{s:s, s:s, s:o, s:I, s:s, s:I, s:o, s:{s:o, s:o, s:o, s:o, s:o}, s:o}",
                      "status", s->status,
                      "version", s->version,
                      "build_id", string_or_null(s->build_id),
                      "uptime_s", (json_int_t)(s->uptime / USEC_PER_SEC),
                      "timestamp", health_format_timestamp(s->realtime, ts),
                      "activeSessions", (json_int_t)s->active_sessions,
                      "network", network_json(s),
                      "boot",
                      "exec_ms", ms_or_null(s->boot_exec),
                      "network_ms", ms_or_null(s->boot_network),
                      "http_ms", ms_or_null(s->boot_http),
                      "ready_ms", ms_or_null(s->boot_ready),
                      "services_ms", ready,
                      "services", services);
        if (!o)
                return -ENOMEM;
        if (!isempty(s->config_error) &&
            json_object_set_new(o, "config_error", json_string(s->config_error)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int health_build_ready_json(bool ready, const char *reason, json_t **ret) {
        json_t *o;

        if (ready)
                o = json_pack("{s:b}", "ready", 1);
        else
                o = json_pack("{s:b, s:s}", "ready", 0, "reason", reason ? reason : "not ready");
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

/* Label values: backslash, double quote and newline escaped (0.0.4). */
static void put_label(FILE *f, const char *v) {
        for (; *v; v++) {
                if (*v == '\\' || *v == '"')
                        fputc('\\', f);
                if (*v == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                fputc(*v, f);
        }
}

static void put_header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_services(FILE *f, const HealthSnapshot *s) {
        put_header(f, "vmba_service_state", "gauge", "1 for the state each service is in, else 0.");
        for (size_t k = 0; k < s->n_services; k++)
                for (int st = 0; st < _SERVICE_STATE_MAX; st++) {
                        fputs("vmba_service_state{service=\"", f);
                        put_label(f, s->services[k].name);
                        fprintf(f, "\",state=\"%s\"} %d\n", state_name(s, st),
                                (int)(s->services[k].state == (ServiceState)st));
                }
        put_header(f, "vmba_service_restarts_total", "counter", "Restarts of each service.");
        for (size_t k = 0; k < s->n_services; k++) {
                fputs("vmba_service_restarts_total{service=\"", f);
                put_label(f, s->services[k].name);
                fprintf(f, "\"} %u\n", s->services[k].restarts);
        }
}

static void put_phase(FILE *f, const char *phase, usec_t t) {
        if (t == 0)
                return; /* not reached: absent rather than a misleading 0 */
        fputs("vmba_boot_phase_milliseconds{phase=\"", f);
        put_label(f, phase);
        fprintf(f, "\"} %llu\n", (unsigned long long)(t / USEC_PER_MSEC));
}

int health_build_metrics(const HealthSnapshot *s, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        put_header(f, "vmba_uptime_seconds", "gauge", "Seconds since the agent started.");
        fprintf(f, "vmba_uptime_seconds %llu\n", (unsigned long long)(s->uptime / USEC_PER_SEC));
        put_services(f, s);
        put_header(f, "vmba_http_requests_total", "counter", "HTTP requests answered, by route and status.");
        for (size_t k = 0; k < s->n_http; k++) {
                fputs("vmba_http_requests_total{route=\"", f);
                put_label(f, s->http[k].route);
                fprintf(f, "\",status=\"%u\"} %llu\n", s->http[k].status,
                        (unsigned long long)s->http[k].count);
        }
        put_header(f, "vmba_boot_phase_milliseconds", "gauge",
                   "Milliseconds from kernel start to each boot milestone.");
        put_phase(f, "exec", s->boot_exec);
        put_phase(f, "network", s->boot_network);
        put_phase(f, "http", s->boot_http);
        put_phase(f, "ready", s->boot_ready);
        for (size_t k = 0; k < s->n_services; k++) {
                char phase[128];
                snprintf(phase, sizeof phase, "service:%s", s->services[k].name);
                put_phase(f, phase, s->services[k].ready_boottime);
        }
        if (fclose(f) != 0 || !buf)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}
