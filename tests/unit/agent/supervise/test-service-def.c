/* Unit tests for agent/supervise/service-def.c: the services_file grammar,
 * its checks and the dependency ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/supervise/service-def.h"
#include "launch.h"
#include "macro.h"
#include "strv.h"
#include "tests/unit/test-util.h"

static void test_parse_ok(void **state) {
        static const char text[] =
                "{\"services\": ["
                " {\"name\": \"web\", \"argv\": [\"websockify\", \"6080\"], \"depends_on\": [\"vnc\"],"
                "  \"probe\": {\"type\": \"http\", \"port\": 6080}},"
                " {\"name\": \"vnc\", \"argv\": [\"x11vnc\"], \"depends_on\": [\"X\"], \"env\": [\"DISPLAY=:9\"],"
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 5909, \"expect\": \"RFB \", \"host\": \"::1\"},"
                "  \"restart\": \"on-failure\", \"stop_timeout_ms\": 250},"
                " {\"name\": \"X\", \"argv\": [\"Xvfb\", \":9\"], \"probe\": {\"type\": \"displayfd\"},"
                "  \"stale_lock\": \"/tmp/.X9-lock\", \"cwd\": \"/tmp\", \"owned_files\": [\"/run/x/a\", \"/run/x/b\"]},"
                " {\"name\": \"ff\", \"argv\": [\"firefox\"], \"on_demand\": true, \"depends_on\": [\"X\", \"bus\"],"
                "  \"create_dirs\": [\"/tmp/p\"], \"restart\": \"never\", \"ready_timeout_ms\": 1,"
                "  \"user\": \"vmba-browser\", \"memory_max_mb\": 1536},"
                " {\"name\": \"bus\", \"argv\": [\"dbus-daemon\", \"--print-address=3\"], \"user\": \"nobody\","
                "  \"probe\": {\"type\": \"fd-line\"}, \"quit_restarts\": true}"
                "]}";
        ServiceDefs d = {};
        char err[256] = "";

        assert_int_equal(service_defs_from_json(text, &d, err, sizeof err), 0);
        assert_int_equal(d.n, 5);
        /* Dependency order, otherwise file order. */
        assert_string_equal(d.services[0].name, "X");
        assert_string_equal(d.services[1].name, "vnc");
        assert_string_equal(d.services[2].name, "web");
        assert_string_equal(d.services[3].name, "bus");
        assert_string_equal(d.services[4].name, "ff");
        assert_int_equal(d.services[0].probe.type, PROBE_DISPLAYFD);
        assert_string_equal(d.services[0].stale_lock, "/tmp/.X9-lock");
        assert_string_equal(d.services[0].cwd, "/tmp");
        assert_string_equal(test_join(d.services[0].owned_files), "/run/x/a /run/x/b");
        assert_null(d.services[1].owned_files);
        assert_int_equal(d.services[0].restart, RESTART_ALWAYS);
        assert_string_equal(test_join(d.services[1].env), "DISPLAY=:9");
        assert_int_equal(d.services[1].probe.port, 5909);
        assert_string_equal(d.services[1].probe.expect, "RFB ");
        assert_string_equal(d.services[1].probe.host, "::1");
        assert_int_equal(d.services[1].restart, RESTART_ON_FAILURE);
        assert_int_equal(d.services[1].stop_timeout_ms, 250);
        assert_string_equal(test_join(d.services[2].argv), "websockify 6080");
        assert_null(d.services[2].probe.path);
        assert_null(d.services[0].user); /* the agent's own */
        assert_string_equal(d.services[3].user, "nobody");
        assert_int_equal(d.services[3].probe.type, PROBE_FD_LINE);
        assert_true(d.services[3].quit_restarts);
        assert_false(d.services[0].quit_restarts);
        assert_true(d.services[4].on_demand);
        assert_int_equal(d.services[4].restart, RESTART_NEVER);
        assert_int_equal(d.services[4].ready_timeout_ms, 1);
        assert_string_equal(test_join(d.services[4].create_dirs), "/tmp/p");
        assert_string_equal(d.services[4].user, "vmba-browser");
        assert_int_equal(d.services[4].memory_max_mb, 1536);
        assert_int_equal(d.services[0].memory_max_mb, 0); /* none */
        assert_string_equal(test_join(d.services[4].depends_on), "X bus");
        assert_int_equal(service_defs_find(&d, "web"), 2);
        assert_int_equal(service_defs_find(&d, "nope"), -ENOENT);
        service_defs_done(&d);
        service_defs_done(&d); /* idempotent */
}

