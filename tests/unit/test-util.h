/* Small helpers the unit tests share. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

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

/* stderr into a pipe from test_stderr_begin() to test_stderr_end(), for
 * what a log call writes: a few short lines, which the pipe holds. */
typedef struct TestStderr {
        int pipe[2];
        int saved;
} TestStderr;

/* 0, or -errno. */
static inline int test_stderr_begin(TestStderr *c) {
        c->saved = dup(STDERR_FILENO);
        if (c->saved < 0 || pipe(c->pipe) < 0 || dup2(c->pipe[1], STDERR_FILENO) < 0)
                return -errno;
        return 0;
}

/* stderr back; what was written meanwhile into buf (size > 0, cut to it,
 * NUL-terminated): its length, or -errno. */
static inline ssize_t test_stderr_end(TestStderr *c, char *buf, size_t size) {
        ssize_t n;
        int r = 0;

        if (dup2(c->saved, STDERR_FILENO) < 0)
                return -errno;
        close(c->saved);
        close(c->pipe[1]);
        n = read(c->pipe[0], buf, size - 1);
        if (n < 0)
                r = -errno;
        close(c->pipe[0]);
        if (r < 0)
                return r;
        buf[n] = '\0';
        return n;
}
