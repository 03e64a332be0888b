/* Tests of agent/supervise/probe.c on a real sd-event loop with loopback sockets
 * and pipes made here: banner, wrong banner, refused-then-listening, a
 * kick attempting at once, the sparse fallback, HTTP
 * status lines and the exact request sent, -displayfd.  Each loop runs
 * until the probe passes or has failed as the case expects; a deadline
 * only keeps a broken probe from hanging the test, and no assertion is
 * about how long anything took. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "macro.h"
#include "tests/adapter/test-dir.h"
#include "tests/unit/test-util.h"
#include "time-util.h"
#include "agent/supervise/probe.h"

typedef struct Server {
        int listen_fd;
        const char *reply;   /* written after accept (banner) or after the request (HTTP) */
        bool read_first;     /* HTTP: read the request before replying */
        char request[512];
        sd_event_source *src;
} Server;

typedef struct Ctx {
        sd_event *e;
        bool passed;
} Ctx;

static void reply_and_close(Server *srv, int c) {
        assert_int_equal(write(c, srv->reply, strlen(srv->reply)), (ssize_t)strlen(srv->reply));
        close(c);
}

/* HTTP: the request arrives later on the same loop (the probe sends it
 * once connected), in one write. */
static int on_request(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Server *srv = userdata;
        ssize_t n = read(fd, srv->request, sizeof srv->request - 1);

        srv->request[n > 0 ? n : 0] = '\0';
        sd_event_source_disable_unref(s);
        reply_and_close(srv, fd);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Server *srv = userdata;
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

        if (c < 0)
                return 0;
        if (srv->read_first)
                assert_int_equal(sd_event_add_io(sd_event_source_get_event(s), NULL, c, EPOLLIN,
                                                 on_request, srv), 0);
        else
                reply_and_close(srv, c);
        return 0;
}

/* A loopback port of the server's own, bound but not listening: a connect
 * is refused, and no one else can take the port meanwhile. */
