/* Microsecond time values and clock helpers. */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t)UINT64_MAX)
#define USEC_PER_SEC ((usec_t)1000000ULL)
#define USEC_PER_MSEC ((usec_t)1000ULL)
#define NSEC_PER_USEC ((uint64_t)1000ULL)

/* u in milliseconds, rounded up: a wait or a delay still to come never
 * reads as 0. */
static inline uint64_t usec_to_msec_up(usec_t u) {
        return (u + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
}

/* a + b, USEC_INFINITY where it would overflow (a deadline never wraps
 * round to one long past).  Pure. */
static inline usec_t usec_add(usec_t a, usec_t b) {
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

static inline usec_t timespec_to_usec(const struct timespec *ts) {
        return (usec_t)ts->tv_sec * USEC_PER_SEC + (usec_t)ts->tv_nsec / NSEC_PER_USEC;
}

/* Current time of clock in µs. CLOCK_BOOTTIME counts from kernel start,
 * which is what /health's `boot` block reports. */
static inline usec_t now(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return timespec_to_usec(&ts);
}

/* "2026-11-21T23:59:01.123Z": a CLOCK_REALTIME µs value in ISO 8601 UTC
 * with milliseconds, as JavaScript's toISOString() prints it (the seed host
 * parsed the Node agent's timestamps).  Pure and lock-free.  Returns buf. */
#define ISO8601_MAX 32
char *format_iso8601(usec_t realtime, char buf[static ISO8601_MAX]);

/* CLOCK_BOOTTIME at which this process was exec'd, from /proc/self/stat;
 * returns 0 when unknown. */
usec_t process_start_boottime(void);
