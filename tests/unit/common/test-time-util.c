/* Unit tests for common/time-util.c: when this process started, read
 * from /proc/self/stat, and timestamps as ISO 8601 in UTC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "time-util.h"

/* starttime is field 22 of /proc/self/stat; field 21 (itrealvalue) is
 * always 0, which an off-by-one used to return. */
static void test_process_start_boottime(void **state) {
        usec_t t = process_start_boottime();
        assert_true(t > 0);
        assert_true(t <= now(CLOCK_BOOTTIME));
}

/* 2026-11-21T23:59:01.123Z */
#define REALTIME ((usec_t)1795305541 * USEC_PER_SEC + 123456)

/* A sum, or USEC_INFINITY where it would wrap round. */
static void test_usec_add(void **state) {
        (void)state;
        assert_int_equal(usec_add(1, 2), 3);
        assert_int_equal(usec_add(0, USEC_INFINITY), USEC_INFINITY);
        assert_int_equal(usec_add(USEC_INFINITY - 5, 5), USEC_INFINITY);
        assert_int_equal(usec_add(USEC_INFINITY - 5, 4), USEC_INFINITY - 1);
        assert_int_equal(usec_add(USEC_INFINITY - 5, 6), USEC_INFINITY);
}

static void test_iso8601(void **state) {
        char buf[ISO8601_MAX];

        assert_string_equal(format_iso8601(REALTIME, buf), "2026-11-21T23:59:01.123Z");
        assert_string_equal(format_iso8601(0, buf), "1970-01-01T00:00:00.000Z");
        /* Leap day, last millisecond of the second. */
        assert_string_equal(format_iso8601((usec_t)1709251199 * USEC_PER_SEC + 999999, buf),
                            "2024-02-29T23:59:59.999Z");
        /* Not a leap year (divisible by 100), and a year 2100 date. */
        assert_string_equal(format_iso8601((usec_t)4107542400 * USEC_PER_SEC, buf), "2100-03-01T00:00:00.000Z");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_process_start_boottime),
                cmocka_unit_test(test_usec_add),
                cmocka_unit_test(test_iso8601),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
