/* Formats /health (JSON), /health/ready (JSON) and /metrics (Prometheus
 * text 0.0.4) from a HealthSnapshot.  Pure: the snapshot carries the clock
 * readings, so the output is a function of it alone and unit tests compare
 * it byte for byte.  Times in `boot` are whole milliseconds since kernel
 * start (CLOCK_BOOTTIME), null for a milestone not reached yet. */
#include <errno.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health-json.h"
#include "macro.h"

/* A growing byte buffer for the /health JSON: stdio's per-call overhead
 * was most of the cost of the hot route.  On allocation failure it stops
 * growing and remembers, so writers need no error checks. */
typedef struct Buf {
        char *data;
        size_t size, alloc;
        bool oom;
} Buf;

static void buf_done(Buf *b) {
        free(b->data);
}

static void buf_put(Buf *b, const void *p, size_t n) {
        if (b->oom)
                return;
        if (b->size + n > b->alloc) {
                size_t want = MAX(b->alloc * 2, MAX(b->size + n, (size_t)1024));
                char *d = realloc(b->data, want);
                if (!d) {
                        b->oom = true;
                        return;
                }
                b->data = d;
                b->alloc = want;
        }
        memcpy(b->data + b->size, p, n);
        b->size += n;
}

static void buf_putc(Buf *b, char c) {
        buf_put(b, &c, 1);
}

static void buf_puts(Buf *b, const char *s) {
        buf_put(b, s, strlen(s));
}

static void buf_putu(Buf *b, unsigned long long v) {
        char d[24];
        size_t i = sizeof d;

        do
                d[--i] = (char)('0' + v % 10);
        while ((v /= 10) > 0);
        buf_put(b, d + i, sizeof d - i);
}

/* Length of the valid UTF-8 sequence at p, 0 if invalid (overlongs,
 * surrogates and code points past U+10FFFF included). */
