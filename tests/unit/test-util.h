/* Small helpers the unit tests share. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A NULL-terminated list as one space-separated line, in a static buffer
 * (valid until the next call): argv and env lists compare as one string. */
static inline char *test_join(char *const *l) {
        static char buf[1024];
        size_t o = 0;

        buf[0] = '\0';
        for (; l && *l && o < sizeof buf; l++)
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", o ? " " : "", *l);
        return buf;
}

/* A test-side bound on a wait for something the test does not control (a
 * process's exit, a cgroup emptying): base_usec times VMBA_DEADLINE_SCALE
 * (default 3, as the Python tiers' waits), for a loaded machine and
 * sanitizers.  It only turns a hang into a failure that names the wait:
 * never a timing expectation. */
static inline uint64_t test_deadline_usec(uint64_t base_usec) {
        const char *e = getenv("VMBA_DEADLINE_SCALE");
        double scale = e ? strtod(e, NULL) : 3.0;

        if (!(scale > 0))
                scale = 3.0;
        return (uint64_t)((double)base_usec * scale);
}

/* A test-side wait by the clock (never by a count of loop turns, which
 * events use up at any pace): its deadline, CLOCK_MONOTONIC µs, and its
 * scaled length in whole seconds for the failure that names it. */
typedef struct TestWait {
        uint64_t end;
        unsigned long long s;
} TestWait;

static inline uint64_t test_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A wait of base_usec from now, scaled (test_deadline_usec()). */
static inline TestWait test_wait_start(uint64_t base_usec) {
        uint64_t limit = test_deadline_usec(base_usec);

        return (TestWait){ .end = test_now_usec() + limit, .s = limit / 1000000u };
}

/* What is left of w, µs: 0 once its deadline has passed.  As a loop
 * turn's timeout it keeps the turn from outlasting the wait. */
static inline uint64_t test_wait_left(const TestWait *w) {
        uint64_t t = test_now_usec();

        return t >= w->end ? 0 : w->end - t;
}
