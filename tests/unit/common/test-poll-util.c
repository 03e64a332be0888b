/* Unit tests for common/poll-util.c: poll_until() asks its check before
 * each wait and stops at the first nonzero answer, the deadline or a
 * poll() error.  The fds polled are a pipe's: readable once a byte was
 * written, so no test waits on time but the timeout's, whose wait is a
 * few milliseconds and whose result does not depend on how long it took. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include "macro.h"
#include "poll-util.h"

typedef struct Check {
        unsigned calls;
        unsigned done_at;  /* the call that answers `answer` (0: never) */
        int answer;
        struct pollfd *p;  /* set: done once p is readable */
} Check;

static int check(void *userdata) {
        Check *c = userdata;

        c->calls++;
        if (c->p)
                return c->p->revents & POLLIN ? 1 : 0;
        return c->calls == c->done_at ? c->answer : 0;
}

typedef struct Pipe {
        int fd[2];
} Pipe;

/* A pipe, readable when readable is set. */
static void pipe_make(Pipe *pp, bool readable) {
        assert_int_equal(pipe2(pp->fd, O_CLOEXEC), 0);
        if (readable)
                assert_int_equal(write(pp->fd[1], "x", 1), 1);
}

static void pipe_done(Pipe *pp) {
        close(pp->fd[0]);
        close(pp->fd[1]);
}

/* Done on the third call: two polls (returning at once, the pipe being
 * readable) came between; what check answered is returned, positive or
 * negative. */
static void test_done_on_nth_call(void **state) {
        static const int answers[] = { 1, 7, -EIO, -ENOMEM };
        Pipe pp;

        pipe_make(&pp, true);
        for (size_t i = 0; i < ELEMENTSOF(answers); i++) {
                struct pollfd p = { .fd = pp.fd[0], .events = POLLIN };
                Check c = { .done_at = 3, .answer = answers[i] };

                assert_int_equal(poll_until(now(CLOCK_MONOTONIC) + 60 * USEC_PER_SEC, &p, 1, check, &c),
                                 answers[i]);
                assert_int_equal(c.calls, 3);
                /* No limit at all: the same. */
                c = (Check){ .done_at = 3, .answer = answers[i] };
                assert_int_equal(poll_until(USEC_INFINITY, &p, 1, check, &c), answers[i]);
                assert_int_equal(c.calls, 3);
        }
        pipe_done(&pp);
}

/* A deadline already past: check is asked once, and its answer wins
 * over the timeout. */
static void test_deadline_past(void **state) {
        Check c = { .done_at = 0 };

        assert_int_equal(poll_until(0, NULL, 0, check, &c), -ETIMEDOUT);
        assert_int_equal(c.calls, 1);
        c = (Check){ .done_at = 1, .answer = 1 };
        assert_int_equal(poll_until(now(CLOCK_MONOTONIC) - 1, NULL, 0, check, &c), 1);
        assert_int_equal(c.calls, 1);
        c = (Check){ .done_at = 1, .answer = -EPERM };
        assert_int_equal(poll_until(0, NULL, 0, check, &c), -EPERM);
        assert_int_equal(c.calls, 1);
}

/* Nothing becomes readable: the wait ends at the deadline, after check
 * was asked before and after the poll. */
static void test_timeout(void **state) {
        Pipe pp;
        struct pollfd p;
        Check c = { .done_at = 0 };

        pipe_make(&pp, false);
        p = (struct pollfd){ .fd = pp.fd[0], .events = POLLIN };
        assert_int_equal(poll_until(now(CLOCK_MONOTONIC) + 5 * USEC_PER_MSEC, &p, 1, check, &c), -ETIMEDOUT);
        assert_true(c.calls >= 2);
        pipe_done(&pp);
}

/* check reads the revents poll() left: not readable before the first
 * poll(), readable after it. */
static void test_revents(void **state) {
        Pipe pp;
        struct pollfd p;
        Check c = { .p = &p };

        pipe_make(&pp, true);
        p = (struct pollfd){ .fd = pp.fd[0], .events = POLLIN };
        assert_int_equal(poll_until(USEC_INFINITY, &p, 1, check, &c), 1);
        assert_int_equal(c.calls, 2);
        pipe_done(&pp);
}

/* poll() failing (more fds than RLIMIT_NOFILE allows: EINVAL) ends the
 * wait with its error.  The limit is lowered below a real array's
 * length, rather than a length claimed past the array: the kernel would
 * not read it, but ASan's poll() interceptor does (the asan tier). */
static void test_poll_error(void **state) {
        struct rlimit rl, one;
        struct pollfd p[2] = { { .fd = -1 }, { .fd = -1 } };
        Check c = { .done_at = 0 };
        int r;

        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
        one = (struct rlimit){ .rlim_cur = 1, .rlim_max = rl.rlim_max };
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &one), 0);
        r = poll_until(now(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC, p, ELEMENTSOF(p), check, &c);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        assert_int_equal(r, -EINVAL);
        assert_int_equal(c.calls, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_done_on_nth_call),
                cmocka_unit_test(test_deadline_past),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_revents),
                cmocka_unit_test(test_poll_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