static size_t utf8_valid(const unsigned char *p) {
        unsigned cp;
        size_t n;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                n = 2, cp = p[0] & 0x1f;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                n = 3, cp = p[0] & 0x0f;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                n = 4, cp = p[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

/* A JSON string as jansson's compact output writes it; bytes that are not
 * valid UTF-8 (a build-id file is arbitrary) become U+FFFD instead of
 * failing the whole reply. */
static void put_string(Buf *f, const char *s) {
        const unsigned char *p = (const unsigned char *)s;

        buf_putc(f, '"');
        while (*p) {
                size_t n = 0;

                /* The common case, a run of plain ASCII, in one write. */
                while (p[n] >= 0x20 && p[n] < 0x80 && p[n] != '"' && p[n] != '\\')
                        n++;
                if (n > 0) {
                        buf_put(f, p, n);
                        p += n;
                        continue;
                }
                n = utf8_valid(p);

                if (n == 0) {
                        buf_puts(f, "\xef\xbf\xbd"); /* U+FFFD, raw as jansson prints it */
                        p++;
                        continue;
                }
                if (n > 1) {
                        buf_put(f, p, n);
                        p += n;
                        continue;
                }
                switch (*p) {
                case '"': buf_puts(f, "\\\""); break;
                case '\\': buf_puts(f, "\\\\"); break;
                case '\b': buf_puts(f, "\\b"); break;
                case '\f': buf_puts(f, "\\f"); break;
                case '\n': buf_puts(f, "\\n"); break;
                case '\r': buf_puts(f, "\\r"); break;
                case '\t': buf_puts(f, "\\t"); break;
                default:
                        if (*p < 0x20)
                                {
                                static const char hex[] = "0123456789ABCDEF"; /* as jansson */
                                char u[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
                                buf_put(f, u, 6);
                        }
                        else
                                buf_putc(f, *p);
                }
                p++;
        }
        buf_putc(f, '"');
}

static void put_key(Buf *f, bool *first, const char *key) {
        if (!*first)
                buf_putc(f, ',');
        *first = false;
        put_string(f, key);
        buf_putc(f, ':');
}

/* A key known at compile time (plain ASCII, nothing to escape), comma
 * included, in one copy: put_key()'s byte scan was the top JSON cost. */
#define put_const_key(f, first, key) \
        put_raw_key(f, first, ",\"" key "\":", sizeof(",\"" key "\":") - 1)

static void put_raw_key(Buf *f, bool *first, const char *comma_key, size_t n) {
        if (*first)
                comma_key++, n--;
        *first = false;
        buf_put(f, comma_key, n);
}

static void put_string_or_null(Buf *f, const char *s) {
        if (isempty(s))
                buf_puts(f, "null");
        else
                put_string(f, s);
}

static void put_ms_or_null(Buf *f, usec_t t) {
        if (t == 0)
                buf_puts(f, "null");
        else
                buf_putu(f, t / USEC_PER_MSEC);
}

static void put_uint_or_null(Buf *f, bool have, unsigned long long v) {
        if (have)
                buf_putu(f, v);
        else
                buf_puts(f, "null");
}

/* A member, key and value in one line of the writers below; key a string
 * literal (put_const_key()). */
#define field_string(f, first, key, v) \
        do { put_const_key(f, first, key); put_string(f, v); } while (0)
#define field_string_or_null(f, first, key, v) \
        do { put_const_key(f, first, key); put_string_or_null(f, v); } while (0)
#define field_ms(f, first, key, t) \
        do { put_const_key(f, first, key); put_ms_or_null(f, t); } while (0)
#define field_uint(f, first, key, v) \
        do { put_const_key(f, first, key); buf_putu(f, v); } while (0)
#define field_uint_or_null(f, first, key, have, v) \
        do { put_const_key(f, first, key); put_uint_or_null(f, have, v); } while (0)
#define field_bool(f, first, key, v) \
        do { put_const_key(f, first, key); buf_puts(f, (v) ? "true" : "false"); } while (0)

static void put_network(Buf *f, const HealthNetwork *n) {
        bool first = true;

        buf_putc(f, '{');
        field_string(f, &first, "status", n->status ? n->status : "not_configured");
        field_string_or_null(f, &first, "device", n->device);
        field_string_or_null(f, &first, "method", n->method);
        field_string_or_null(f, &first, "address", n->address);
        field_uint_or_null(f, &first, "prefix", n->prefix >= 0, (unsigned)n->prefix);
        field_string_or_null(f, &first, "gateway", n->gateway);
        put_const_key(f, &first, "dns");
        buf_putc(f, '[');
        for (size_t k = 0; k < n->n_dns; k++) {
                if (k > 0)
                        buf_putc(f, ',');
                put_string_or_null(f, n->dns[k]);
        }
        buf_putc(f, ']');
        field_uint_or_null(f, &first, "mtu", n->mtu != 0, n->mtu);
        field_uint_or_null(f, &first, "unprivileged_port_start", n->port_floor >= 0, (unsigned)n->port_floor);
        field_string_or_null(f, &first, "error", n->error);
        buf_putc(f, '}');
}

static const char *state_name(const HealthSnapshot *s, int st) {
        if (st < 0 || (size_t)st >= s->n_states || !s->state_names[st])
                return "unknown";
        return s->state_names[st];
}

static void put_boot(Buf *f, const HealthSnapshot *s) {
        bool first = true, first_sv = true;

        buf_putc(f, '{');
        field_ms(f, &first, "exec_ms", s->boot_exec);
        field_ms(f, &first, "network_ms", s->boot_network);
        field_ms(f, &first, "http_ms", s->boot_http);
        field_ms(f, &first, "ready_ms", s->boot_ready);
        put_const_key(f, &first, "services_ms");
        buf_putc(f, '{');
        for (size_t k = 0; k < s->n_services; k++) {
                put_key(f, &first_sv, s->services[k].name);
                put_ms_or_null(f, s->services[k].ready_boottime);
        }
        buf_puts(f, "}}");
}

static void put_services(Buf *f, const HealthSnapshot *s) {
        bool first_sv = true;

        buf_putc(f, '{');
        for (size_t k = 0; k < s->n_services; k++) {
                const HealthService *v = &s->services[k];
                bool first = true;

                put_key(f, &first_sv, v->name);
                buf_putc(f, '{');
                field_string(f, &first, "state", state_name(s, v->state));
                field_uint_or_null(f, &first, "pid", v->pid > 0, (unsigned)v->pid);
                field_uint(f, &first, "restarts", v->restarts);
                field_string_or_null(f, &first, "last_exit", v->last_exit);
                field_string_or_null(f, &first, "last_error", v->last_error);
                /* Rounded up: a retry still to come never reads as 0. */
                field_uint_or_null(f, &first, "retry_in_ms", v->retry_in > 0, usec_to_msec_up(v->retry_in));
                field_bool(f, &first, "on_demand", v->on_demand);
                buf_putc(f, '}');
        }
        buf_putc(f, '}');
}

/* Each CLI: {"package","pinned","installed","status"}, status "ok" (the
 * pinned version is installed), "differs" (another one is) or "missing". */
static void put_clis(Buf *f, const HealthSnapshot *s) {
        bool first_cli = true;

        buf_putc(f, '{');
        for (size_t k = 0; k < s->n_clis; k++) {
                const HealthCli *c = &s->clis[k];
                bool first = true;

                put_key(f, &first_cli, c->provider);
                buf_putc(f, '{');
                field_string_or_null(f, &first, "package", c->package);
                field_string_or_null(f, &first, "pinned", c->pinned);
                field_string_or_null(f, &first, "installed", c->installed);
                field_string(f, &first, "status",
                             !c->installed ? "missing" : streq_ptr(c->installed, c->pinned) ? "ok" : "differs");
                buf_putc(f, '}');
        }
        buf_putc(f, '}');
}

static void put_restore(Buf *f, const HealthRestore *r) {
        bool first = true;

        buf_putc(f, '{');
        field_string_or_null(f, &first, "generation", r->generation);
        field_uint(f, &first, "restores", r->restores);
        field_uint_or_null(f, &first, "last_restore_ms", r->last_restore_ms >= 0, (uint64_t)r->last_restore_ms);
        field_bool(f, &first, "restoring", r->restoring);
        buf_putc(f, '}');
}

/* Written directly rather than through jansson: /health is the hot route
 * (the host polls it) and building it as json_t objects cost ~10× the
 * rest of the request.  The output is byte-identical to jansson's
 * JSON_COMPACT form of the same object (test-health-json checks it). */
int health_build_json(const HealthSnapshot *s, char **ret, size_t *ret_size) {
        _cleanup_(buf_done) Buf buf = {};
        Buf *f = &buf;
        char ts[ISO8601_MAX];
        bool first = true;

        buf_putc(f, '{');
        field_string(f, &first, "status", s->status);
        field_string(f, &first, "version", s->version);
        field_string_or_null(f, &first, "build_id", s->build_id);
        field_uint(f, &first, "uptime_s", s->uptime / USEC_PER_SEC);
        field_string(f, &first, "timestamp", format_iso8601(s->realtime, ts));
        field_uint(f, &first, "activeSessions", s->active_sessions);
        field_string(f, &first, "auth", s->auth ? s->auth : "no-token");
        field_string(f, &first, "desktop", s->desktop ? s->desktop : "no-secret");
        put_const_key(f, &first, "network");
        put_network(f, &s->network);
        put_const_key(f, &first, "boot");
        put_boot(f, s);
        put_const_key(f, &first, "services");
        put_services(f, s);
        put_const_key(f, &first, "clis");
        put_clis(f, s);
        if (s->restore.enabled) {
                put_const_key(f, &first, "restore");
                put_restore(f, &s->restore);
        }
        if (!isempty(s->config_error)) {
                field_string(f, &first, "config_error", s->config_error);
        }
        if (!isempty(s->cli_error))
                field_string(f, &first, "cli_error", s->cli_error);
        buf_putc(f, '}');
        buf_putc(f, '\0');
        if (buf.oom)
                return -ENOMEM;
        if (ret_size)
                *ret_size = buf.size - 1;
        *ret = TAKE_PTR(buf.data);
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

static void put_service_metrics(FILE *f, const HealthSnapshot *s) {
        put_header(f, "vmba_service_state", "gauge", "1 for the state each service is in, else 0.");
        for (size_t k = 0; k < s->n_services; k++)
                for (size_t st = 0; st < s->n_states; st++) {
                        fputs("vmba_service_state{service=\"", f);
                        put_label(f, s->services[k].name);
                        fprintf(f, "\",state=\"%s\"} %d\n", state_name(s, (int)st),
                                (int)(s->services[k].state == (int)st));
                }
        put_header(f, "vmba_service_restarts_total", "counter", "Restarts of each service.");
        for (size_t k = 0; k < s->n_services; k++) {
                fputs("vmba_service_restarts_total{service=\"", f);
                put_label(f, s->services[k].name);
                fprintf(f, "\"} %u\n", s->services[k].restarts);
        }
        put_header(f, "vmba_service_retry_seconds", "gauge",
                   "Seconds until a failed service is started again (only services with a retry to come).");
        for (size_t k = 0; k < s->n_services; k++) {
                unsigned long long ms;

                if (s->services[k].retry_in == 0)
                        continue;
                /* Rounded up to the millisecond, as /health's retry_in_ms:
                 * a retry still to come never reads as 0.000. */
                ms = usec_to_msec_up(s->services[k].retry_in);
                fputs("vmba_service_retry_seconds{service=\"", f);
                put_label(f, s->services[k].name);
                fprintf(f, "\"} %llu.%03llu\n", ms / 1000, ms % 1000);
        }
}

static void put_seconds_usec(FILE *f, uint64_t usec) {
        fprintf(f, "%llu.%06llu\n", (unsigned long long)(usec / USEC_PER_SEC),
                (unsigned long long)(usec % USEC_PER_SEC));
}

/* Known and unknown apart, as the logins' CLIs: a service without a
 * cgroup has no seconds at all, never a 0 that would read as idle. */
static void put_service_cpu_metrics(FILE *f, const HealthSnapshot *s) {
        put_header(f, "vmba_service_cpu_seconds_total", "counter",
                   "CPU seconds each service (with all it started) used over its runs, read from its cgroup "
                   "(only services with cgroups of their own).");
        for (size_t k = 0; k < s->n_services; k++) {
                if (!s->services[k].cpu_counted)
                        continue;
                fputs("vmba_service_cpu_seconds_total{service=\"", f);
                put_label(f, s->services[k].name);
                fputs("\"} ", f);
                put_seconds_usec(f, s->services[k].cpu_usec);
        }
        put_header(f, "vmba_service_cpu_unknown_total", "counter",
                   "Runs of each service whose CPU time is not in its seconds (no cgroup of its own, or its "
                   "cpu.stat unreadable as it was removed).");
        for (size_t k = 0; k < s->n_services; k++) {
                fputs("vmba_service_cpu_unknown_total{service=\"", f);
                put_label(f, s->services[k].name);
                fprintf(f, "\"} %llu\n", (unsigned long long)s->services[k].cpu_unknown);
        }
}

static void put_phase(FILE *f, const char *phase, usec_t t) {
        if (t == 0)
                return; /* not reached: absent rather than a misleading 0 */
        fputs("vmba_boot_phase_milliseconds{phase=\"", f);
        put_label(f, phase);
        fprintf(f, "\"} %llu\n", (unsigned long long)(t / USEC_PER_MSEC));
}

static void put_http_metrics(FILE *f, const HealthSnapshot *s) {
        put_header(f, "vmba_http_requests_total", "counter", "HTTP requests answered, by route and status.");
        for (size_t k = 0; k < s->n_http; k++) {
                fputs("vmba_http_requests_total{route=\"", f);
                put_label(f, s->http[k].route);
                fprintf(f, "\",status=\"%u\"} %llu\n", s->http[k].status,
                        (unsigned long long)s->http[k].count);
        }
        put_header(f, "vmba_http_waiting_requests", "gauge",
                   "HTTP requests waiting for their answer (long polls, pending logins).");
        fprintf(f, "vmba_http_waiting_requests %u\n", s->http_waiting);
        put_header(f, "vmba_http_connections", "gauge", "HTTP connections open and counted against the limits.");
        fprintf(f, "vmba_http_connections %u\n", s->http_connections);
        put_header(f, "vmba_http_loopback_unowned_total", "counter",
                   "Loopback HTTP connections whose local user could not be looked up (sharing one client's limit).");
        fprintf(f, "vmba_http_loopback_unowned_total %llu\n", s->http_loopback_unowned);
}

static void put_login_metrics(FILE *f, const HealthSnapshot *s) {
        /* Known and unknown apart: a CLI without a cgroup adds no 0 to the
         * seconds, which would read as an idle CLI. */
        put_header(f, "vmba_login_cli_cpu_seconds_total", "counter",
                   "CPU seconds the logins' provider CLIs (with all they started) used, summed over those that "
                   "ended with it known.");
        fputs("vmba_login_cli_cpu_seconds_total ", f);
        put_seconds_usec(f, s->login_cli_cpu_usec);
        put_header(f, "vmba_login_cli_cpu_unknown_total", "counter",
                   "Logins' provider CLIs that ended with their CPU time unknown (no cgroup of their own, or "
                   "its cpu.stat unreadable).");
        fprintf(f, "vmba_login_cli_cpu_unknown_total %llu\n", (unsigned long long)s->login_cli_cpu_unknown);
}

int health_build_metrics(const HealthSnapshot *s, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        /* Private stream: skip stdio's per-character locking. */
        __fsetlocking(f, FSETLOCKING_BYCALLER);
        put_header(f, "vmba_uptime_seconds", "gauge", "Seconds since the agent started.");
        fprintf(f, "vmba_uptime_seconds %llu\n", (unsigned long long)(s->uptime / USEC_PER_SEC));
        put_service_metrics(f, s);
        put_service_cpu_metrics(f, s);
        put_http_metrics(f, s);
        put_login_metrics(f, s);
        if (s->restore.enabled) {
                put_header(f, "vmba_restores_total", "counter", "Snapshot restores redone.");
                fprintf(f, "vmba_restores_total %u\n", s->restore.restores);
                put_header(f, "vmba_restore_milliseconds", "gauge",
                           "Milliseconds from noticing the last restore to control routes answering again.");
                if (s->restore.last_restore_ms >= 0)
                        fprintf(f, "vmba_restore_milliseconds %lld\n", (long long)s->restore.last_restore_ms);
        }
        if (s->push_enabled) {
                put_header(f, "vmba_push_queued", "gauge",
                           "Captured credentials queued for the host and not yet acknowledged (push handoff).");
                fprintf(f, "vmba_push_queued %u\n", s->push_queued);
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
