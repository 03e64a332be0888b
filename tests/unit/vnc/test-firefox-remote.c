/* Unit tests for vnc/firefox-remote.c: the bus names observed on the bus
 * for real profiles (the report's /tmp/fxresearch/p1 and prof-u, whose
 * "==" became "__"), the length cap, and the exact OpenURL argument the
 * real client sent for `firefox-esr --profile /tmp/fxresearch/p1 --new-tab
 * http://127.0.0.1:8771/url4` from /tmp/fxresearch (captured with
 * dbus-monitor). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "macro.h"
#include "vnc/firefox-remote.h"

static void test_bus_name(void **state) {
        static const struct {
                const char *profile, *name;
        } cases[] = {
                /* Observed with ListNames while Firefox 153 ESR ran. */
                { "/tmp/fxresearch/p1", "org.mozilla.firefox.L3RtcC9meHJlc2VhcmNoL3Ax" },
                { "/tmp/fxresearch/prof-u", "org.mozilla.firefox.L3RtcC9meHJlc2VhcmNoL3Byb2YtdQ__" },
                /* The image's default profile: '+' and '/' of Base64 become '_' too. */
                { "/var/lib/vm-browser-agent/browser/profile",
                  "org.mozilla.firefox.L3Zhci9saWIvdm0tYnJvd3Nlci1hZ2VudC9icm93c2VyL3Byb2ZpbGU_" },
                { "/?\x3f>", "org.mozilla.firefox.Lz8_Pg__" }, /* "/??>": Base64 "Lz8/Pg==" */
        };
        char *name = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(firefox_remote_bus_name(cases[i].profile, &name), 0);
                assert_string_equal(name, cases[i].name);
                free(name);
        }
        /* Longer than D-Bus allows: cut at 255, as Firefox does. */
        char long_path[400];
        memset(long_path, 'a', sizeof long_path - 1);
        long_path[0] = '/';
        long_path[sizeof long_path - 1] = '\0';
        assert_int_equal(firefox_remote_bus_name(long_path, &name), 0);
        assert_int_equal(strlen(name), FIREFOX_REMOTE_NAME_MAX);
        assert_true(startswith(name, "org.mozilla.firefox.L2FhYW"));
        free(name);
        assert_int_equal(firefox_remote_bus_name("", &name), -EINVAL);
}

static void test_command_line(void **state) {
        char *argv[] = { (char *)"firefox-esr", (char *)"--new-tab", (char *)"http://127.0.0.1:8771/url4", NULL };
        static const uint8_t head[] = { 0x03, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00,
                                        0x2c, 0x00, 0x00, 0x00, 0x36, 0x00, 0x00, 0x00 };
        static const char tail[] = "/tmp/fxresearch\0firefox-esr\0--new-tab\0http://127.0.0.1:8771/url4";
        uint8_t *b = NULL;
        size_t n = 0;

        assert_int_equal(firefox_remote_command_line("/tmp/fxresearch", argv, &b, &n), 0);
        assert_int_equal(n, sizeof head + sizeof tail);
        assert_memory_equal(b, head, sizeof head);
        assert_memory_equal(b + sizeof head, tail, sizeof tail);
        free(b);
        assert_int_equal(firefox_remote_command_line("/", (char *[]){ NULL }, &b, &n), -EINVAL);
        assert_int_equal(firefox_remote_command_line(NULL, argv, &b, &n), -EINVAL);
        /* Bounded: a URL of 2 MiB is refused rather than sent. */
        char *big = malloc(2 * 1024 * 1024);
        assert_non_null(big);
        memset(big, 'x', 2 * 1024 * 1024 - 1);
        big[2 * 1024 * 1024 - 1] = '\0';
        assert_int_equal(firefox_remote_command_line("/", (char *[]){ big, NULL }, &b, &n), -E2BIG);
        free(big);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bus_name),
                cmocka_unit_test(test_command_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
