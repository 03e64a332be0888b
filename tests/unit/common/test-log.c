/* Unit tests for common/log.c: level names, the -errno the log_*_errno()
 * calls return, and what one call writes to stderr: one line with its
 * priority prefix, control bytes and escape sequences made '?', UTF-8
 * left whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "tests/unit/test-util.h"

static void test_log_level_from_string(void **state) {
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_string("err"), LOG_ERR);
        assert_int_equal(log_level_from_string("error"), LOG_ERR);
        assert_int_equal(log_level_from_string("3"), 3);
        assert_int_equal(log_level_from_string("8"), -EINVAL);
        assert_int_equal(log_level_from_string("loud"), -EINVAL);
        assert_int_equal(log_level_from_string(NULL), -EINVAL);
}

static void test_log_returns_negative(void **state) {
        log_set_max_level(LOG_EMERG); /* keep test output quiet */
        assert_int_equal(log_error_errno(EIO, "x"), -EIO);
        assert_int_equal(log_error_errno(-ENOENT, "x"), -ENOENT);
        log_set_max_level(LOG_INFO);
}

/* What one log call writes to stderr, captured through a pipe. */
static void log_captured(LogTarget t, char *buf, size_t size) {
        TestStderr c;

        assert_int_equal(test_stderr_begin(&c), 0);
        log_set_target(t);
        log_set_ident("tst");
        log_warning("one\ntwo\rthree %d\x1b[2J\tend\x7f 1…2 é \xc2\x9b" "1m", 3);
        log_set_ident("vm-browser-agent");
        log_set_target(LOG_TARGET_STDERR);
        assert_true(test_stderr_end(&c, buf, size) >= 0);
}

static void test_log_format(void **state) {
        char buf[256];

        /* A message is one line: an embedded newline cannot forge a record,
         * an escape sequence cannot redraw a terminal; UTF-8 stays whole. */
        log_captured(LOG_TARGET_STDERR, buf, sizeof buf);
        assert_string_equal(buf, "<4>tst: one two three 3?[2J end? 1…2 é ??1m\n");
        log_captured(LOG_TARGET_TERMINAL, buf, sizeof buf);
        assert_string_equal(buf, "tst: one two three 3?[2J end? 1…2 é ??1m\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_log_level_from_string),
                cmocka_unit_test(test_log_returns_negative),
                cmocka_unit_test(test_log_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
