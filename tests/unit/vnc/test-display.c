/* Unit tests for vnc/display.c: the built-in display stack's exact argv,
 * probes and dependencies, and the display name grammar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "macro.h"
#include "tests/unit/test-util.h"
#include "vnc/display.h"

static void test_display_stack(void **state) {
        /* The defaults, as run.c hands them over, but for the ports,
         * display and profile. */
        DisplayOptions c = {
                .display = ":7", .geometry = "1280x800", .depth = 24, .window_manager = "",
                .vnc_listen = "0.0.0.0", .vnc_port = 5907, .vnc_password_file = "",
                .novnc_port = 6087, .novnc_web = "/usr/share/novnc", .firefox = "firefox-esr",
                .firefox_profile = "/tmp/ffp", .browser_home = "/root",
                .bin_path = "/usr/local/bin:/usr/bin:/bin",
        };
        ServiceDefs d = {};
        char err[256] = "";

        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_int_equal(d.n, 4);
        assert_string_equal(d.services[0].name, "Xvfb");
        assert_string_equal(test_join(d.services[0].argv),
                            "Xvfb :7 -displayfd 3 -screen 0 1280x800x24 -nolisten tcp");
        assert_string_equal(d.services[0].stale_lock, "/tmp/.X7-lock");
        assert_int_equal(d.services[0].probe.type, PROBE_DISPLAYFD);
        assert_string_equal(d.services[1].name, "x11vnc");
        assert_string_equal(test_join(d.services[1].argv),
                            "x11vnc -display :7 -rfbport 5907 -listen 0.0.0.0 -forever -shared -quiet -nopw");
        assert_string_equal(test_join(d.services[1].depends_on), "Xvfb");
        assert_int_equal(d.services[1].probe.type, PROBE_TCP_BANNER);
        assert_string_equal(d.services[1].probe.host, "127.0.0.1");
        assert_int_equal(d.services[1].probe.port, 5907);
        assert_string_equal(d.services[1].probe.expect, "RFB ");
        assert_string_equal(d.services[2].name, "websockify");
        assert_string_equal(test_join(d.services[2].argv),
                            "websockify --web /usr/share/novnc 6087 127.0.0.1:5907");
        assert_string_equal(test_join(d.services[2].depends_on), "x11vnc");
        assert_int_equal(d.services[2].probe.type, PROBE_HTTP);
        assert_int_equal(d.services[2].probe.port, 6087);
        assert_string_equal(d.services[3].name, "firefox");
        assert_string_equal(test_join(d.services[3].argv), "firefox-esr --profile /tmp/ffp");
        assert_string_equal(test_join(d.services[3].env), "DISPLAY=:7 HOME=/root");
        assert_string_equal(test_join(d.services[3].create_dirs), "/tmp/ffp");
        assert_true(d.services[3].on_demand);
        assert_int_equal(d.services[3].restart, RESTART_ON_FAILURE);
        service_defs_done(&d);

        /* A password file and a specific listen address. */
        c.vnc_password_file = "/etc/vnc.pass";
        c.vnc_listen = "10.0.0.2";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), 0);
        assert_string_equal(test_join(d.services[1].argv),
                            "x11vnc -display :7 -rfbport 5907 -listen 10.0.0.2 -forever -shared -quiet -rfbauth /etc/vnc.pass");
        assert_string_equal(d.services[1].probe.host, "10.0.0.2");
        assert_string_equal(test_join(d.services[2].argv),
                            "websockify --web /usr/share/novnc 6087 10.0.0.2:5907");
        service_defs_done(&d);

        c.geometry = "1280x";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);
        assert_string_equal(err, "geometry: '1280x' is not of the form WIDTHxHEIGHT");
        c.display = "1";
        assert_int_equal(display_build_services(&c, &d, err, sizeof err), -EINVAL);
        assert_string_equal(err, "display: '1' is not of the form :N");
}

static void test_display_number(void **state) {
        assert_int_equal(display_number(":0"), 0);
        assert_int_equal(display_number(":99"), 99);
        assert_int_equal(display_number(":1.0"), 1);
        assert_int_equal(display_number(":1."), -EINVAL);
        assert_int_equal(display_number("1"), -EINVAL);
        assert_int_equal(display_number(":"), -EINVAL);
        assert_int_equal(display_number(":x"), -EINVAL);
        assert_int_equal(display_number("host:1"), -EINVAL);
        assert_int_equal(display_number(":999999"), -EINVAL);
        assert_int_equal(display_number(NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_display_stack),
                cmocka_unit_test(test_display_number),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
