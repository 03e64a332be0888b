/* Adapter tests of common/http-once.c on a private sd-event loop against
 * a unix socket in a temporary directory, the server's side done by the
 * test itself between the exchange's start and the loop's run: what each
 * way a server ends an exchange is reported as. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "http-once.h"
#include "tests/unit/test-util.h"

#define REQUEST "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"

typedef struct Result {
        bool done;
        int r;
        unsigned status;
} Result;

static char dir[64];
static struct sockaddr_un sa = { .sun_family = AF_UNIX };

static int setup(void **state) {
        snprintf(dir, sizeof dir, "/tmp/test-http-once-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s", dir);
        return 0;
}

static int teardown(void **state) {
        (void)unlink(sa.sun_path);
        assert_int_equal(rmdir(dir), 0);
        return 0;
}

static void on_done(int r, const HttpAnswer *a, void *userdata) {
        Result *x = userdata;

        x->done = true;
        x->r = r;
        x->status = r >= 0 ? a->status : 0;
}

/* Starts an exchange with the listener at sa, lets serve() be the
 * server (it gets the accepted connection before the exchange sent
 * anything: it never waits for the request, there is one thread), then
 * runs the loop until the exchange is done: by its own timeout at the
 * latest, 20 s scaled (test_deadline_usec()), which a loaded machine must
 * not reach first: every server here ends the exchange at once. */
static Result exchange(int (*serve)(int fd)) {
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;
        char *req = strdup(REQUEST);
        sd_event *e = NULL;
        Result x = {};

        assert_true(lfd >= 0);
        assert_non_null(req);
        assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(listen(lfd, 1), 0);
        assert_int_equal(sd_event_new(&e), 0);
        /* A unix socket's connect is done when it returns: the server's
         * end is there to accept before the loop runs. */
        assert_int_equal(http_once_start(e, (struct sockaddr *)&sa, sizeof sa, req, strlen(req), 4096,
                                         test_deadline_usec(20 * USEC_PER_SEC), on_done, &x, NULL),
                         0);
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(fd >= 0);
        fd = serve(fd);
        while (!x.done)
                assert_true(sd_event_run(e, UINT64_MAX) >= 0);
        if (fd >= 0)
                close(fd);
        sd_event_unref(e);
        close(lfd);
        assert_int_equal(unlink(sa.sun_path), 0);
        return x;
}

/* Each returns the fd to close once the exchange is done, or -EBADF. */
static int close_at_once(int fd) {
        close(fd);
        return -EBADF;
}

/* Sent before the request came (it is taken and never read): the end of
 * the answer is the end of what the server writes. */
static int answer_then_end(int fd, const char *answer) {
        assert_int_equal(write(fd, answer, strlen(answer)), (ssize_t)strlen(answer));
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        return fd;
}

/* The request is taken (never read) and the connection ended with no
 * answer at all. */
static int end_without_answer(int fd) {
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        return fd;
}

static int answer_whole(int fd) {
        return answer_then_end(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

static int answer_cut_off(int fd) {
        return answer_then_end(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok");
}

/* The server closed before the request was sent: the send's EPIPE is
 * said as such (it was -EPIPE, which says an answer was cut off, when
 * none had come). */
static void test_closed_before_the_request(void **state) {
        Result x = exchange(close_at_once);

        assert_int_equal(x.r, -ESHUTDOWN);
}

/* Nothing came: said as such, not as an answer that is no HTTP
 * (-EBADMSG, "Bad message"). */
static void test_no_answer(void **state) {
        Result x = exchange(end_without_answer);

        assert_int_equal(x.r, -ENODATA);
}

static void test_answer_whole(void **state) {
        Result x = exchange(answer_whole);

        assert_int_equal(x.r, 0);
        assert_int_equal(x.status, 200);
}

static void test_answer_cut_off(void **state) {
        Result x = exchange(answer_cut_off);

        assert_int_equal(x.r, -EPIPE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_closed_before_the_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_answer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_answer_whole, setup, teardown),
                cmocka_unit_test_setup_teardown(test_answer_cut_off, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
