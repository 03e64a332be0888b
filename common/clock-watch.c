/* See clock-watch.h. */
#include <errno.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock-watch.h"
#include "macro.h"

int clock_watch_arm(int fd) {
        /* Far enough that it never expires; within 32-bit time_t, which
         * some kernels' timerfd still clamp to. */
        struct itimerspec its = { .it_value = { .tv_sec = INT32_MAX } };

        return RET_NERRNO(timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL));
}

int clock_watch_open(void) {
        int fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC), r;

        if (fd < 0)
                return -errno;
        r = clock_watch_arm(fd);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int clock_watch_interpret(ssize_t n, int error) {
        if (n >= 0)
                return 0;
        if (error == ECANCELED)
                return 1;
        if (error == EAGAIN || error == EINTR)
                return 0;
        return error > 0 ? -error : -EIO;
}

int clock_watch_read(int fd) {
        uint64_t expirations;
        ssize_t n = read(fd, &expirations, sizeof expirations);
        int r = clock_watch_interpret(n, n < 0 ? errno : 0);

        if (r == 1) {
                int k = clock_watch_arm(fd);
                if (k < 0)
                        return k;
        }
        return r;
}
