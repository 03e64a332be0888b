/* Unit tests for agent/config.c: defaults, the JSON file, vmba.* on the
 * kernel command line, --set, precedence, and that the token never shows
 * up in an error message.  Error texts are compared exactly: they are
 * what an operator reads when the agent refuses to start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "agent/config/config.h"
#include "fileio.h"
#include "macro.h"

static void test_defaults(void **state) {
        Config c;

        config_init(&c);
        assert_int_equal(c.log_level, 6);
        assert_int_equal(c.http_port, 8080);
        assert_string_equal(c.http_listen, "0.0.0.0");
        assert_int_equal(c.netinit, -1);
        assert_int_equal(c.browser_prestart, 0);
        assert_int_equal(c.shutdown_action, SHUTDOWN_REBOOT);
        assert_int_equal(c.shutdown_timeout_ms, 10000);
        assert_string_equal(c.cmdline_path, "/proc/cmdline");
        assert_string_equal(c.display, ":1");
        assert_int_equal(c.vnc_port, 5901);
        /* RFB on loopback, noVNC (the token first) on the network. */
        assert_string_equal(c.vnc_listen, "unix");
        assert_string_equal(c.novnc_listen, "0.0.0.0");
        assert_int_equal(c.novnc_port, 6080);
        assert_string_equal(c.services_file, "");
        assert_string_equal(c.token_file, "/etc/vm-browser-agent/token");
        assert_null(c.token);        /* "" default means: no token */
        assert_null(c.allow_from);   /* NULL: loopback + gateway */
        assert_int_equal(c.stop_timeout_ms, 5000);
        assert_int_equal(c.vsock_cid, 2);
        assert_int_equal(c.secrets_from_cmdline, 0);
        assert_null(c.desktop_secret);
        assert_int_equal(c.mmds, -1);
        assert_string_equal(c.login_home, "/var/lib/vm-browser-agent/logins");
        config_done(&c);
        config_done(&c); /* idempotent */
}

static void test_json(void **state) {
        Config c;
        char err[256] = "";

        config_init(&c);
        assert_int_equal(config_load_json(&c,
                "{\"http_port\": 9090, \"log_level\": \"debug\", \"netinit\": false,"
                " \"allow_from\": [\"10.0.0.1\", \"::1\"], \"shutdown_action\": \"exit\","
                " \"geometry\": \"800x600\"}", "agent.json", err, sizeof err), 0);
        assert_int_equal(c.http_port, 9090);
        assert_int_equal(c.log_level, 7);
        assert_int_equal(c.netinit, 0);
        assert_string_equal(c.allow_from[0], "10.0.0.1");
        assert_string_equal(c.allow_from[1], "::1");
        assert_null(c.allow_from[2]);
        assert_int_equal(c.shutdown_action, SHUTDOWN_EXIT);
        assert_string_equal(c.geometry, "800x600");
        /* Untouched keys keep their defaults. */
        assert_int_equal(c.vnc_port, 5901);
        assert_int_equal(config_load_json(&c, "{\"log_level\": 3, \"netinit\": \"auto\", \"allow_from\": []}",
                                          "agent.json", err, sizeof err), 0);
        assert_int_equal(c.log_level, 3);
        assert_int_equal(c.netinit, -1);
        assert_null(c.allow_from);
        config_done(&c);
}

