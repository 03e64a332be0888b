/* Unit tests for common/clock-watch.c: what a read means (table).  The fd
 * itself is tests/adapter/common/test-clock-watch.c's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock-watch.h"
#include "macro.h"

static void test_interpret(void **state) {
        static const struct {
                ssize_t n;
                int error, r;
        } t[] = {
                { -1, ECANCELED, 1 },   /* clock_settime() since the last arm */
                { -1, EAGAIN, 0 },      /* non-blocking and nothing happened */
                { -1, EINTR, 0 },
                { 8, 0, 0 },            /* an expiry: not a clock step */
                { -1, EBADF, -EBADF },
                { -1, EINVAL, -EINVAL },
                { -1, 0, -EIO },        /* a failure without errno is still a failure */
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(clock_watch_interpret(t[i].n, t[i].error), t[i].r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_interpret),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
