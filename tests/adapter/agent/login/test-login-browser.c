/* Tests of agent/login/login.c's reaction to a browser that did not open
 * a login's authorize URL: with a cause (a spawn that failed, with EAGAIN
 * too: the browser user at its task limit) the login fails at once,
 * naming it; without one (no browser: no service, or a binary that never
 * ran) it goes on, the URL being the host's to show.  A host-driven
 * session on a private sd-event loop; the browser has no bus (a socket
 * path that does not exist), so it asks its start hook at once, which
 * answers what the test sets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/login/login.h"
#include "host-logins.h"
#include "tests/unit/test-util.h"
#include "time-util.h"
#include "vnc/browser.h"
#include "tests/adapter/vnc/browser-profile.h"

#define ID "host-login-1"

typedef struct Fixture {
        TestProfile tp;
        sd_event *event;
        Browser *browser;
        LoginManager *lm;
        int start_result;        /* what the start hook answers */
        const char *start_error; /* and why ("": it cannot say) */
} Fixture;

static int on_start(char *const *extra_argv, char *error, size_t size, void *userdata) {
        Fixture *f = userdata;

        snprintf(error, size, "%s", f->start_error);
        return f->start_result;
}

static int on_stop(void *userdata) {
        return 0;
}

/* What setup() made, freed when it fails: cmocka runs no teardown
 * then. */
static int setup_fail(Fixture *f, const char *what, int r) {
        fprintf(stderr, "%s: %s\n", what, strerror(-r));
        browser_free(f->browser);
        sd_event_unref(f->event);
        if (f->tp.dir[0])
                test_profile_drop(&f->tp);
        free(f);
        return -1;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        int r;

        if (!f)
                return -1;
        r = test_profile_make(&f->tp, "test-login-browser");
        if (r < 0)
                return setup_fail(f, "the profile", r);
        r = sd_event_new(&f->event);
        if (r < 0)
                return setup_fail(f, "sd_event_new", r);
        BrowserOptions bo = { .event = f->event, .firefox = "firefox-esr", .profile = f->tp.profile,
                              .bus_socket = f->tp.bus, .uid = getuid(), .gid = getgid() };
        BrowserHooks h = { .start = on_start, .stop = on_stop, .userdata = f };
        r = browser_new(&bo, &h, &f->browser);
        if (r < 0)
                return setup_fail(f, "browser_new", r);
        LoginOptions o = host_login_options(f->event, f->browser);
        r = login_manager_new(&o, &f->lm);
        if (r < 0)
                return setup_fail(f, "login_manager_new", r);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        login_manager_free(f->lm);
        browser_free(f->browser);
        sd_event_unref(f->event);
        test_profile_remove(&f->tp);
        free(f);
        return 0;
}

/* A host-driven login whose authorize URL went to the browser, once the
 * browser said how that went (from the loop); by a deadline (20 s,
 * scaled: test_deadline_usec()) that turns a hang into a named failure. */
static LoginSession *opened(Fixture *f) {
        TestWait w = test_wait_start(20 * USEC_PER_SEC);
        LoginSession *s;

        assert_int_equal(login_session_new(f->lm, ID, "oauth", &s), 0);
        s->oauth_url = strdup("https://provider.test/authorize?state=s1");
        assert_non_null(s->oauth_url);
        login_session_open_url(s);
        assert_int_equal(login_session_event(s, SESSION_EVENT_URL), SESSION_URL_READY);
        assert_non_null(s->browser_op);
        while (s->browser_op) {
                if (test_wait_left(&w) == 0)
                        fail_msg("timed out after %llu s waiting for the browser's answer", w.s);
                assert_true(sd_event_run(f->event, USEC_PER_SEC) >= 0);
        }
        return s;
}

/* Its spawn failed with EAGAIN (its execve refused: the browser user at
 * its RLIMIT_NPROC): a failure with a cause, as EACCES is, not "no
 * browser" for being -EAGAIN. */
static void test_spawn_failed_with_eagain(void **state) {
        Fixture *f = *state;
        LoginSession *s;

        f->start_result = -EAGAIN;
        f->start_error = "spawn: Resource temporarily unavailable";
        s = opened(f);
        assert_int_equal(s->state, SESSION_FAILED);
        assert_string_equal(s->error, "The browser could not open the authorize URL: "
                                      "The browser did not start: spawn: Resource temporarily unavailable");
}

static void test_spawn_failed(void **state) {
        Fixture *f = *state;
        LoginSession *s;

        f->start_result = -EACCES;
        f->start_error = "spawn: Permission denied";
        s = opened(f);
        assert_int_equal(s->state, SESSION_FAILED);
        assert_string_equal(s->error, "The browser could not open the authorize URL: "
                                      "The browser did not start: spawn: Permission denied");
}

/* No browser service (or its binary never ran): the login goes on. */
static void test_no_browser(void **state) {
        Fixture *f = *state;
        LoginSession *s;

        f->start_result = -ENOENT;
        f->start_error = "";
        s = opened(f);
        assert_int_equal(s->state, SESSION_URL_READY);
        assert_null(s->error);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_spawn_failed_with_eagain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_spawn_failed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_browser, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