/* A config file's errors: each names the key and what it expected. */
static const struct {
        const char *json, *error;
} json_error_cases[] = {
        { "{\"http_prot\": 1}", "agent.json: unknown key \"http_prot\"" },
        { "{\"http_port\": \"8080\"}",
          "agent.json: key \"http_port\": expected a port 1-65535, got a string" },
        { "{\"http_port\": 65536}",
          "agent.json: key \"http_port\": expected a port 1-65535" },
        { "{\"http_port\": -1}", "agent.json: key \"http_port\": expected a port 1-65535, got an integer" },
        { "{\"http_port\": 1.5}", "agent.json: key \"http_port\": expected a port 1-65535, got a number" },
        /* A size in MiB with a range of its own. */
        { "{\"login_home_size_mb\": 1048577}",
          "agent.json: key \"login_home_size_mb\": expected an integer 0-1048576" },
        { "{\"browser_downloads_mb\": \"32\"}",
          "agent.json: key \"browser_downloads_mb\": expected an integer 0-1048576, got a string" },
        /* A memory.max: 0 is none, and below the floor Firefox (or a
         * CLI's login) is not killed but crawls on, reclaiming its own
         * code: refused, naming the value and the floor. */
        { "{\"browser_memory_max_mb\": 32}",
          "agent.json: key \"browser_memory_max_mb\": 32 is below 256, the least Firefox runs in; expected an "
          "integer 0 or 256-1048576" },
        { "{\"browser_memory_max_mb\": 255}",
          "agent.json: key \"browser_memory_max_mb\": 255 is below 256, the least Firefox runs in; expected an "
          "integer 0 or 256-1048576" },
        { "{\"browser_memory_max_mb\": 1048577}",
          "agent.json: key \"browser_memory_max_mb\": expected an integer 0 or 256-1048576" },
        { "{\"login_memory_max_mb\": 1}",
          "agent.json: key \"login_memory_max_mb\": 1 is below 64, the least a provider CLI's login runs in; "
          "expected an integer 0 or 64-1048576" },
        /* The thrash kill's span: its cgroup is read each 10 s, and a
         * shorter span would kill at the first read, 10 s after all. */
        { "{\"memory_thrash_kill_s\": 9}",
          "agent.json: key \"memory_thrash_kill_s\": 9 is below 10, the least span its cgroup's reads, one each "
          "10 s, can tell; expected an integer 0 or 10-86400" },
        { "{\"memory_thrash_kill_s\": 86401}",
          "agent.json: key \"memory_thrash_kill_s\": expected an integer 0 or 10-86400" },
        { "{\"login_memory_max_mb\": \"64\"}",
          "agent.json: key \"login_memory_max_mb\": expected an integer 0 or 64-1048576, got a string" },
        /* The restart budget: a window of 0 would never hold a start
         * (restarted for ever), and each unit of the burst is a start
         * time kept per service (4294967295 of them: no service runs). */
        { "{\"restart_window_s\": 0}",
          "agent.json: key \"restart_window_s\": expected an integer 1-86400" },
        { "{\"restart_window_s\": 86401}",
          "agent.json: key \"restart_window_s\": expected an integer 1-86400" },
        { "{\"restart_burst\": 4294967295}",
          "agent.json: key \"restart_burst\": expected an integer 0-1000" },
        /* A timeout of 0 is none: a client that sends nothing
         * would keep its connections for ever. */
        { "{\"http_timeout_s\": 0}",
          "agent.json: key \"http_timeout_s\": expected an integer 1-86400" },
        { "{\"http_timeout_s\": 86401}",
          "agent.json: key \"http_timeout_s\": expected an integer 1-86400" },
        /* 0 connections per client was 1: each client's first. */
        { "{\"http_max_per_ip\": 0}",
          "agent.json: key \"http_max_per_ip\": expected an integer 1-4294967295" },
        /* A request limit of 0 refused every request: any URL (414),
         * any header field (431), any body (413). */
        { "{\"http_max_url\": 0}",
          "agent.json: key \"http_max_url\": expected an integer 1-1048576" },
        { "{\"http_max_header\": 0}",
          "agent.json: key \"http_max_header\": expected an integer 1-1048576" },
        { "{\"http_max_url\": 4294967295}",
          "agent.json: key \"http_max_url\": expected an integer 1-1048576" },
        { "{\"http_max_header\": 1048577}",
          "agent.json: key \"http_max_header\": expected an integer 1-1048576" },
        { "{\"http_max_body\": 0}",
          "agent.json: key \"http_max_body\": expected an integer 1-4294967295" },
        { "{\"display\": 1}", "agent.json: key \"display\": expected a string, got an integer" },
        { "{\"netinit\": \"yes\"}", "agent.json: key \"netinit\": expected true, false or \"auto\", got a string" },
        /* A bool has no "auto". */
        { "{\"browser_prestart\": \"auto\"}", "agent.json: key \"browser_prestart\": expected true or false, got a string" },
        { "{\"browser_prestart\": 1}", "agent.json: key \"browser_prestart\": expected true or false, got an integer" },
        { "{\"allow_from\": \"10.0.0.1\"}",
          "agent.json: key \"allow_from\": expected a list of addresses or CIDRs, got a string" },
        { "{\"allow_from\": [1]}",
          "agent.json: key \"allow_from\": expected a list of addresses or CIDRs, got a list" },
        /* Caught at load time, not only when http.c parses it. */
        { "{\"allow_from\": [\"10.0.0.1\", \"10.0.0.300/24\"]}",
          "agent.json: key \"allow_from\": expected a list of addresses or CIDRs" },
        { "{\"allow_from\": [\"gateway\"]}",
          "agent.json: key \"allow_from\": expected a list of addresses or CIDRs" },
        { "{\"allow_from\": [\"10.0.0.0/33\"]}",
          "agent.json: key \"allow_from\": expected a list of addresses or CIDRs" },
        { "{\"shutdown_action\": \"halt\"}",
          "agent.json: key \"shutdown_action\": expected one of reboot, poweroff, exit" },
        { "{\"log_level\": 9}",
          "agent.json: key \"log_level\": expected a log level (emerg..debug or 0-7), got an integer" },
        { "[1]", "agent.json: expected a JSON object of keys" },
        { "{\"a\": 1", "agent.json:1:7: invalid JSON" },
        { "{\"depth\": 1, \"depth\": 2}", "agent.json:1:20: invalid JSON" },
};

