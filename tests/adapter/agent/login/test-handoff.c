/* Tests of agent/login/handoff-vsock.c: every pushed line carries the
 * control token of when it is sent, without one nothing is sent, and an
 * ACK already in the socket when the wait for it runs out is taken.
 * A host-driven session on a private sd-event loop and the unix socket
 * stand-in for the host (never AF_VSOCK); the stand-in's receiver must be
 * root's (SO_PEERCRED), so these tests need root and skip without it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/login/handoff-vsock.h"
#include "agent/login/login.h"
#include "macro.h"
#include "tests/unit/test-util.h"
#include "time-util.h"

#define ID "host-login-1"

/* The bound on each wait for the agent, before it is scaled
 * (test_deadline_usec()): 60 s at the default scale, well over the
 * agent's retries here (its first backoffs, and the ACK wait of 2 s).  It
 * only turns a hang into a failure naming the wait: not a timing
 * expectation. */
#define WAIT_USEC (20 * USEC_PER_SEC)

typedef struct Fixture {
        sd_event *event;
        LoginManager *lm;
        Handoff *handoff;
        char dir[64], path[96];
        int listener;
        const char *token; /* what the token hook answers now */
        unsigned n_asked;  /* how often the token hook was asked */
} Fixture;

static const char *token_now(void *userdata) {
        Fixture *f = userdata;

        f->n_asked++;
        return f->token;
}

/* f and what it holds freed, its directory removed: by the teardown,
 * and by a setup failing midway (cmocka runs no teardown then). */
static void fixture_free(Fixture *f) {
        login_manager_free(f->lm);
        handoff_free(f->handoff);
        safe_close(f->listener);
        if (f->dir[0]) {
                unlink(f->path);
                rmdir(f->dir);
        }
        sd_event_unref(f->event);
        free(f);
}

static int setup_fail(Fixture *f, const char *what, int r) {
        fprintf(stderr, "%s: %s\n", what, strerror(-r));
        fixture_free(f);
        return -1;
}

/* The receiver's socket in a directory of its own, listening. */
static int listener_make(Fixture *f) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        snprintf(f->dir, sizeof f->dir, "/tmp/test-handoff-XXXXXX");
        if (!mkdtemp(f->dir)) {
                f->dir[0] = '\0';
                return -errno;
        }
        snprintf(f->path, sizeof f->path, "%s/h.sock", f->dir);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
        f->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (f->listener < 0 || bind(f->listener, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(f->listener, 16) < 0)
                return -errno;
        return 0;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        int r;

        if (!f)
                return -1;
        f->listener = -EBADF;
        if (geteuid() != 0) {
                free(f);
                skip(); /* only a receiver of root's is sent anything */
        }
        r = sd_event_new(&f->event);
        if (r < 0)
                return setup_fail(f, "sd_event_new", r);
        LoginOptions o = {
                .event = f->event,
                .providers_file = "/nonexistent/providers.json",
                .login_home = "", .environment_file = "", .control_socket = "", .runtime_dir = "",
                .session_ttl_s = 900,
        };
        r = login_manager_new(&o, &f->lm);
        if (r < 0)
                return setup_fail(f, "login_manager_new", r);
        r = listener_make(f);
        if (r < 0)
                return setup_fail(f, "the receiver's socket", r);
        HandoffOptions ho = { .event = f->event, .cid = 2, .port = 1234, .unix_path = f->path,
                              .token = token_now, .userdata = f };
        r = handoff_new(&ho, f->lm, &f->handoff);
        if (r < 0)
                return setup_fail(f, "handoff_new", r);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        if (*state)
                fixture_free(*state);
        return 0;
}

static LoginSession *authenticated(LoginManager *lm) {
        LoginSession *s;

        assert_int_equal(login_session_new(lm, ID, "oauth", &s), 0);
        assert_int_equal(login_session_event(s, SESSION_EVENT_URL), SESSION_URL_READY);
        login_session_captured(s, json_pack("{ss}", "code", "SECRET-CODE"), "/oauth/callback", 0);
        assert_int_equal(s->state, SESSION_AUTHENTICATED);
        return s;
}

/* One turn of the loop in a wait for what: at most 100 ms (the caller
 * looks at a socket the loop does not watch), and never past the wait's
 * deadline, where the test fails naming what it waited for. */
static void turn(Fixture *f, const TestWait *w, const char *what) {
        uint64_t left = test_wait_left(w);

        if (left == 0)
                fail_msg("timed out after %llu s waiting for %s", w->s, what);
        assert_true(sd_event_run(f->event, MIN(left, 100 * USEC_PER_MSEC)) >= 0);
}

/* Runs the loop until the agent's next connection is there; returns it. */
static int next_connection(Fixture *f) {
        TestWait w = test_wait_start(WAIT_USEC);

        for (;;) {
                int c = accept4(f->listener, NULL, NULL, SOCK_CLOEXEC);
                if (c >= 0)
                        return c;
                assert_int_equal(errno, EAGAIN);
                turn(f, &w, "the agent's connection");
        }
}

