/* Unit tests for common/clock-watch.c: what a read means (table), and the
 * fd itself armed and quiet.  The ECANCELED case itself needs someone to
 * set CLOCK_REALTIME, which has no namespace: never done here (it would
 * set this machine's clock); the qemu tier sees it in a guest. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>
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

static void test_fd(void **state) {
        struct itimerspec its;
        int fd = clock_watch_open();

        assert_true(fd >= 0);
        assert_int_equal(clock_watch_read(fd), 0);
        /* Armed, absolute, far away. */
        assert_int_equal(timerfd_gettime(fd, &its), 0);
        assert_true(its.it_value.tv_sec > 3600 * 24 * 365);
        assert_int_equal(clock_watch_arm(fd), 0);
        assert_int_equal(clock_watch_read(fd), 0);
        close(fd);
        assert_int_equal(clock_watch_read(fd), -EBADF);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_interpret),
                cmocka_unit_test(test_fd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