static void test_json_errors(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(json_error_cases); i++) {
                Config c;
                char err[256] = "";
                config_init(&c);
                assert_int_equal(config_load_json(&c, json_error_cases[i].json, "agent.json", err, sizeof err),
                                 -EINVAL);
                assert_string_equal(err, json_error_cases[i].error);
                config_done(&c);
        }
}

/* The text path (kernel command line, --set) checks allow_from too, and a
 * refused value leaves the previous one in place. */
static void test_allow_from_text(void **state) {
        Config c;
        char err[256] = "";

        config_init(&c);
        assert_int_equal(config_set(&c, "allow_from", "10.0.0.0/8,fd00::/8", err, sizeof err), 0);
        assert_int_equal(config_set(&c, "allow_from", "10.0.0.1,10.0.0.1/40", err, sizeof err), -EINVAL);
        assert_string_equal(err, "option: key \"allow_from\": expected a list of addresses or CIDRs");
        assert_string_equal(c.allow_from[0], "10.0.0.0/8");
        assert_string_equal(c.allow_from[1], "fd00::/8");
        assert_null(c.allow_from[2]);
        assert_int_equal(config_apply_cmdline(&c, "quiet vmba.allow_from=host.lan", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"allow_from\": expected a list of addresses or CIDRs");
        assert_string_equal(c.allow_from[0], "10.0.0.0/8");
        config_done(&c);
}

/* A list of no words is the key's "unset", in every source: JSON's []
 * and "" already are; "," is too (strtok skips empty words), never an
 * empty list, which for allow_from would refuse the host everywhere. */
static void test_list_of_no_words(void **state) {
        Config c;
        char err[256] = "";

        config_init(&c);
        assert_int_equal(config_set(&c, "allow_from", "10.0.0.1", err, sizeof err), 0);
        assert_int_equal(config_apply_cmdline(&c, "vmba.allow_from=, vmba.http_allowed_hosts=,,", err, sizeof err),
                         0);
        assert_null(c.allow_from);
        assert_null(c.http_allowed_hosts);
        config_done(&c);
}

/* Port 0 is the kernel's "any free one": the host could never find the
 * agent's HTTP or the desktop, and nothing would say why.  Refused,
 * naming the key; unprivileged_port_start keeps its 0 ("the kernel's"). */
static void test_port_zero(void **state) {
        Config c;
        char err[256] = "";

        config_init(&c);
        assert_int_equal(config_set(&c, "http_port", "0", err, sizeof err), -EINVAL);
        assert_string_equal(err, "option: key \"http_port\": expected a port 1-65535");
        assert_int_equal(c.http_port, 8080);
        assert_int_equal(config_apply_cmdline(&c, "vmba.novnc_port=0", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"novnc_port\": expected a port 1-65535");
        assert_int_equal(config_load_json(&c, "{\"vnc_port\": 0}", "agent.json", err, sizeof err), -EINVAL);
        assert_string_equal(err, "agent.json: key \"vnc_port\": expected a port 1-65535");
        assert_int_equal(c.novnc_port, 6080);
        assert_int_equal(c.vnc_port, 5901);
        assert_int_equal(config_set(&c, "http_port", "65535", err, sizeof err), 0);
        assert_int_equal(c.http_port, 65535);
        assert_int_equal(config_set(&c, "unprivileged_port_start", "0", err, sizeof err), 0);
        assert_int_equal(c.unprivileged_port_start, 0);
        config_done(&c);
}

static void test_file(void **state) {
        char dir[] = "/tmp/test-config-XXXXXX", path[64], err[256] = "";
        Config c;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/agent.json", dir);
        config_init(&c);
        assert_int_equal(config_load_file(&c, path, err, sizeof err), -ENOENT);
        assert_int_equal(write_file_atomic(path, "{\"depth\": 16}\n", 14, 0644), 0);
        assert_int_equal(config_load_file(&c, path, err, sizeof err), 0);
        assert_int_equal(c.depth, 16);
        assert_int_equal(write_file_atomic(path, "{\"dpeth\": 16}\n", 14, 0644), 0);
        assert_int_equal(config_load_file(&c, path, err, sizeof err), -EINVAL);
        char want[128];
        snprintf(want, sizeof want, "%s: unknown key \"dpeth\"", path);
        assert_string_equal(err, want);
        config_done(&c);
        unlink(path);
        rmdir(dir);
}

static void test_cmdline(void **state) {
        Config c;
        char err[256] = "";

        config_init(&c);
        assert_int_equal(config_apply_cmdline(&c,
                "console=ttyS0 reboot=k ip=10.0.0.2::10.0.0.1:24::eth0:off vmba.http_port=8081 "
                "\"vmba.geometry=1024x768\" vmba.window_manager= vmba.allow_from=10.0.0.1,10.0.0.9 "
                "vmba.netinit=on vmba.browser_prestart=yes -- vmba.depth=8", err, sizeof err), 0);
        assert_int_equal(c.http_port, 8081);
        assert_string_equal(c.geometry, "1024x768");
        assert_string_equal(c.window_manager, "");
        assert_string_equal(c.allow_from[0], "10.0.0.1");
        assert_string_equal(c.allow_from[1], "10.0.0.9");
        assert_null(c.allow_from[2]);
        assert_int_equal(c.netinit, 1);
        assert_int_equal(c.browser_prestart, 1);
        assert_int_equal(c.depth, 24); /* after "--": init's arguments, not the kernel's */
        assert_int_equal(c.secrets_from_cmdline, 0);

        assert_int_equal(config_apply_cmdline(&c, "quiet vmba.http_prot=1", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: unknown key \"vmba.http_prot\"");
        assert_int_equal(config_apply_cmdline(&c, "vmba.vnc_port=x1", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"vnc_port\": expected a port 1-65535");
        assert_int_equal(config_apply_cmdline(&c, "vmba.depth", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"depth\": expected an integer 0-4294967295, got no value");
        assert_int_equal(config_apply_cmdline(&c, "vmba.browser_downloads_mb", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"browser_downloads_mb\": expected an integer 0-1048576, "
                                 "got no value");
        assert_int_equal(config_apply_cmdline(&c, "vmba.login_home_size_mb=1048577", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"login_home_size_mb\": expected an integer 0-1048576");
        assert_int_equal(config_apply_cmdline(&c, "vmba.login_home_size_mb=1048576 vmba.browser_downloads_mb=0",
                                              err, sizeof err), 0);
        assert_int_equal(c.login_home_size_mb, 1048576);
        assert_int_equal(c.browser_downloads_mb, 0);
        assert_int_equal(config_apply_cmdline(&c, "vmba.restart_window_s=0", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"restart_window_s\": expected an integer 1-86400");
        assert_int_equal(config_apply_cmdline(&c, "vmba.restart_burst=1001", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"restart_burst\": expected an integer 0-1000");
        /* The ends of both ranges; a burst of 0 is no budget, as before. */
        assert_int_equal(config_apply_cmdline(&c, "vmba.restart_window_s=1 vmba.restart_burst=1000",
                                              err, sizeof err), 0);
        assert_int_equal(c.restart_window_s, 1);
        assert_int_equal(c.restart_burst, 1000);
        assert_int_equal(config_apply_cmdline(&c, "vmba.restart_window_s=86400 vmba.restart_burst=0",
                                              err, sizeof err), 0);
        assert_int_equal(c.restart_window_s, 86400);
        assert_int_equal(c.restart_burst, 0);
        config_done(&c);
}

/* The memory limits' floors hold wherever they are set, keep the value
 * before, and let 0 (none) and the floor itself through. */
static void test_memory_max_floor(void **state) {
        Config c;
        char err[256] = "";

        config_init(&c);
        assert_int_equal(config_apply_cmdline(&c, "vmba.browser_memory_max_mb=32", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"browser_memory_max_mb\": 32 is below 256, the least "
                                 "Firefox runs in; expected an integer 0 or 256-1048576");
        assert_int_equal(config_set(&c, "login_memory_max_mb", "63", err, sizeof err), -EINVAL);
        assert_string_equal(err, "option: key \"login_memory_max_mb\": 63 is below 64, the least a provider CLI's "
                                 "login runs in; expected an integer 0 or 64-1048576");
        assert_int_equal(c.browser_memory_max_mb, 1536);
        assert_int_equal(c.login_memory_max_mb, 1024);
        assert_int_equal(config_apply_cmdline(&c, "vmba.browser_memory_max_mb=256 vmba.login_memory_max_mb=64",
                                              err, sizeof err), 0);
        assert_int_equal(c.browser_memory_max_mb, 256);
        assert_int_equal(c.login_memory_max_mb, 64);
        assert_int_equal(config_set(&c, "browser_memory_max_mb", "0", err, sizeof err), 0);
        assert_int_equal(config_load_json(&c, "{\"login_memory_max_mb\": 0}", "agent.json", err, sizeof err), 0);
        assert_int_equal(c.browser_memory_max_mb, 0);
        assert_int_equal(c.login_memory_max_mb, 0);
        config_done(&c);
}

/* The thrash kill's floor holds on the kernel command line too, keeps
 * the value before, and lets 0 (never) and 10 through. */
static void test_memory_thrash_kill_floor(void **state) {
        Config c;
        char err[256] = "";

        (void)state;
        config_init(&c);
        assert_int_equal(config_apply_cmdline(&c, "vmba.memory_thrash_kill_s=1", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: key \"memory_thrash_kill_s\": 1 is below 10, the least span "
                                 "its cgroup's reads, one each 10 s, can tell; expected an integer 0 or 10-86400");
        assert_int_equal(c.memory_thrash_kill_s, 60);
        assert_int_equal(config_set(&c, "memory_thrash_kill_s", "10", err, sizeof err), 0);
        assert_int_equal(c.memory_thrash_kill_s, 10);
        assert_int_equal(config_set(&c, "memory_thrash_kill_s", "0", err, sizeof err), 0);
        assert_int_equal(c.memory_thrash_kill_s, 0);
        config_done(&c);
}

/* The HTTP request limits refuse 0 from the kernel command line and
 * --set as from the file (test_json_errors), keep the value they had,
 * and take 1, the smallest limit that lets a request through; the
 * target's and the header block's take up to 1 MiB and no more. */
static void test_http_limits_zero(void **state) {
        static const char *const names[] = { "http_max_url", "http_max_header", "http_max_body" };
        static const char *const maxima[] = { "1048576", "1048576", "4294967295" };
        Config c;
        char err[256] = "", word[64], want[128];

        config_init(&c);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(word, sizeof word, "vmba.%s=0", names[i]);
                assert_int_equal(config_apply_cmdline(&c, word, err, sizeof err), -EINVAL);
                snprintf(want, sizeof want, "kernel command line: key \"%s\": expected an integer 1-%s",
                         names[i], maxima[i]);
                assert_string_equal(err, want);
                assert_int_equal(config_set(&c, names[i], "0", err, sizeof err), -EINVAL);
                snprintf(want, sizeof want, "option: key \"%s\": expected an integer 1-%s", names[i], maxima[i]);
                assert_string_equal(err, want);
        }
        assert_int_equal(c.http_max_url, 4096);
        assert_int_equal(c.http_max_header, 16384);
        assert_int_equal(c.http_max_body, 65536);
        assert_int_equal(config_apply_cmdline(&c, "vmba.http_max_url=1 vmba.http_max_header=1", err, sizeof err), 0);
        assert_int_equal(config_set(&c, "http_max_body", "1", err, sizeof err), 0);
        assert_int_equal(c.http_max_url, 1);
        assert_int_equal(c.http_max_header, 1);
        assert_int_equal(c.http_max_body, 1);
        /* The target's and the header block's limits: at most 1 MiB each
         * (each connection's memory pool holds both). */
        assert_int_equal(config_apply_cmdline(&c, "vmba.http_max_url=1048576 vmba.http_max_header=1048576",
                                              err, sizeof err), 0);
        assert_int_equal(c.http_max_url, 1048576);
        assert_int_equal(c.http_max_header, 1048576);
        assert_int_equal(config_set(&c, "http_max_url", "1048577", err, sizeof err), -EINVAL);
        assert_int_equal(c.http_max_url, 1048576);
        config_done(&c);
}

/* vmba.* words are split by the kernel's tokeniser, exactly as ip= is
 * (cmdline_next_arg()): a quoted value keeps its spaces and a "--" inside
 * it, the quote opening a value is dropped with the word's last quote,
 * and quotes inside a value stay (the old tokeniser dropped them all). */
static void test_cmdline_quoted(void **state) {
        Config c;
        char err[256] = "";

        config_init(&c);
        assert_int_equal(config_apply_cmdline(&c,
                "ip=\"10.0.0.2:::24\" vmba.firefox=\"/opt/my browser -- x/firefox\" "
                "vmba.window_manager=a\"b c\"d \"vmba.display=:7\" vmba.depth=16", err, sizeof err), 0);
        assert_string_equal(c.firefox, "/opt/my browser -- x/firefox");
        assert_string_equal(c.window_manager, "a\"b c\"d");
        assert_string_equal(c.display, ":7");
        assert_int_equal(c.depth, 16);
        /* An unterminated quote runs to the end of the line. */
        assert_int_equal(config_apply_cmdline(&c, "vmba.geometry=\"800x600 vmba.depth=8", err, sizeof err), 0);
        assert_string_equal(c.geometry, "800x600 vmba.depth=8");
        assert_int_equal(c.depth, 16);
        config_done(&c);
}

static void test_precedence(void **state) {
        Config c;
        char err[256] = "";

        /* defaults < file < kernel command line < flags (--set) */
        config_init(&c);
        assert_int_equal(config_load_json(&c, "{\"http_port\": 1, \"vnc_port\": 2, \"novnc_port\": 3}",
                                          "f", err, sizeof err), 0);
        assert_int_equal(config_apply_cmdline(&c, "vmba.vnc_port=20 vmba.novnc_port=30", err, sizeof err), 0);
        assert_int_equal(config_set(&c, "novnc_port", "300", err, sizeof err), 0);
        assert_int_equal(c.http_port, 1);
        assert_int_equal(c.vnc_port, 20);
        assert_int_equal(c.novnc_port, 300);
        assert_int_equal(c.depth, 24);
        assert_int_equal(config_set(&c, "nope", "1", err, sizeof err), -EINVAL);
        assert_string_equal(err, "option: unknown key \"nope\"");
        assert_int_equal(config_set(&c, "log_level", "loud", err, sizeof err), -EINVAL);
        assert_string_equal(err, "option: key \"log_level\": expected a log level (emerg..debug or 0-7)");
        /* A number is digits only, all of the value, in range. */
        static const char *const not_ports[] = { "+30", " 30", "30 ", "-1", "65536", "" };
        for (size_t i = 0; i < ELEMENTSOF(not_ports); i++)
                assert_int_equal(config_set(&c, "novnc_port", not_ports[i], err, sizeof err), -EINVAL);
        assert_int_equal(c.novnc_port, 300);
        config_done(&c);
}

static void test_token_secret(void **state) {
        static const char secret[] = "s3cr3t-T0KEN";
        Config c;
        char err[256] = "", text[256];

        config_init(&c);
        /* A token of the wrong type: the message names the key, not the value. */
        snprintf(text, sizeof text, "{\"token\": [\"%s\"]}", secret);
        assert_int_equal(config_load_json(&c, text, "agent.json", err, sizeof err), -EINVAL);
        assert_string_equal(err, "agent.json: key \"token\": expected a string, got a list");
        assert_null(strstr(err, secret));

        snprintf(text, sizeof text, "vmba.token=%s", secret);
        assert_int_equal(config_apply_cmdline(&c, text, err, sizeof err), 0);
        assert_string_equal(c.token, secret);
        assert_int_equal(c.secrets_from_cmdline, CONFIG_TOKEN);

        /* An over-long token: refused without echoing it. */
        char *big = malloc(5000);
        assert_non_null(big);
        memset(big, 'k', 4999);
        big[4999] = '\0';
        assert_int_equal(config_set(&c, "token", big, err, sizeof err), -EINVAL);
        assert_string_equal(err, "option: key \"token\": longer than 4096 bytes");
        /* From JSON too: a string, but too long (not "expected a string"). */
        char *json = malloc(5100);
        assert_non_null(json);
        snprintf(json, 5100, "{\"token\": \"%s\"}", big);
        assert_int_equal(config_load_json(&c, json, "agent.json", err, sizeof err), -EINVAL);
        assert_string_equal(err, "agent.json: key \"token\": longer than 4096 bytes");
        free(json);
        free(big);
        config_done(&c);
}

/* config_error reaches the public /health: no value may appear in it,
 * not even near a JSON syntax error, and a key name only when it is one. */
static void test_errors_echo_nothing(void **state) {
        static const char *const inputs[] = {
                "{\"token\": \"s3cr3t\" \"x\"}",           /* jansson would quote near '"x"' */
                "{\"http_port\": \"s3cr3t\"}",
                "{\"s3cr3t\\nforged\": 1}",                  /* a key with a newline */
                "{\"allow_from\": [\"s3cr3t\"]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                Config c;
                char err[256] = "";

                config_init(&c);
                assert_int_equal(config_load_json(&c, inputs[i], "agent.json", err, sizeof err), -EINVAL);
                print_message("%s\n", err);
                assert_null(strstr(err, "s3cr3t"));
                assert_null(strchr(err, '\n'));
                config_done(&c);
        }
        Config c;
        char err[256] = "";
        config_init(&c);
        assert_int_equal(config_apply_cmdline(&c, "vmba.s3cr3t\x01=1", err, sizeof err), -EINVAL);
        assert_string_equal(err, "kernel command line: unknown key (not shown: not a key name)");
        config_done(&c);
}

/* keep_going (PID 1): one bad key is skipped, every other key of every
 * source applies, the first error is kept and all are counted. */
static void test_keep_going(void **state) {
        Config c;
        char err[256] = "";

        config_init(&c);
        c.keep_going = true;
        assert_int_equal(config_load_json(&c,
                "{\"http_port\": \"x\", \"allow_from\": [\"10.0.0.1\"], \"bogus\": 1,"
                " \"token_file\": \"/run/t\"}", "agent.json", err, sizeof err), -EINVAL);
        assert_string_equal(err, "agent.json: key \"http_port\": expected a port 1-65535, got a string");
        assert_int_equal(c.n_errors, 2);
        assert_int_equal(c.http_port, 8080);
        assert_string_equal(c.allow_from[0], "10.0.0.1");
        assert_string_equal(c.token_file, "/run/t");
        assert_int_equal(config_apply_cmdline(&c, "vmba.vnc_port=x vmba.novnc_listen=127.0.0.1", err, sizeof err),
                         -EINVAL);
        assert_int_equal(c.n_errors, 3);
        assert_string_equal(c.novnc_listen, "127.0.0.1");
        /* The first error is still the one reported. */
        assert_string_equal(err, "agent.json: key \"http_port\": expected a port 1-65535, got a string");
        /* A file that is no JSON at all applies nothing, and says where. */
        assert_int_equal(config_load_json(&c, "{\"depth\": 8,", "f", err, sizeof err), -EINVAL);
        assert_int_equal(c.depth, 24);
        assert_int_equal(c.n_errors, 4);
        config_done(&c);
}

static void test_dump_keys(void **state) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        config_dump_keys_markdown(f);
        fclose(f);
        assert_non_null(strstr(buf, "| key | type | default | description |\n|---|---|---|---|\n"));
        assert_non_null(strstr(buf, "\n| `http_port` | port | `8080` | HTTP port |\n"));
        assert_non_null(strstr(buf, "\n| `token` | string (secret) | \"\" |"));
        assert_non_null(strstr(buf, "\n| `restart_window_s` | integer 1-86400 | `60` |"));
        assert_non_null(strstr(buf, "\n| `browser_memory_max_mb` | integer 0 or 256-1048576 | `1536` |"));
        assert_non_null(strstr(buf, "\n| `memory_thrash_kill_s` | integer 0 or 10-86400 | `60` |"));
        free(buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_json_errors),
                cmocka_unit_test(test_allow_from_text),
                cmocka_unit_test(test_list_of_no_words),
                cmocka_unit_test(test_port_zero),
                cmocka_unit_test(test_file),
                cmocka_unit_test(test_cmdline),
                cmocka_unit_test(test_http_limits_zero),
                cmocka_unit_test(test_memory_max_floor),
                cmocka_unit_test(test_memory_thrash_kill_floor),
                cmocka_unit_test(test_cmdline_quoted),
                cmocka_unit_test(test_precedence),
                cmocka_unit_test(test_token_secret),
                cmocka_unit_test(test_errors_echo_nothing),
                cmocka_unit_test(test_keep_going),
                cmocka_unit_test(test_dump_keys),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
