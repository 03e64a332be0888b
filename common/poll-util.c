/* Implementation of poll-util.h. */
#include <errno.h>
#include <limits.h>

#include "macro.h"
#include "poll-util.h"

int poll_until(usec_t deadline, struct pollfd *p, size_t n, int (*check)(void *userdata), void *userdata) {
        for (;;) {
                usec_t t = now(CLOCK_MONOTONIC);
                int r = check(userdata), timeout;

                if (r != 0)
                        return r;
                if (t >= deadline)
                        return -ETIMEDOUT;
                timeout = deadline == USEC_INFINITY ? -1 : (int)MIN(usec_to_msec_up(deadline - t), (uint64_t)INT_MAX);
                if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
                        return -errno;
        }
}
