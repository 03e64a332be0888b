/* Notices the wall clock being set, without polling: a CLOCK_REALTIME
 * timerfd armed far in the future with TFD_TIMER_CANCEL_ON_SET, whose
 * read() fails with ECANCELED once someone calls clock_settime() (or
 * settimeofday, adjtimex with ADJ_SETOFFSET) — the host stepping a
 * restored guest's clock, or the agent doing it from the host's time.
 * Slewing (NTP's adjtime) does not count. */
#pragma once

#include <sys/types.h>

/* A non-blocking, close-on-exec fd, armed; -errno. */
int clock_watch_open(void);
/* Arms (again) fd: after a cancel the timer is disarmed until re-armed. */
int clock_watch_arm(int fd);
/* Reads fd: 1 the clock was set since the last arm (re-armed here), 0
 * nothing happened, -errno. */
int clock_watch_read(int fd);
/* Pure: what read()'s result n with errno error means, as above (1, 0,
 * -errno); an expiry (n == 8) is 0: the timer is set past any real time. */
int clock_watch_interpret(ssize_t n, int error);
