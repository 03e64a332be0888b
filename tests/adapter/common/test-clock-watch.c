/* Adapter tests of common/clock-watch.c: the real timerfd, armed and
 * quiet.  The ECANCELED case itself needs someone to set CLOCK_REALTIME,
 * which has no namespace: never done here (it would set this machine's
 * clock); the qemu tier sees it in a guest. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock-watch.h"

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
                cmocka_unit_test(test_fd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
