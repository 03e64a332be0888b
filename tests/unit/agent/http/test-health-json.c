/* Unit tests for agent/http/health-json.c: the exact /health JSON, the
 * /health/ready JSON and the /metrics text for fixed snapshots (no
 * supervisor, a full one with CLIs installed, differing and missing, a
 * failed network, a config error), and the time to a retry, rounded up
 * to the millisecond in both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/http/health-json.h"
#include "macro.h"

/* 2026-11-21T23:59:01.123Z */
#define REALTIME ((usec_t)1795305541 * USEC_PER_SEC + 123456)

/* The supervisor's states, as the agent hands them over. */
enum { INACTIVE, WAITING, STARTING, READY, STOPPING, BACKOFF, FAILED, N_STATES };
static const char *const names[N_STATES] = {
        "inactive", "waiting", "starting", "ready", "stopping", "backoff", "failed",
};

static void snapshot_base(HealthSnapshot *s) {
        *s = (HealthSnapshot) {
                .status = "starting",
                .version = "0.1.0",
                .uptime = 61 * USEC_PER_SEC + 999999,
                .realtime = REALTIME,
                .network = { .status = "not_configured", .prefix = -1, .port_floor = -1 },
                .state_names = names,
                .n_states = N_STATES,
        };
}

static char *dump(json_t *o) {
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        assert_non_null(s);
        return s;
}

/* health_build_json's text, checked to be what jansson would print for the
 * same object: valid JSON, and byte-identical once re-serialized. */
static char *build(const HealthSnapshot *s) {
        char *text = NULL, *again;
        size_t size = 0;
        json_error_t e;
        json_t *o;

        assert_int_equal(health_build_json(s, &text, &size), 0);
        assert_int_equal(size, strlen(text));
        o = json_loads(text, 0, &e);
        if (!o)
                fail_msg("invalid JSON (%s): %s", e.text, text);
        again = dump(o);
        assert_string_equal(again, text);
        free(again);
        return text;
}

static void test_health_minimal(void **state) {
        HealthSnapshot s;
        _cleanup_(freep) char *text = NULL;

        /* No supervisor, no network, no build id: the agent just started. */
        snapshot_base(&s);
        text = build(&s);
        assert_string_equal(text,
                "{\"status\":\"starting\",\"version\":\"0.1.0\",\"build_id\":null,\"uptime_s\":61,"
                "\"timestamp\":\"2026-11-21T23:59:01.123Z\",\"activeSessions\":0,\"auth\":\"no-token\",\"desktop\":\"no-secret\","
                "\"network\":{\"status\":\"not_configured\",\"device\":null,\"method\":null,"
                "\"address\":null,\"prefix\":null,\"gateway\":null,\"dns\":[],\"mtu\":null,\"unprivileged_port_start\":null,\"error\":null},"
                "\"boot\":{\"exec_ms\":null,\"network_ms\":null,\"http_ms\":null,\"ready_ms\":null,"
                "\"services_ms\":{}},\"services\":{},\"clis\":{}}");
}

static void test_health_restore(void **state) {
        HealthSnapshot s;
        _cleanup_(freep) char *text = NULL, *metrics = NULL;

        snapshot_base(&s);
        s.restore = (HealthRestore){ .enabled = true, .generation = "g\"2", .restores = 2, .last_restore_ms = 412 };
        text = build(&s);
        assert_non_null(strstr(text, ",\"clis\":{},\"restore\":{\"generation\":\"g\\\"2\",\"restores\":2,"
                                     "\"last_restore_ms\":412,\"restoring\":false}}"));
        assert_int_equal(health_build_metrics(&s, &metrics, NULL), 0);
        assert_non_null(strstr(metrics, "# TYPE vmba_restores_total counter\nvmba_restores_total 2\n"));
        assert_non_null(strstr(metrics, "# TYPE vmba_restore_milliseconds gauge\nvmba_restore_milliseconds 412\n"));
        free(text);
        free(metrics);

        /* None yet: nulls, and no sample for the time (absent, not 0). */
        s.restore = (HealthRestore){ .enabled = true, .restoring = true, .last_restore_ms = -1 };
        text = build(&s);
        assert_non_null(strstr(text, "\"restore\":{\"generation\":null,\"restores\":0,\"last_restore_ms\":null,"
                                     "\"restoring\":true}}"));
        assert_int_equal(health_build_metrics(&s, &metrics, NULL), 0);
        assert_non_null(strstr(metrics, "vmba_restores_total 0\n"));
        assert_null(strstr(metrics, "\nvmba_restore_milliseconds "));
}

