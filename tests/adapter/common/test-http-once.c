/* Adapter tests of common/http-once.c on a private sd-event loop against
 * a unix socket in a temporary directory, the server's side done by the
 * test itself between the exchange's start and the loop's run: what each
 * way a server ends an exchange is reported as; and the check of the
 * connection made before the request is sent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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
        unsigned checks;   /* calls of the connected check */
        char got[64];      /* what the server's end read once the exchange was done */
        ssize_t n_got;
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

/* Starts an exchange with the listener at sa (connected its check
 * unless NULL), lets serve() be the
 * server (it gets the accepted connection before the exchange sent
 * anything: it never waits for the request, there is one thread), then
 * runs the loop until the exchange is done: by its own timeout at the
 * latest, 20 s scaled (test_deadline_usec()), which a loaded machine must
 * not reach first: every server here ends the exchange at once. */
static Result exchange_checked(int (*serve)(int fd), HttpOnceConnected connected) {
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;
        char *req = strdup(REQUEST);
        sd_event *e = NULL;
        HttpOnce *h = NULL;
        Result x = {};

        assert_true(lfd >= 0);
        assert_non_null(req);
        assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(listen(lfd, 1), 0);
        assert_int_equal(sd_event_new(&e), 0);
        /* A unix socket's connect is done when it returns: the server's
         * end is there to accept before the loop runs. */
        assert_int_equal(http_once_start(e, (struct sockaddr *)&sa, sizeof sa, req, strlen(req), 4096,
                                         test_deadline_usec(20 * USEC_PER_SEC), on_done, &x, &h),
                         0);
        if (connected)
                http_once_set_connected(h, connected);
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(fd >= 0);
        fd = serve(fd);
        while (!x.done)
                assert_true(sd_event_run(e, UINT64_MAX) >= 0);
        if (fd >= 0) {
                x.n_got = recv(fd, x.got, sizeof x.got, MSG_DONTWAIT);
                close(fd);
        }
        sd_event_unref(e);
        close(lfd);
        assert_int_equal(unlink(sa.sun_path), 0);
        return x;
}

static Result exchange(int (*serve)(int fd)) {
        return exchange_checked(serve, NULL);
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

static int keep_open(int fd) {
        return fd;
}

static int refuse(int fd, void *userdata) {
        ((Result *)userdata)->checks++;
        return -EPERM;
}

static int accept_connected(int fd, void *userdata) {
        struct sockaddr_un peer;
        socklen_t len = sizeof peer;

        ((Result *)userdata)->checks++;
        /* The socket it gets is the connected one. */
        assert_int_equal(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
        return 0;
}

/* A connected check that refuses: the exchange ends with its error and
 * not a byte of the request was sent (the server's end reads EOF). */
static void test_connected_check_refuses(void **state) {
        Result x = exchange_checked(keep_open, refuse);

        assert_int_equal(x.r, -EPERM);
        assert_int_equal(x.checks, 1);
        assert_int_equal(x.n_got, 0);
}

/* Once, and the request goes on as without one. */
static void test_connected_check_passes(void **state) {
        Result x = exchange_checked(answer_whole, accept_connected);

        assert_int_equal(x.r, 0);
        assert_int_equal(x.status, 200);
        assert_int_equal(x.checks, 1);
}

/* A connect that failed is that error: the check never runs. */
static void test_refused_connection_is_not_checked(void **state) {
        char *req = strdup(REQUEST);
        sd_event *e = NULL;
        HttpOnce *h = NULL;
        Result x = {};
        struct sockaddr_in lo = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof lo;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        /* A port bound but not listening: connections to it are refused. */
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&lo, sizeof lo), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&lo, &len), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_once_start(e, (struct sockaddr *)&lo, sizeof lo, req, strlen(req), 4096,
                                         test_deadline_usec(20 * USEC_PER_SEC), on_done, &x, &h),
                         0);
        http_once_set_connected(h, refuse);
        while (!x.done)
                assert_true(sd_event_run(e, UINT64_MAX) >= 0);
        assert_int_equal(x.r, -ECONNREFUSED);
        assert_int_equal(x.checks, 0);
        sd_event_unref(e);
        close(fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_closed_before_the_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_answer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_answer_whole, setup, teardown),
                cmocka_unit_test_setup_teardown(test_answer_cut_off, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connected_check_refuses, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connected_check_passes, setup, teardown),
                cmocka_unit_test(test_refused_connection_is_not_checked),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