static void test_parse_bare_list(void **state) {
        ServiceDefs d = {};
        char err[256] = "";

        assert_int_equal(service_defs_from_json("[{\"name\":\"a\",\"argv\":[\"true\"]}]", &d, err, sizeof err), 0);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.services[0].probe.type, PROBE_NONE);
        service_defs_done(&d);
        assert_int_equal(service_defs_from_json("[]", &d, err, sizeof err), 0);
        assert_int_equal(d.n, 0);
}

#define HTTP_PATH_ERROR \
        "service a: http probe path must start with '/', be printable ASCII without spaces and at most 256 bytes"
#define A16 "aaaaaaaaaaaaaaaa"
#define A128 A16 A16 A16 A16 A16 A16 A16 A16
/* With its '/': one byte over PROBE_HTTP_PATH_MAX. */
#define LONG_PATH A128 A128
/* A service whose http probe has path (JSON string text). */
#define HTTP_PROBE(path) \
        "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"http\",\"port\":1,\"path\":\"" path "\"}}]"

/* The longest http probe path taken; one byte more is an error (below). */
static void test_http_probe_path_longest(void **state) {
        ServiceDefs d = {};
        char err[256] = "";
        const char *text = HTTP_PROBE("/" A128 A16 A16 A16 A16 A16 A16 A16 "aaaaaaaaaaaaaaa");

        assert_int_equal(service_defs_from_json(text, &d, err, sizeof err), 0);
        assert_int_equal(strlen(d.services[0].probe.path), PROBE_HTTP_PATH_MAX);
        service_defs_done(&d);
}

typedef struct ParseErrorCase {
        const char *text, *error;
} ParseErrorCase;

