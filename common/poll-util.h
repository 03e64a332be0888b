/* Waiting in poll() for a condition, up to a deadline: for the few places
 * that must wait without an event loop (one is not running yet, or no
 * longer). */
#pragma once

#include <poll.h>
#include <stddef.h>

#include "time-util.h"

/* Calls check(userdata) until it returns nonzero; between calls, waits in
 * poll() on the n fds of p for at most what is left until deadline
 * (CLOCK_MONOTONIC µs; USEC_INFINITY: no limit).  check reads the fds'
 * revents there (as the caller set them before the first poll()), and
 * may set an fd to -1 to leave it out of the next poll().  It is called
 * once even when deadline has passed already.  Returns what check
 * returned when nonzero (> 0: done; < 0: -errno), -ETIMEDOUT when it
 * still returned 0 at the deadline, or -errno when poll() failed (EINTR:
 * polled again). */
int poll_until(usec_t deadline, struct pollfd *p, size_t n, int (*check)(void *userdata), void *userdata);