/* The push gauge: absent without a push handoff, else its count, 0 too
 * (0 is what the host waits for: nothing left to send). */
static void test_metrics_push(void **state) {
        HealthSnapshot s;
        _cleanup_(freep) char *off = NULL, *two = NULL, *none = NULL;

        snapshot_base(&s);
        assert_int_equal(health_build_metrics(&s, &off, NULL), 0);
        assert_null(strstr(off, "vmba_push_queued"));
        s.push_enabled = true;
        s.push_queued = 2;
        assert_int_equal(health_build_metrics(&s, &two, NULL), 0);
        assert_non_null(strstr(two, "# TYPE vmba_push_queued gauge\nvmba_push_queued 2\n"));
        s.push_queued = 0;
        assert_int_equal(health_build_metrics(&s, &none, NULL), 0);
        assert_non_null(strstr(none, "\nvmba_push_queued 0\n"));
}

/* The CLIs' CPU time in seconds to the microsecond (a login's CLI may
 * use a few ms), whole seconds with their zeros, the largest sum there
 * can be exact; the unknown ones counted apart, 0 before any CLI ended. */
static void test_metrics_cli_cpu(void **state) {
        static const struct {
                uint64_t usec, unknown;
                const char *seconds, *unknowns;
        } cases[] = {
                { 0, 0, "vmba_login_cli_cpu_seconds_total 0.000000\n", "vmba_login_cli_cpu_unknown_total 0\n" },
                { 0, 2, "vmba_login_cli_cpu_seconds_total 0.000000\n", "vmba_login_cli_cpu_unknown_total 2\n" },
                { 1, 0, "vmba_login_cli_cpu_seconds_total 0.000001\n", "vmba_login_cli_cpu_unknown_total 0\n" },
                { 215034, 0, "vmba_login_cli_cpu_seconds_total 0.215034\n", "vmba_login_cli_cpu_unknown_total 0\n" },
                { 7000000, 1, "vmba_login_cli_cpu_seconds_total 7.000000\n", "vmba_login_cli_cpu_unknown_total 1\n" },
                { UINT64_MAX, UINT64_MAX, "vmba_login_cli_cpu_seconds_total 18446744073709.551615\n",
                  "vmba_login_cli_cpu_unknown_total 18446744073709551615\n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) char *text = NULL;
                HealthSnapshot s;

                snapshot_base(&s);
                s.login_cli_cpu_usec = cases[i].usec;
                s.login_cli_cpu_unknown = cases[i].unknown;
                assert_int_equal(health_build_metrics(&s, &text, NULL), 0);
                assert_non_null(strstr(text, "# TYPE vmba_login_cli_cpu_seconds_total counter\n"));
                assert_non_null(strstr(text, cases[i].seconds));
                assert_non_null(strstr(text, "# TYPE vmba_login_cli_cpu_unknown_total counter\n"));
                assert_non_null(strstr(text, cases[i].unknowns));
        }
}

/* A service's CPU seconds to the microsecond, as the CLIs'; a service
 * without cgroups (not counted) has no seconds sample at all, whatever
 * its usec says: only its unknown runs, 0 too. */
static void test_metrics_service_cpu(void **state) {
        static const struct {
                bool counted;
                uint64_t usec, unknown;
                const char *seconds, *unknowns; /* seconds NULL: no sample */
        } cases[] = {
                { true, 0, 0, "vmba_service_cpu_seconds_total{service=\"x\"} 0.000000\n",
                  "vmba_service_cpu_unknown_total{service=\"x\"} 0\n" },
                { true, 1234567, 1, "vmba_service_cpu_seconds_total{service=\"x\"} 1.234567\n",
                  "vmba_service_cpu_unknown_total{service=\"x\"} 1\n" },
                { true, UINT64_MAX, UINT64_MAX, "vmba_service_cpu_seconds_total{service=\"x\"} 18446744073709.551615\n",
                  "vmba_service_cpu_unknown_total{service=\"x\"} 18446744073709551615\n" },
                { false, 0, 0, NULL, "vmba_service_cpu_unknown_total{service=\"x\"} 0\n" },
                { false, 5, 3, NULL, "vmba_service_cpu_unknown_total{service=\"x\"} 3\n" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(freep) char *text = NULL;
                HealthService sv = { .name = "x", .cpu_counted = cases[i].counted, .cpu_usec = cases[i].usec,
                                     .cpu_unknown = cases[i].unknown };
                HealthSnapshot s;

                snapshot_base(&s);
                s.services = &sv;
                s.n_services = 1;
                assert_int_equal(health_build_metrics(&s, &text, NULL), 0);
                assert_non_null(strstr(text, "# TYPE vmba_service_cpu_seconds_total counter\n"));
                if (cases[i].seconds)
                        assert_non_null(strstr(text, cases[i].seconds));
                else
                        assert_null(strstr(text, "\nvmba_service_cpu_seconds_total{"));
                assert_non_null(strstr(text, "# TYPE vmba_service_cpu_unknown_total counter\n"));
                assert_non_null(strstr(text, cases[i].unknowns));
        }
}

/* The exact /health JSON for test_health_full's snapshot (below). */
static const char health_full_json[] =
        "{\"status\":\"failed\",\"version\":\"0.1.0\",\"build_id\":\"img-2026.11.21-abc\","
        "\"uptime_s\":61,\"timestamp\":\"2026-11-21T23:59:01.123Z\",\"activeSessions\":2,\"auth\":\"token\",\"desktop\":\"secret\","
        "\"network\":{\"status\":\"applied\",\"device\":\"eth0\",\"method\":\"static\","
        "\"address\":\"10.77.0.2\",\"prefix\":24,\"gateway\":\"10.77.0.1\","
        "\"dns\":[\"10.77.0.53\",\"fd00::53\"],\"mtu\":1400,\"unprivileged_port_start\":1458,\"error\":null},"
        "\"boot\":{\"exec_ms\":123,\"network_ms\":130,\"http_ms\":131,\"ready_ms\":null,"
        "\"services_ms\":{\"xvfb\":812,\"x11vnc\":null,\"firefox\":null}},"
        "\"services\":{"
        "\"xvfb\":{\"state\":\"ready\",\"pid\":42,\"restarts\":1,\"last_exit\":\"killed by SIGKILL\","
        "\"last_error\":null,\"retry_in_ms\":null,\"on_demand\":false},"
        "\"x11vnc\":{\"state\":\"failed\",\"pid\":null,\"restarts\":4,\"last_exit\":\"exited 1\","
        "\"last_error\":\"exited 1; gave up after 5 starts in 60 s\",\"retry_in_ms\":123457,"
        "\"on_demand\":false},"
        "\"firefox\":{\"state\":\"failed\",\"pid\":null,\"restarts\":0,\"last_exit\":null,"
        "\"last_error\":\"firefox-esr: not found\",\"retry_in_ms\":null,\"on_demand\":true}},"
        "\"clis\":{"
        "\"claude_code\":{\"package\":\"@anthropic-ai/claude-code\",\"pinned\":\"2.1.332\","
        "\"installed\":\"2.1.332\",\"status\":\"ok\"},"
        "\"codex\":{\"package\":\"@openai/codex\",\"pinned\":\"0.171.0\",\"installed\":\"0.170.0\","
        "\"status\":\"differs\"},"
        "\"gemini_cli\":{\"package\":\"@google/gemini-cli\",\"pinned\":\"0.61.0\",\"installed\":null,"
        "\"status\":\"missing\"}},"
        "\"config_error\":\"agent.json: unknown key \\\"colour\\\"\","
        "\"cli_error\":\"cli_users (user 2 of 8) 'vmba-cli2' is missing\"}";

static void test_health_full(void **state) {
        static const char *const dns[] = { "10.77.0.53", "fd00::53" };
        HealthService sv[] = {
                { .name = "xvfb", .state = READY, .pid = 42, .restarts = 1,
                  .last_exit = "killed by SIGKILL", .ready_boottime = 812345 },
                /* Over its budget: retried in 123456.789 ms, rounded up. */
                { .name = "x11vnc", .state = FAILED, .restarts = 4, .last_exit = "exited 1",
                  .last_error = "exited 1; gave up after 5 starts in 60 s", .retry_in = 123456789 },
                /* Not found: no retry. */
                { .name = "firefox", .state = FAILED, .on_demand = true, .last_error = "firefox-esr: not found" },
        };
        /* The pinned version installed, another one, none. */
        HealthCli clis[] = {
                { .provider = "claude_code", .package = "@anthropic-ai/claude-code", .pinned = "2.1.332",
                  .installed = "2.1.332" },
                { .provider = "codex", .package = "@openai/codex", .pinned = "0.171.0", .installed = "0.170.0" },
                { .provider = "gemini_cli", .package = "@google/gemini-cli", .pinned = "0.61.0" },
        };
        HealthSnapshot s;
        _cleanup_(freep) char *text = NULL;

        snapshot_base(&s);
        s.status = "failed";
        s.build_id = "img-2026.11.21-abc";
        s.active_sessions = 2;
        s.auth = "token";
        s.desktop = "secret";
        s.network = (HealthNetwork){
                .status = "applied", .device = "eth0", .method = "static", .address = "10.77.0.2",
                .prefix = 24, .gateway = "10.77.0.1", .dns = dns, .n_dns = 2, .mtu = 1400, .port_floor = 1458,
        };
        s.boot_exec = 123456;
        s.boot_network = 130999;
        s.boot_http = 131000;
        s.services = sv;
        s.n_services = ELEMENTSOF(sv);
        s.config_error = "agent.json: unknown key \"colour\"";
        s.cli_error = "cli_users (user 2 of 8) 'vmba-cli2' is missing";
        s.clis = clis;
        s.n_clis = ELEMENTSOF(clis);
        text = build(&s);
        assert_string_equal(text, health_full_json);
}

static void test_health_network_failed(void **state) {
        HealthSnapshot s;
        json_t *o, *net;
        _cleanup_(freep) char *full = NULL, *text = NULL;

        snapshot_base(&s);
        s.status = "degraded";
        s.network = (HealthNetwork){ .status = "failed", .device = "eth9", .method = "dhcp", .prefix = -1,
                                     .port_floor = 0, .error = "eth9: no such device after 10000 ms" };
        full = build(&s);
        o = json_loads(full, 0, NULL);
        net = json_incref(json_object_get(o, "network"));
        json_decref(o);
        text = dump(net);
        assert_string_equal(text,
                "{\"status\":\"failed\",\"device\":\"eth9\",\"method\":\"dhcp\",\"address\":null,"
                "\"prefix\":null,\"gateway\":null,\"dns\":[],\"mtu\":null,\"unprivileged_port_start\":0,"
                "\"error\":\"eth9: no such device after 10000 ms\"}");
}

#define FFFD "\xef\xbf\xbd"

static void test_health_escaping(void **state) {
        HealthService sv[] = {
                { .name = "a\"b\\c", .state = READY,
                  .last_error = "tab\there\nnew\x01\x1fline\x7f" },
        };
        HealthSnapshot s;
        _cleanup_(freep) char *text = NULL;

        snapshot_base(&s);
        /* Valid UTF-8 passes through; a stray byte, an overlong form and a
         * surrogate (a build-id file is arbitrary bytes) become U+FFFD. */
        s.build_id = "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80-\xff-\xc0\xaf-\xed\xa0\x80";
        s.services = sv;
        s.n_services = 1;
        text = build(&s);
        assert_non_null(strstr(text,
                "\"build_id\":\"caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80-" FFFD "-"
                FFFD FFFD "-" FFFD FFFD FFFD "\","));
        assert_non_null(strstr(text,
                "\"services\":{\"a\\\"b\\\\c\":{\"state\":\"ready\",\"pid\":null,"
                "\"restarts\":0,\"last_exit\":null,"
                "\"last_error\":\"tab\\there\\nnew\\u0001\\u001Fline\x7f\",\"retry_in_ms\":null,"
                "\"on_demand\":false}}"));
}

static void test_ready(void **state) {
        json_t *o = NULL;
        char *text;

        assert_int_equal(health_build_ready_json(true, "ignored", &o), 0);
        text = dump(o);
        assert_string_equal(text, "{\"ready\":true}");
        free(text);
        assert_int_equal(health_build_ready_json(false, "x11vnc: starting", &o), 0);
        text = dump(o);
        assert_string_equal(text, "{\"ready\":false,\"reason\":\"x11vnc: starting\"}");
        free(text);
}

/* The exact /metrics text for test_metrics's snapshot (below). */
static const char metrics_text[] =
        "# HELP vmba_uptime_seconds Seconds since the agent started.\n"
        "# TYPE vmba_uptime_seconds gauge\n"
        "vmba_uptime_seconds 61\n"
        "# HELP vmba_service_state 1 for the state each service is in, else 0.\n"
        "# TYPE vmba_service_state gauge\n"
        "vmba_service_state{service=\"xvfb\",state=\"inactive\"} 0\n"
        "vmba_service_state{service=\"xvfb\",state=\"waiting\"} 0\n"
        "vmba_service_state{service=\"xvfb\",state=\"starting\"} 0\n"
        "vmba_service_state{service=\"xvfb\",state=\"ready\"} 1\n"
        "vmba_service_state{service=\"xvfb\",state=\"stopping\"} 0\n"
        "vmba_service_state{service=\"xvfb\",state=\"backoff\"} 0\n"
        "vmba_service_state{service=\"xvfb\",state=\"failed\"} 0\n"
        "vmba_service_state{service=\"we\\\"ird\\\\name\\n\",state=\"inactive\"} 0\n"
        "vmba_service_state{service=\"we\\\"ird\\\\name\\n\",state=\"waiting\"} 0\n"
        "vmba_service_state{service=\"we\\\"ird\\\\name\\n\",state=\"starting\"} 0\n"
        "vmba_service_state{service=\"we\\\"ird\\\\name\\n\",state=\"ready\"} 0\n"
        "vmba_service_state{service=\"we\\\"ird\\\\name\\n\",state=\"stopping\"} 0\n"
        "vmba_service_state{service=\"we\\\"ird\\\\name\\n\",state=\"backoff\"} 0\n"
        "vmba_service_state{service=\"we\\\"ird\\\\name\\n\",state=\"failed\"} 1\n"
        "# HELP vmba_service_restarts_total Restarts of each service.\n"
        "# TYPE vmba_service_restarts_total counter\n"
        "vmba_service_restarts_total{service=\"xvfb\"} 3\n"
        "vmba_service_restarts_total{service=\"we\\\"ird\\\\name\\n\"} 0\n"
        "# HELP vmba_service_retry_seconds Seconds until a failed service is started again (only services "
        "with a retry to come).\n"
        "# TYPE vmba_service_retry_seconds gauge\n"
        "vmba_service_retry_seconds{service=\"we\\\"ird\\\\name\\n\"} 12.346\n"
        "# HELP vmba_service_cpu_seconds_total CPU seconds each service (with all it started) used over its "
        "runs, read from its cgroup (only services with cgroups of their own).\n"
        "# TYPE vmba_service_cpu_seconds_total counter\n"
        "vmba_service_cpu_seconds_total{service=\"xvfb\"} 2.500001\n"
        "# HELP vmba_service_cpu_unknown_total Runs of each service whose CPU time is not in its seconds (no "
        "cgroup of its own, or its cpu.stat unreadable as it was removed).\n"
        "# TYPE vmba_service_cpu_unknown_total counter\n"
        "vmba_service_cpu_unknown_total{service=\"xvfb\"} 0\n"
        "vmba_service_cpu_unknown_total{service=\"we\\\"ird\\\\name\\n\"} 4\n"
        "# HELP vmba_http_requests_total HTTP requests answered, by route and status.\n"
        "# TYPE vmba_http_requests_total counter\n"
        "vmba_http_requests_total{route=\"/health\",status=\"200\"} 17\n"
        "vmba_http_requests_total{route=\"other\",status=\"404\"} 2\n"
        "# HELP vmba_http_waiting_requests HTTP requests waiting for their answer (long polls, pending logins).\n"
        "# TYPE vmba_http_waiting_requests gauge\n"
        "vmba_http_waiting_requests 2\n"
        "# HELP vmba_http_connections HTTP connections open and counted against the limits.\n"
        "# TYPE vmba_http_connections gauge\n"
        "vmba_http_connections 5\n"
        "# HELP vmba_http_loopback_unowned_total Loopback HTTP connections whose local user could not be "
        "looked up (sharing one client's limit).\n"
        "# TYPE vmba_http_loopback_unowned_total counter\n"
        "vmba_http_loopback_unowned_total 7\n"
        "# HELP vmba_login_cli_cpu_seconds_total CPU seconds the logins' provider CLIs (with all they started) "
        "used, summed over those that ended with it known.\n"
        "# TYPE vmba_login_cli_cpu_seconds_total counter\n"
        "vmba_login_cli_cpu_seconds_total 3.000042\n"
        "# HELP vmba_login_cli_cpu_unknown_total Logins' provider CLIs that ended with their CPU time unknown "
        "(no cgroup of their own, or its cpu.stat unreadable).\n"
        "# TYPE vmba_login_cli_cpu_unknown_total counter\n"
        "vmba_login_cli_cpu_unknown_total 1\n"
        "# HELP vmba_boot_phase_milliseconds Milliseconds from kernel start to each boot milestone.\n"
        "# TYPE vmba_boot_phase_milliseconds gauge\n"
        "vmba_boot_phase_milliseconds{phase=\"exec\"} 1\n"
        "vmba_boot_phase_milliseconds{phase=\"http\"} 20\n"
        "vmba_boot_phase_milliseconds{phase=\"service:xvfb\"} 900\n";

static void test_metrics(void **state) {
        HealthService sv[] = {
                { .name = "xvfb", .state = READY, .restarts = 3, .ready_boottime = 900000, .cpu_counted = true,
                  .cpu_usec = 2500001 },
                { .name = "we\"ird\\name\n", .state = FAILED, .retry_in = 12345678, .cpu_usec = 7,
                  .cpu_unknown = 4 },
        };
        HealthHttpCount http[] = {
                { "/health", 200, 17 },
                { "other", 404, 2 },
        };
        HealthSnapshot s;
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;

        snapshot_base(&s);
        s.services = sv;
        s.n_services = ELEMENTSOF(sv);
        s.http = http;
        s.n_http = ELEMENTSOF(http);
        s.boot_exec = 1500;
        s.boot_http = 20999;
        s.http_waiting = 2;
        s.http_connections = 5;
        s.http_loopback_unowned = 7;
        s.login_cli_cpu_usec = 3000042;
        s.login_cli_cpu_unknown = 1;
        assert_int_equal(health_build_metrics(&s, &text, &size), 0);
        assert_int_equal(size, strlen(text));
        assert_string_equal(text, metrics_text);
}

/* The time to a retry, in /metrics and /health, rounded up to the
 * millisecond: a retry still to come never reads as 0 (one due, whose timer
 * has not fired yet, is 1 µs away at least). */
static void test_retry_rounding(void **state) {
        static const struct {
                usec_t retry_in;
                const char *seconds; /* NULL: no line */
                long long ms;        /* -1: null */
        } cases[] = {
                { 0, NULL, -1 },
                { 1, "0.001", 1 },
                { 999, "0.001", 1 },
                { 1000, "0.001", 1 },
                { 1001, "0.002", 2 },
                { 1500, "0.002", 2 },
                { 12345678, "12.346", 12346 },
                { 300 * USEC_PER_SEC, "300.000", 300000 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                HealthService sv = { .name = "x", .state = FAILED, .retry_in = cases[i].retry_in };
                _cleanup_(freep) char *metrics = NULL, *health = NULL;
                char line[128];
                HealthSnapshot s;
                json_t *o, *ms;

                snapshot_base(&s);
                s.services = &sv;
                s.n_services = 1;
                assert_int_equal(health_build_metrics(&s, &metrics, NULL), 0);
                if (cases[i].seconds) {
                        snprintf(line, sizeof line, "\nvmba_service_retry_seconds{service=\"x\"} %s\n",
                                 cases[i].seconds);
                        if (!strstr(metrics, line))
                                fail_msg("%llu us: not %s s", (unsigned long long)cases[i].retry_in,
                                         cases[i].seconds);
                } else
                        assert_null(strstr(metrics, "vmba_service_retry_seconds{"));

                health = build(&s);
                o = json_loads(health, 0, NULL);
                ms = json_object_get(json_object_get(json_object_get(o, "services"), "x"), "retry_in_ms");
                if (cases[i].ms < 0)
                        assert_true(json_is_null(ms));
                else
                        assert_int_equal(json_integer_value(ms), cases[i].ms);
                json_decref(o);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_health_minimal),
                cmocka_unit_test(test_health_full),
                cmocka_unit_test(test_health_restore),
                cmocka_unit_test(test_metrics_push),
                cmocka_unit_test(test_metrics_cli_cpu),
                cmocka_unit_test(test_metrics_service_cpu),
                cmocka_unit_test(test_health_network_failed),
                cmocka_unit_test(test_health_escaping),
                cmocka_unit_test(test_ready),
                cmocka_unit_test(test_metrics),
                cmocka_unit_test(test_retry_rounding),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