static const ParseErrorCase parse_error_cases[] = {
        { "{", "services: line 1: " },
        { "{\"servces\": []}", "services: unknown key 'servces'" },
        { "{\"services\": {}}", "services: expected a list of services" },
        { "[1]", "service 0: must be an object" },
        { "[{\"argv\":[\"x\"]}]", "service 0: name is required" },
        { "[{\"name\":\"a b\",\"argv\":[\"x\"]}]", "service 0: invalid name 'a b'" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"bogus\":1}]", "service a: unknown key 'bogus'" },
        { "[{\"name\":\"a\",\"argv\":[]}]", "service a: argv is empty" },
        { "[{\"name\":\"a\",\"argv\":[\"bin/x\"]}]", "service a: argv[0] 'bin/x' must be a program's name or an absolute path" },
        { "[{\"name\":\"a\",\"argv\":[\"x\", 3]}]", "service a: argv must be a list of strings" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"]},{\"name\":\"a\",\"argv\":[\"y\"]}]", "service a: defined twice" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"depends_on\":[\"b\"]}]", "service a: depends on unknown service 'b'" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"depends_on\":[\"a\"]}]", "service a: depends on itself" },
        /* A repeat: 33 of them overran the supervisor's deps[SERVICES_MAX]. */
        { "[{\"name\":\"a\",\"argv\":[\"x\"]},{\"name\":\"b\",\"argv\":[\"x\"],\"depends_on\":[\"a\",\"a\"]}]",
          "service b: depends on 'a' twice" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"depends_on\":[\"b\"]},{\"name\":\"b\",\"argv\":[\"x\"],\"depends_on\":[\"a\"]}]",
          "services: dependency cycle" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"on_demand\":true},{\"name\":\"b\",\"argv\":[\"x\"],\"depends_on\":[\"a\"]}]",
          "service b: depends on on-demand service 'a'" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"env\":[\"NOEQUALS\"]}]", "service a: env entry 'NOEQUALS' is not K=V" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"restart\":\"sometimes\"}]", "service a: restart must be always, on-failure or never" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"on_demand\":1}]", "service a: on_demand must be true or false" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"quit_restarts\":\"yes\"}]",
          "service a: quit_restarts must be true or false" },
        /* Under on-failure or never an exit 0 after ready ends the
         * service; started again at once, it would be neither. */
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"quit_restarts\":true,\"restart\":\"on-failure\"}]",
          "service a: quit_restarts needs restart always" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"restart\":\"never\",\"quit_restarts\":true}]",
          "service a: quit_restarts needs restart always" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"stop_timeout_ms\":-1}]", "service a: stop_timeout_ms must be an integer 0-4294967295" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"memory_max_mb\":1048577}]",
          "service a: memory_max_mb must be an integer 0-1048576" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"memory_max_mb\":\"1G\"}]",
          "service a: memory_max_mb must be an integer 0-1048576" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"smoke\"}}]",
          "service a: probe.type must be none, displayfd, fd-line, tcp-banner, http, file or unix-banner" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"user\":1}]", "service a: user must be a string" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"user\":\"\"}]", "service a: user '' is not a user name" },
        /* ':' would reach into the next passwd field. */
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"user\":\"root:x\"}]", "service a: user 'root:x' is not a user name" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"http\"}}]", "service a: probe needs a port" },
        /* The path is the request line's target, sent as it is. */
        { HTTP_PROBE("x"), HTTP_PATH_ERROR },
        { HTTP_PROBE("/a b"), HTTP_PATH_ERROR },
        { HTTP_PROBE("/a\\r\\nX: y"), HTTP_PATH_ERROR },
        { HTTP_PROBE("/" LONG_PATH), HTTP_PATH_ERROR },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"tcp-banner\",\"port\":1}}]",
          "service a: tcp-banner probe needs expect" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"file\",\"path\":\"/run/a\"}}]",
          "service a: file probe needs an absolute path to a file and expect" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"file\",\"path\":\"run/a\",\"expect\":\"x\"}}]",
          "service a: file probe needs an absolute path to a file and expect" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"file\",\"path\":\"/run/\",\"expect\":\"x\"}}]",
          "service a: file probe needs an absolute path to a file and expect" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"file\",\"expect\":\"x\"}}]",
          "service a: file probe needs an absolute path to a file and expect" },
#define UNIX_BANNER_ERR "service a: unix-banner probe needs an absolute socket path (under 108 bytes) and expect"
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"unix-banner\",\"path\":\"/run/s\"}}]",
          UNIX_BANNER_ERR },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"unix-banner\",\"expect\":\"RFB \"}}]",
          UNIX_BANNER_ERR },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"unix-banner\",\"path\":\"s\",\"expect\":\"R\"}}]",
          UNIX_BANNER_ERR },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"unix-banner\",\"path\":\"/run/\",\"expect\":\"R\"}}]",
          UNIX_BANNER_ERR },
        /* 108 bytes do not fit sun_path with the NUL. */
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"type\":\"unix-banner\",\"path\":\"/"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "\",\"expect\":\"R\"}}]",
          UNIX_BANNER_ERR },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"port\":70000}}]", "service a: probe.port must be an integer 0-65535" },
        { "[{\"name\":\"a\",\"argv\":[\"x\"],\"probe\":{\"timeout\":1}}]", "service a: unknown key 'probe.timeout'" },
};

static void test_parse_errors(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(parse_error_cases); i++) {
                const ParseErrorCase *c = &parse_error_cases[i];
                ServiceDefs d = { .n = 12345 };
                char err[256] = "";
                int r = service_defs_from_json(c->text, &d, err, sizeof err);

                if (r != -EINVAL || !startswith(err, c->error) ||
                    (strlen(err) != strlen(c->error) && i != 0))
                        fail_msg("case %zu: r=%d err='%s', expected '%s'", i, r, err, c->error);
                assert_int_equal(d.n, 12345); /* untouched on error */
        }
}