static uint16_t server_bind(Server *srv) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;

        srv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(srv->listen_fd >= 0);
        assert_int_equal(bind(srv->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(getsockname(srv->listen_fd, (struct sockaddr *)&a, &l), 0);
        return ntohs(a.sin_port);
}

static void server_listen(sd_event *e, Server *srv) {
        assert_int_equal(listen(srv->listen_fd, 8), 0);
        assert_int_equal(sd_event_add_io(e, &srv->src, srv->listen_fd, EPOLLIN, on_accept, srv), 0);
}

static uint16_t server_start(sd_event *e, Server *srv) {
        uint16_t port = server_bind(srv);

        server_listen(e, srv);
        return port;
}

static void server_stop(Server *srv) {
        sd_event_source_disable_unref(srv->src);
        close(srv->listen_fd);
}

static void on_ready(Probe *p, void *userdata) {
        Ctx *c = userdata;

        c->passed = true;
}

/* The bound on each wait for a probe, before it is scaled
 * (test_deadline_usec()): 60 s at the default scale.  It only turns a
 * hang into a failure naming the wait: not a timing expectation. */
#define WAIT_USEC (20 * USEC_PER_SEC)

/* One turn of the loop, ending by the deadline at the latest: false once
 * the deadline has passed (nothing run then). */
static bool wait_turn(Ctx *c, const TestWait *w) {
        usec_t left = test_wait_left(w);

        if (left == 0)
                return false;
        assert_true(sd_event_run(c->e, left) >= 0);
        return true;
}

/* Runs the loop until pred(p, arg) holds.  A probe that never gets there
 * fails the test, naming what it waited for, at the deadline: without one
 * a loop whose sources are all off would sleep to the suite's timeout. */
static void run_until(Ctx *c, Probe *p, bool (*pred)(Probe *p, usec_t arg), usec_t arg, const char *what) {
        TestWait w = test_wait_start(WAIT_USEC);

        while (!pred(p, arg))
                if (!wait_turn(c, &w))
                        fail_msg("timed out after %llu s waiting for %s (%u attempts, retry armed %llu us, "
                                 "last error '%s')", w.s, what, probe_attempts(p),
                                 (unsigned long long)probe_retry_armed(p), probe_last_error(p));
}

/* Runs the loop until the probe passes. */
static void run(Ctx *c) {
        TestWait w = test_wait_start(WAIT_USEC);

        while (!c->passed)
                if (!wait_turn(c, &w))
                        fail_msg("timed out after %llu s waiting for the probe to pass", w.s);
}

/* Runs the loop until p made `attempts` attempts and has an error (and,
 * when more than one was asked for, a retry armed: it keeps trying). */
static void run_failing(Ctx *c, Probe *p, unsigned attempts) {
        TestWait w = test_wait_start(WAIT_USEC);

        while (probe_attempts(p) < attempts || !*probe_last_error(p) ||
               (attempts > 1 && probe_retry_armed(p) == 0)) {
                assert_false(c->passed);
                if (!wait_turn(c, &w))
                        fail_msg("timed out after %llu s waiting for %u failed attempts (%u made, retry armed "
                                 "%llu us, last error '%s')", w.s, attempts, probe_attempts(p),
                                 (unsigned long long)probe_retry_armed(p), probe_last_error(p));
        }
}

static Ctx *ctx_new(void) {
        static Ctx c;

        c = (Ctx){};
        assert_int_equal(sd_event_new(&c.e), 0);
        return &c;
}

static void ctx_done(Ctx *c) {
        c->e = sd_event_unref(c->e);
}

static void test_banner(void **state) {
        Ctx *c = ctx_new();
        Server srv = { .reply = "RFB 003.008\n" };
        ProbeSpec spec = { .type = PROBE_TCP_BANNER, .expect = (char *)"RFB " };
        Probe *p = NULL;

        spec.port = server_start(c->e, &srv);
        assert_int_equal(probe_start(c->e, &spec, -1, on_ready, c, &p), 0);
        run(c);
        assert_true(c->passed);
        assert_int_equal(probe_attempts(p), 1);
        assert_string_equal(probe_last_error(p), "");
        probe_free(p);
        server_stop(&srv);
        ctx_done(c);
}

static void test_wrong_banner(void **state) {
        Ctx *c = ctx_new();
        Server srv = { .reply = "SSH-2.0-x\r\n" };
        ProbeSpec spec = { .type = PROBE_TCP_BANNER, .expect = (char *)"RFB " };
        Probe *p = NULL;

        spec.port = server_start(c->e, &srv);
        assert_int_equal(probe_start(c->e, &spec, -1, on_ready, c, &p), 0);
        run_failing(c, p, 2); /* it keeps trying */
        assert_false(c->passed);
        assert_string_equal(probe_last_error(p), "unexpected answer 'SSH-2.0-x'");
        probe_free(p);
        server_stop(&srv);
        ctx_done(c);
}

typedef struct Later {
        Server *srv;
} Later;

static int on_listen_later(sd_event_source *s, uint64_t usec, void *userdata) {
        Later *l = userdata;

        server_listen(sd_event_source_get_event(s), l->srv);
        return 0;
}

static void test_refused_then_listening(void **state) {
        Ctx *c = ctx_new();
        Server srv = { .reply = "RFB 003.008\n" };
        ProbeSpec spec = { .type = PROBE_TCP_BANNER, .expect = (char *)"RFB " };
        sd_event_source *later = NULL;
        Probe *p = NULL;

        /* The server's port, bound: nothing listens on it until later. */
        Later l = { .srv = &srv };

        spec.port = server_bind(&srv);
        assert_int_equal(probe_start(c->e, &spec, -1, on_ready, c, &p), 0);
        assert_int_equal(sd_event_add_time_relative(c->e, &later, CLOCK_MONOTONIC, 30 * USEC_PER_MSEC, 0,
                                                    on_listen_later, &l), 0);
        run(c);
        assert_true(c->passed);
        assert_true(probe_attempts(p) >= 2);
        assert_string_equal(probe_last_error(p), "Connection refused");
        probe_free(p);
        sd_event_source_disable_unref(later);
        server_stop(&srv);
        ctx_done(c);
}

/* The server listens and says so (the supervisor kicks on each line the
 * child prints): the kick attempts there and then, without waiting for the
 * fallback timer.  An attempt under way (begun before the listen: on a
 * loaded machine its refusal may not have been read yet) takes no kick, by
 * design; then the kick is tried again 1 ms later, before the fallback's
 * next attempt (4 ms or more after that refusal). */
typedef struct Kick {
        Server *srv;
        Probe *p;
        bool listening;
        unsigned before, after;
} Kick;

static int on_listen_and_kick(sd_event_source *s, uint64_t usec, void *userdata) {
        Kick *k = userdata;

        if (!k->listening)
                server_listen(sd_event_source_get_event(s), k->srv);
        k->listening = true;
        k->before = probe_attempts(k->p);
        probe_kick(k->p);
        k->after = probe_attempts(k->p);
        if (k->after == k->before) {
                assert_int_equal(sd_event_source_set_time_relative(s, USEC_PER_MSEC), 0);
                assert_int_equal(sd_event_source_set_enabled(s, SD_EVENT_ONESHOT), 0);
        }
        return 0;
}

static void test_kick_attempts_at_once(void **state) {
        Ctx *c = ctx_new();
        Server srv = { .reply = "RFB 003.008\n" };
        ProbeSpec spec = { .type = PROBE_TCP_BANNER, .expect = (char *)"RFB " };
        sd_event_source *later = NULL;
        Kick k = { .srv = &srv };

        spec.port = server_bind(&srv);
        assert_int_equal(probe_start(c->e, &spec, -1, on_ready, c, &k.p), 0);
        assert_int_equal(sd_event_add_time_relative(c->e, &later, CLOCK_MONOTONIC, 30 * USEC_PER_MSEC, 0,
                                                    on_listen_and_kick, &k), 0);
        run(c);
        assert_true(c->passed);
        assert_true(k.before >= 1);
        assert_int_equal(k.after, k.before + 1);
        assert_int_equal(probe_attempts(k.p), k.after); /* the kicked attempt passed */
        probe_free(k.p);
        sd_event_source_disable_unref(later);
        server_stop(&srv);
        ctx_done(c);
}

/* n attempts made, and a retry armed after the last one. */
static bool attempted_and_armed(Probe *p, usec_t n) {
        return probe_attempts(p) >= n && probe_retry_armed(p) != 0;
}

static bool armed_for(Probe *p, usec_t usec) {
        return probe_retry_armed(p) == usec;
}

/* Nothing listens and nothing kicks: the fallback retries, but sparsely:
 * each refused attempt arms 4 ms, 16, 64, 256 ms, then 1 s (the old 2 ms
 * doubling to 25 ms made about 25 attempts in the first 600 ms).  Checked
 * on the delays armed, not on a clock. */
static void test_fallback_is_sparse(void **state) {
        static const usec_t expect_ms[] = { 4, 16, 64, 256, 1000, 1000 };
        Ctx *c = ctx_new();
        Server tmp = { .reply = "" };
        ProbeSpec spec = { .type = PROBE_TCP_BANNER, .expect = (char *)"RFB " };
        Probe *p = NULL;

        spec.port = server_bind(&tmp); /* never listening */
        assert_int_equal(probe_start(c->e, &spec, -1, on_ready, c, &p), 0);
        for (unsigned k = 0; k < ELEMENTSOF(expect_ms); k++) {
                run_until(c, p, attempted_and_armed, k + 1, "an attempt refused and its retry armed");
                assert_int_equal(probe_retry_armed(p), expect_ms[k] * USEC_PER_MSEC);
                assert_int_equal(probe_attempts(p), k + 1);
        }
        assert_false(c->passed);
        assert_string_equal(probe_last_error(p), "Connection refused");
        probe_free(p);
        server_stop(&tmp);
        ctx_done(c);
}

/* A unix socket's creation is an event: with the fallback at 1 s, the
 * bind() alone has an attempt made (refused: not listening yet), which
 * re-arms the fallback at its shortest.  A timer attempt would leave it
 * at 1 s, so the loop runs until the kick's 4 ms shows.  Then it listens
 * and the probe passes on the banner. */
static void test_unix_banner_kicked_by_creation(void **state) {
        Ctx *c = ctx_new();
        Server srv = { .reply = "RFB 003.008\n" };
        const char *dir = *state;
        char path[64];
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        ProbeSpec spec = { .type = PROBE_UNIX_BANNER, .expect = (char *)"RFB ", .path = path };
        Probe *p = NULL;

        snprintf(path, sizeof path, "%s/rfb.sock", dir);
        assert_int_equal(probe_start(c->e, &spec, -1, on_ready, c, &p), 0);
        run_until(c, p, armed_for, 1000 * USEC_PER_MSEC, "the fallback at 1 s");
        assert_string_equal(probe_last_error(p), "No such file or directory");

        srv.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        memcpy(a.sun_path, path, sizeof path);
        assert_int_equal(bind(srv.listen_fd, (struct sockaddr *)&a, sizeof a), 0);
        run_until(c, p, armed_for, 4 * USEC_PER_MSEC, "the creation's kick refused, its 4 ms retry armed");
        assert_string_equal(probe_last_error(p), "Connection refused");

        server_listen(c->e, &srv);
        run(c);
        assert_true(c->passed);
        probe_free(p);
        server_stop(&srv);
        assert_int_equal(unlink(path), 0);
        ctx_done(c);
}

static void http_case(const char *reply, bool expect_pass, const char *expect_error) {
        Ctx *c = ctx_new();
        Server srv = { .reply = reply, .read_first = true };
        ProbeSpec spec = { .type = PROBE_HTTP, .path = (char *)"/vnc.html" };
        Probe *p = NULL;

        spec.port = server_start(c->e, &srv);
        assert_int_equal(probe_start(c->e, &spec, -1, on_ready, c, &p), 0);
        if (expect_pass)
                run(c);
        else
                run_failing(c, p, 1);
        assert_int_equal(c->passed, expect_pass);
        assert_string_equal(srv.request,
                            "GET /vnc.html HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        assert_string_equal(probe_last_error(p), expect_error);
        probe_free(p);
        server_stop(&srv);
        ctx_done(c);
}

static void test_http(void **state) {
        http_case("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, "");
        http_case("HTTP/1.0 404 Not Found\r\n\r\n", true, "");          /* it answers: up */
        http_case("HTTP/1.0 503 Service Unavailable\r\n\r\n", false,
                  "unexpected answer 'HTTP/1.0 503 Service Unavailable'");
        http_case("SSH-2.0-x\r\n", false, "unexpected answer 'SSH-2.0-x'");
        http_case("HTTP/1.0", false, "closed before answering");
}

static void displayfd_case(const char *written, bool expect_pass, const char *expect_error) {
        Ctx *c = ctx_new();
        ProbeSpec spec = { .type = PROBE_DISPLAYFD };
        Probe *p = NULL;
        int fds[2];

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        assert_int_equal(probe_start(c->e, &spec, fds[0], on_ready, c, &p), 0);
        assert_int_equal(write(fds[1], written, strlen(written)), (ssize_t)strlen(written));
        close(fds[1]);
        if (expect_pass)
                run(c);
        else
                run_failing(c, p, 0); /* a pipe: no connection attempts */
        assert_int_equal(c->passed, expect_pass);
        assert_string_equal(probe_last_error(p), expect_error);
        probe_free(p);
        ctx_done(c);
}

static void test_displayfd(void **state) {
        displayfd_case("71\n", true, "");
        displayfd_case("x\n", false, "unexpected answer 'x'");
        displayfd_case("", false, "closed before answering"); /* the server died first */
        displayfd_case("7", false, "closed before answering");
}

static void test_none_and_bad_host(void **state) {
        Ctx *c = ctx_new();
        ProbeSpec none = { .type = PROBE_NONE };
        ProbeSpec bad = { .type = PROBE_HTTP, .host = (char *)"localhost.example", .port = 1 };
        Probe *p = NULL;

        assert_int_equal(probe_start(c->e, &none, -1, on_ready, c, &p), 0);
        run(c);
        assert_true(c->passed);
        p = probe_free(p);
        ctx_done(c);
        c = ctx_new();
        assert_int_equal(probe_start(c->e, &bad, -1, on_ready, c, &p), -EINVAL);
        assert_null(p);
        assert_null(probe_free(NULL));
        probe_kick(NULL);
        ctx_done(c);
}

static void put(const char *dir, const char *name, const char *text) {
        char path[PATH_MAX];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* One dispatch: the probe looks at what the last change made. */
static void step(Ctx *c) {
        TestWait w = test_wait_start(WAIT_USEC);

        if (sd_event_run(c->e, test_wait_left(&w)) <= 0)
                fail_msg("nothing dispatched within %llu s of a change to the probe's file", w.s);
}

/* A file probe with something other than a regular file at its path: it
 * does not pass, and its error names the file. */
static void file_probe_refuses(const ProbeSpec *spec) {
        Ctx *c = ctx_new();
        Probe *p = NULL;

        assert_int_equal(probe_start(c->e, spec, -1, on_ready, c, &p), 0);
        step(c);
        assert_false(c->passed);
        assert_non_null(strstr(probe_last_error(p), "sessionCheckpoints.json: "));
        probe_free(p);
        ctx_done(c);
}

/* Firefox's sessionCheckpoints.json: absent, then written in place
 * without the milestone, another file changing, and finally a rename of a
 * file with it. */
static void test_file(void **state) {
        const char *dir = *state;
        char path[PATH_MAX], tmp[PATH_MAX], secret[PATH_MAX];
        Ctx *c = ctx_new();
        ProbeSpec spec = { .type = PROBE_FILE, .path = path,
                           .expect = (char *)"\"sessionstore-windows-restored\":true" };
        Probe *p = NULL;

        snprintf(path, sizeof path, "%s/sessionCheckpoints.json", dir);
        snprintf(tmp, sizeof tmp, "%s/new.tmp", dir);
        snprintf(secret, sizeof secret, "%s/secret", dir);
        assert_int_equal(probe_start(c->e, &spec, -1, on_ready, c, &p), 0);
        step(c);
        assert_false(c->passed);
        assert_non_null(strstr(probe_last_error(p), "does not say"));

        put(dir, "sessionCheckpoints.json", "{\"profile-after-change\":true,\"final-ui-startup\":true}");
        step(c);
        assert_false(c->passed);

        /* Another name says it: not this file. */
        put(dir, "secret", "{\"sessionstore-windows-restored\":true}");
        step(c);
        assert_false(c->passed);

        put(dir, "new.tmp", "{\"profile-after-change\":true,\"sessionstore-windows-restored\":true}");
        assert_false(c->passed);
        assert_int_equal(rename(tmp, path), 0);
        run(c);
        assert_true(c->passed);
        probe_free(p);
        ctx_done(c);

        /* Written before the probe started: seen at once. */
        c = ctx_new();
        assert_int_equal(probe_start(c->e, &spec, -1, on_ready, c, &p), 0);
        run(c);
        assert_true(c->passed);
        probe_free(p);
        ctx_done(c);

        /* A symlink in its place, to a file that says it: not followed. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(symlink(secret, path), 0);
        file_probe_refuses(&spec);

        /* A FIFO in its place: not opened for a blocking read. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkfifo(path, 0600), 0);
        file_probe_refuses(&spec);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(unlink(secret), 0);
}

/* The tests that put a socket or files in a directory of their own. */
static int setup_dir(void **state) {
        return test_dir_setup(state, "/tmp/test-probe-XXXXXX");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_banner),
                cmocka_unit_test(test_wrong_banner),
                cmocka_unit_test(test_refused_then_listening),
                cmocka_unit_test(test_kick_attempts_at_once),
                cmocka_unit_test(test_fallback_is_sparse),
                cmocka_unit_test_setup_teardown(test_unix_banner_kicked_by_creation, setup_dir, test_dir_teardown),
                cmocka_unit_test(test_http),
                cmocka_unit_test(test_displayfd),
                cmocka_unit_test(test_none_and_bad_host),
                cmocka_unit_test_setup_teardown(test_file, setup_dir, test_dir_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