/* One line from c, run on the loop while the agent writes it; parsed. */
static json_t *next_line(Fixture *f, int c) {
        TestWait w = test_wait_start(WAIT_USEC);
        char buf[4096];
        size_t n = 0;

        while (n == 0 || buf[n - 1] != '\n') {
                ssize_t k = recv(c, buf + n, sizeof buf - 1 - n, MSG_DONTWAIT);
                if (k < 0 && errno == EAGAIN) {
                        char what[64];

                        snprintf(what, sizeof what, "a line from the agent (%zu bytes so far)", n);
                        turn(f, &w, what);
                        continue;
                }
                assert_true(k > 0);
                n += (size_t)k;
                assert_true(n < sizeof buf - 1);
        }
        buf[n] = '\0';
        json_t *j = json_loads(buf, 0, NULL);
        assert_non_null(j);
        return j;
}

/* No token: the push's attempt (the token asked for) makes no connection;
 * with one, the line carries it. */
static void test_no_token_nothing_sent(void **state) {
        Fixture *f = *state;

        authenticated(f->lm);
        TestWait w = test_wait_start(WAIT_USEC);
        while (f->n_asked == 0)
                turn(f, &w, "the push's attempt (the token hook asked)");
        assert_int_equal(accept4(f->listener, NULL, NULL, SOCK_CLOEXEC), -1);
        assert_int_equal(errno, EAGAIN);

        f->token = "token-1";
        int c = next_connection(f);
        json_t *j = next_line(f, c);
        assert_string_equal(json_string_value(json_object_get(j, "token")), "token-1");
        json_decref(j);
        close(c);
}

/* The token changes while a delivery waits for its ACK (a restore
 * replaces it): the line sent on the next connection carries the new
 * one, not the one it was first sent with. */
static void test_token_of_when_sent(void **state) {
        Fixture *f = *state;

        f->token = "token-1";
        authenticated(f->lm);
        int c = next_connection(f);
        json_t *j = next_line(f, c);
        assert_string_equal(json_string_value(json_object_get(j, "token")), "token-1");
        json_decref(j);
        close(c); /* no ACK: the agent connects again */

        f->token = "token-2";
        c = next_connection(f);
        j = next_line(f, c);
        assert_string_equal(json_string_value(json_object_get(j, "token")), "token-2");
        assert_string_equal(json_string_value(json_object_get(j, "sessionId")), ID);
        json_decref(j);
        close(c);
}

/* A login authenticated with the token known: the connection its
 * delivery came on, and the ACK line for it in ack. */
static int first_delivery(Fixture *f, char *ack, size_t size) {
        int c;
        json_t *j;

        f->token = "token-1";
        authenticated(f->lm);
        c = next_connection(f);
        j = next_line(f, c);
        snprintf(ack, size, "ACK %s\n", json_string_value(json_object_get(j, "deliveryId")));
        json_decref(j);
        return c;
}

/* Runs what is due now, then waits until the next source (the ACK wait's
 * end, nothing else being left) is due, without dispatching it: the
 * caller puts bytes in the socket first. */
static void wait_until_ack_wait_due(Fixture *f) {
        int r;

        while (sd_event_run(f->event, 0) > 0)
                ;
        do {
                r = sd_event_prepare(f->event);
                if (r == 0)
                        r = sd_event_wait(f->event, UINT64_MAX);
                assert_true(r >= 0);
        } while (r == 0);
}

/* The wait for the ACK runs out with the ACK in the socket unread (the
 * loop runs the timer before it reads the socket: here the ACK is sent
 * once the loop found the timer due and before it dispatches it).  The
 * agent reads it before it gives up on the connection: the delivery is
 * done, not resent. */
static void test_ack_waiting_when_the_wait_runs_out(void **state) {
        Fixture *f = *state;
        char ack[64];

        int c = first_delivery(f, ack, sizeof ack);
        wait_until_ack_wait_due(f);
        assert_int_equal(send(c, ack, strlen(ack), MSG_NOSIGNAL), (ssize_t)strlen(ack));
        assert_true(sd_event_dispatch(f->event) >= 0);

        assert_int_equal(handoff_queued(f->handoff), 0);
        assert_null(login_session_find(f->lm, ID));
        while (sd_event_run(f->event, 0) > 0)
                ;
        assert_int_equal(accept4(f->listener, NULL, NULL, SOCK_CLOEXEC), -1);
        assert_int_equal(errno, EAGAIN);
        close(c);
}

/* The wait for the ACK runs out with a stream of other lines in the
 * socket before it: the agent reads a bounded amount (a peer streaming
 * lines must not hold the loop), gives up on the connection, and the
 * delivery is sent again on a new one. */
static void test_reads_at_the_wait_end_bounded(void **state) {
        Fixture *f = *state;
        char junk[64 * 1024], ack[64];

        int c = first_delivery(f, ack, sizeof ack);
        wait_until_ack_wait_due(f);
        for (size_t i = 0; i < sizeof junk; i += 2)
                memcpy(junk + i, "x\n", 2);
        assert_int_equal(send(c, junk, sizeof junk, MSG_NOSIGNAL), (ssize_t)sizeof junk);
        assert_int_equal(send(c, ack, strlen(ack), MSG_NOSIGNAL), (ssize_t)strlen(ack));
        assert_true(sd_event_dispatch(f->event) >= 0);

        assert_int_equal(handoff_queued(f->handoff), 1);
        close(c);
        c = next_connection(f); /* sent again */
        json_t *j = next_line(f, c);
        assert_non_null(json_object_get(j, "deliveryId"));
        json_decref(j);
        close(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_no_token_nothing_sent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_of_when_sent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ack_waiting_when_the_wait_runs_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reads_at_the_wait_end_bounded, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