static void assert_env(char **got, const char *const *want) {
        size_t i = 0;

        assert_non_null(got);
        for (; want[i]; i++) {
                assert_non_null(got[i]);
                assert_string_equal(got[i], want[i]);
        }
        assert_null(got[i]);
        strv_free(got);
}

/* A service's environment: its own entries first, the agent's without
 * what it overrides or the agent's own systemd keys; for another user,
 * nothing of the agent's, and a PATH unless it has one. */
/* Writable as env's entries are; the list is only read. */
#define W(s) ((char *)(s))

static void test_env(void **state) {
        char *agent[] = { W("HOME=/root"), W("PATH=/agent/bin"), W("NOTIFY_SOCKET=/run/n"),
                          W("WATCHDOG_USEC=1"), W("WATCHDOG_PID=1"), W("LISTEN_FDS=1"), W("LISTEN_PID=1"),
                          W("LISTEN_FDNAMES=x"), W("DISPLAY=:0"), W("HOMEX=1"), NULL };
        char *own[] = { W("DISPLAY=:9"), W("HOME=/srv"), NULL };
        char *own_path[] = { W("PATH=/mine"), NULL };
        ServiceDef d = { .name = (char *)"s", .env = own };

        (void)state;
        assert_env(service_def_env(&d, "/bin", agent),
                   (const char *const[]){ "DISPLAY=:9", "HOME=/srv", "PATH=/agent/bin", "HOMEX=1", NULL });
        d.env = NULL;
        assert_env(service_def_env(&d, "/bin", agent),
                   (const char *const[]){ "HOME=/root", "PATH=/agent/bin", "DISPLAY=:0", "HOMEX=1", NULL });
        assert_env(service_def_env(&d, "/bin", NULL), (const char *const[]){ NULL });
        d.user = (char *)"vnc";
        assert_env(service_def_env(&d, "/opt/bin", agent), (const char *const[]){ "PATH=/opt/bin", NULL });
        assert_env(service_def_env(&d, NULL, agent), (const char *const[]){ "PATH=" DEFAULT_PATH, NULL });
        d.env = own;
        assert_env(service_def_env(&d, "/opt/bin", agent),
                   (const char *const[]){ "DISPLAY=:9", "HOME=/srv", "PATH=/opt/bin", NULL });
        d.env = own_path;
        assert_env(service_def_env(&d, "/opt/bin", agent), (const char *const[]){ "PATH=/mine", NULL });
}

/* An entry set on a built service: in place of its key's, or added; the
 * entries are the definition's own (service_def_done() frees them). */
static void test_set_env(void **state) {
        ServiceDef d = { .name = strdup("s") };

        (void)state;
        assert_int_equal(service_def_set_env(&d, "A=1"), 0);
        assert_env(strv_concat(d.env, NULL), (const char *const[]){ "A=1", NULL });
        assert_int_equal(service_def_set_env(&d, "AB=2"), 0);
        assert_int_equal(service_def_set_env(&d, "B="), 0);
        /* "A" is not a prefix match of "AB". */
        assert_int_equal(service_def_set_env(&d, "A=3"), 0);
        assert_int_equal(service_def_set_env(&d, "B=x=y"), 0);
        assert_env(strv_concat(d.env, NULL), (const char *const[]){ "A=3", "AB=2", "B=x=y", NULL });
        assert_int_equal(service_def_set_env(&d, "A"), -EINVAL);
        assert_int_equal(service_def_set_env(&d, "=1"), -EINVAL);
        assert_env(strv_concat(d.env, NULL), (const char *const[]){ "A=3", "AB=2", "B=x=y", NULL });
        service_def_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_ok),
                cmocka_unit_test(test_parse_bare_list),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_http_probe_path_longest),
                cmocka_unit_test(test_env),
                cmocka_unit_test(test_set_env),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
