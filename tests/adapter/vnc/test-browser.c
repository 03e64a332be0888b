/* Adapter tests for vnc/browser.c's pages: what browser_set_pages()
 * accepts and hands to its hook, and what a start for a URL appends (its
 * own URL, then the other pages); which hook browser_close() uses; a URL
 * deferred to a later spawn, answered once it came, failed or never
 * came.  No bus is there (a socket path that does not exist), so an open
 * starts the service through the hook at once; the hooks record instead
 * of starting anything. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "macro.h"
#include "strv.h"
#include "tests/unit/test-util.h"
#include "time-util.h"
#include "vnc/browser.h"
#include "browser-profile.h"

typedef struct Seen {
        char **started;   /* the last start's extra argv */
        char **restart;   /* the last restart argv set */
        unsigned starts, sets, stops, restarts, shown;
        int start_result; /* what the start hook answers */
        const char *start_error; /* why, for an error it answers; NULL: it cannot say */
        const char *waits_for; /* what the waits_for hook says; NULL: nothing */
} Seen;

static void record(char ***to, unsigned *count, char *const *argv) {
        strv_free(*to);
        *to = strv_concat(argv, NULL);
        (*count)++;
}

static int on_start(char *const *extra_argv, char *error, size_t size, void *userdata) {
        Seen *s = userdata;

        record(&s->started, &s->starts, extra_argv);
        snprintf(error, size, "%s", strempty(s->start_error));
        return s->start_result;
}

static int on_stop(void *userdata) {
        ((Seen *)userdata)->stops++;
        return 0;
}

static int on_restart(void *userdata) {
        ((Seen *)userdata)->restarts++;
        return 0;
}

static int on_set_restart_argv(char *const *extra_argv, void *userdata) {
        Seen *s = userdata;

        record(&s->restart, &s->sets, extra_argv);
        return 0;
}

static void on_shown(void *userdata) {
        ((Seen *)userdata)->shown++;
}

static int on_waits_for(char *reason, size_t size, void *userdata) {
        Seen *s = userdata;

        if (!s->waits_for)
                return 0;
        snprintf(reason, size, "%s", s->waits_for);
        return 1;
}

static void on_opened(int r, const char *method, const char *error, void *userdata) {
        *(int *)userdata = r;
}

/* Runs the loop until browser_open()'s callback has said how the open
 * went (it comes from the loop, never inside browser_open()).  An open
 * left waiting (held, or for a bus name) would keep the loop asleep to
 * the suite's timeout: the deadline (20 s, scaled: test_deadline_usec())
 * fails the test by name instead. */
static void wait_opened(sd_event *e, const int *opened) {
        TestWait w = test_wait_start(20 * USEC_PER_SEC);

        while (*opened == 1) {
                if (test_wait_left(&w) == 0)
                        fail_msg("timed out after %llu s waiting for browser_open()'s callback", w.s);
                assert_true(sd_event_run(e, USEC_PER_SEC) >= 0);
        }
}

/* Compares a list with the expected strings (NULL-terminated). */
static void assert_strv(char **got, const char *const *want) {
        size_t n = 0;

        for (; want[n]; n++) {
                assert_non_null(got);
                assert_non_null(got[n]);
                assert_string_equal(got[n], want[n]);
        }
        assert_true(!got || !got[n]);
}

/* A browser without a bus (a socket path that does not exist), its
 * profile in a directory of its own, its hooks recording into seen.
 * Made by a test's setup and dropped by its teardown, so a failed
 * assertion leaves no directory behind. */
typedef struct Fixture {
        TestProfile tp;
        sd_event *e;
        Browser *b;
        Seen seen;
} Fixture;

/* What fixture_setup() made, freed when it fails: cmocka runs no
 * teardown then. */
static int fixture_setup_fail(Fixture *f, const char *what, int r) {
        fprintf(stderr, "%s: %s\n", what, strerror(-r));
        browser_free(f->b);
        sd_event_unref(f->e);
        if (f->tp.dir[0])
                test_profile_drop(&f->tp);
        free(f);
        return -1;
}

/* spawn_wait: BrowserOptions.spawn_wait_usec (0: its default). */
static int fixture_setup(void **state, usec_t spawn_wait) {
        Fixture *f = calloc(1, sizeof *f);
        int r;

        if (!f)
                return -1;
        r = test_profile_make(&f->tp, "test-browser");
        if (r < 0)
                return fixture_setup_fail(f, "the profile", r);
        r = sd_event_new(&f->e);
        if (r < 0)
                return fixture_setup_fail(f, "sd_event_new", r);
        BrowserOptions o = { .event = f->e, .firefox = "firefox-esr", .profile = f->tp.profile,
                             .bus_socket = f->tp.bus, .uid = getuid(), .gid = getgid(),
                             .spawn_wait_usec = spawn_wait };
        BrowserHooks h = { .start = on_start, .stop = on_stop, .set_restart_argv = on_set_restart_argv,
                           .waits_for = on_waits_for, .shown = on_shown, .userdata = &f->seen };
        r = browser_new(&o, &h, &f->b);
        if (r < 0)
                return fixture_setup_fail(f, "browser_new", r);
        *state = f;
        return 0;
}

static int setup(void **state) {
        return fixture_setup(state, 0);
}

static int setup_wait_ms(void **state) {
        return fixture_setup(state, USEC_PER_MSEC);
}

/* An hour: the test's own loop would fail first. */
static int setup_wait_hour(void **state) {
        return fixture_setup(state, 3600 * USEC_PER_SEC);
}

static int teardown(void **state) {
        Fixture *f = *state;

        if (!f)
                return 0;
        browser_free(f->b);
        sd_event_unref(f->e);
        strv_free(f->seen.started);
        strv_free(f->seen.restart);
        if (f->tp.dir[0])
                test_profile_remove(&f->tp);
        free(f);
        return 0;
}

static void test_pages(void **state) {
        Fixture *f = *state;
        Seen *seen = &f->seen;
        Browser *b = f->b;
        sd_event *e = f->e;
        int opened = 1;

        /* Only URLs (an argument starting with '-' would be an option), at
         * most BROWSER_PAGES_MAX; a refused list changes nothing. */
        char *pages[] = { (char *)"https://a.test/1", (char *)"http://b.test/2", NULL };
        assert_int_equal(browser_set_pages(b, pages), 0);
        assert_int_equal(seen->sets, 1);
        assert_strv(seen->restart, (const char *[]){ "https://a.test/1", "http://b.test/2", NULL });
        char *option[] = { (char *)"https://a.test/1", (char *)"--remote-debugging-port=9", NULL };
        assert_int_equal(browser_set_pages(b, option), -EINVAL);
        char *many[BROWSER_PAGES_MAX + 2];
        for (size_t i = 0; i <= BROWSER_PAGES_MAX; i++)
                many[i] = (char *)"https://a.test/1";
        many[BROWSER_PAGES_MAX + 1] = NULL;
        assert_int_equal(browser_set_pages(b, many), -E2BIG);
        assert_int_equal(seen->sets, 1);

        /* A start for a URL: its own first, then the other pages, once. */
        assert_int_equal(browser_open(b, "http://b.test/2", on_opened, &opened, NULL), 0);
        assert_int_equal(seen->starts, 1);
        assert_strv(seen->started, (const char *[]){ "http://b.test/2", "https://a.test/1", NULL });
        wait_opened(e, &opened);
        assert_int_equal(opened, 0);
        /* Shown: the browser is in use (its next close is a person's). */
        assert_int_equal(seen->shown, 1);
        /* No pages: the URL alone. */
        assert_int_equal(browser_set_pages(b, NULL), 0);
        assert_strv(seen->restart, (const char *[]){ NULL });
        opened = 1;
        assert_int_equal(browser_open(b, "https://c.test/3", on_opened, &opened, NULL), 0);
        assert_strv(seen->started, (const char *[]){ "https://c.test/3", NULL });
        wait_opened(e, &opened);
}

typedef struct Opened {
        int r; /* 1: not yet */
        const char *method;
        char error[256];
} Opened;

static void on_opened_how(int r, const char *method, const char *error, void *userdata) {
        Opened *o = userdata;

        *o = (Opened){ .r = r, .method = method };
        snprintf(o->error, sizeof o->error, "%s", strempty(error));
}

/* A start while the browser backs off after an exit, or waits for its
 * dependencies (the hook answers 1 for both), spawns nothing yet: the
 * URL is answered once the restart spawned it with the URL (the start
 * says it runs), as a start of a browser not running is once it
 * spawned.  A second URL meanwhile keeps the first in the restart's
 * argv, and so do the pages set meanwhile. */
static void test_backoff(void **state) {
        Fixture *f = *state;
        Seen *seen = &f->seen;
        Opened one = { .r = 1 }, two = { .r = 1 };
        Browser *b = f->b;
        sd_event *e = f->e;

        seen->start_result = 1;
        assert_int_equal(browser_open(b, "https://a.test/1", on_opened_how, &one, NULL), 0);
        assert_int_equal(browser_open(b, "https://b.test/2", on_opened_how, &two, NULL), 0);
        assert_strv(seen->started, (const char *[]){ "https://b.test/2", "https://a.test/1", NULL });
        char *pages[] = { (char *)"https://c.test/3", NULL };
        assert_int_equal(browser_set_pages(b, pages), 0);
        assert_strv(seen->restart,
                    (const char *[]){ "https://b.test/2", "https://a.test/1", "https://c.test/3", NULL });
        /* Nothing to answer yet: a turn of the loop runs what is due. */
        assert_true(sd_event_run(e, 0) >= 0);
        assert_int_equal(one.r, 1);
        assert_int_equal(two.r, 1);
        /* Still backing off (a change of another kind): still waiting. */
        browser_service_changed(b);
        assert_true(sd_event_run(e, 0) >= 0);
        assert_int_equal(one.r, 1);
        assert_int_equal(seen->shown, 0);
        /* Its restart spawned it. */
        seen->start_result = -EALREADY;
        browser_service_changed(b);
        wait_opened(e, &one.r);
        wait_opened(e, &two.r);
        assert_int_equal(one.r, 0);
        assert_string_equal(one.method, "browser_launch");
        assert_int_equal(two.r, 0);
        assert_string_equal(two.method, "browser_launch");
        assert_int_equal(seen->shown, 2);
}

/* A URL cancelled while it waits for the restart after a backoff is not
 * shown by that restart: its argv is set again without it. */
static void test_backoff_cancel(void **state) {
        Fixture *f = *state;
        Seen *seen = &f->seen;
        Opened one = { .r = 1 }, two = { .r = 1 };
        BrowserOpen *op = NULL;

        seen->start_result = 1;
        assert_int_equal(browser_open(f->b, "https://a.test/1", on_opened_how, &one, &op), 0);
        assert_int_equal(browser_open(f->b, "https://b.test/2", on_opened_how, &two, NULL), 0);
        assert_strv(seen->started, (const char *[]){ "https://b.test/2", "https://a.test/1", NULL });
        browser_open_cancel(op);
        assert_null(op);
        assert_strv(seen->restart, (const char *[]){ "https://b.test/2", NULL });
        seen->start_result = -EALREADY;
        browser_service_changed(f->b);
        wait_opened(f->e, &two.r);
        assert_int_equal(two.r, 0);
        assert_int_equal(one.r, 1);
}

/* A start that stays unspawned (Xvfb failed for good, and the browser
 * waits for it) does not hold the URL for ever: it is answered
 * -ETIMEDOUT after spawn_wait_usec (1 ms here), saying what the browser
 * waits for, and the later spawn no longer brings it. */
static void test_waiting_gives_up(void **state) {
        Fixture *f = *state;
        Seen *seen = &f->seen;
        Opened one = { .r = 1 };

        seen->start_result = 1;
        seen->waits_for = "Xvfb: failed (Xvfb: not found)";
        assert_int_equal(browser_open(f->b, "https://a.test/1", on_opened_how, &one, NULL), 0);
        assert_strv(seen->started, (const char *[]){ "https://a.test/1", NULL });
        wait_opened(f->e, &one.r);
        assert_int_equal(one.r, -ETIMEDOUT);
        assert_null(one.method);
        assert_string_equal(one.error, "The browser did not start within 0.001 s: it waits for Xvfb: failed (Xvfb: not found)");
        assert_strv(seen->restart, (const char *[]){ NULL });
        /* Nothing said what it waits for: the bound alone. */
        seen->waits_for = NULL;
        one.r = 1;
        assert_int_equal(browser_open(f->b, "https://b.test/2", on_opened_how, &one, NULL), 0);
        wait_opened(f->e, &one.r);
        assert_int_equal(one.r, -ETIMEDOUT);
        assert_string_equal(one.error, "The browser did not start within 0.001 s");
}

/* A start whose spawn failed, made at once or the restart a URL waited
 * for in a backoff (the hook answers 1, then the spawn's error once the
 * restart failed), answers the URL at once with the cause, not at the
 * bound (an hour here: the test's loop would fail first), and takes it
 * out of the restart's argv: answered, it must not be shown later.
 * With no browser to start (no service, its user missing, a binary
 * that never ran: no cause) there is nothing to add, as without a
 * browser; a binary gone since it ran is a spawn that failed. */
static void test_spawn_failed(void **state) {
        Fixture *f = *state;
        Seen *seen = &f->seen;
        Opened one = { .r = 1 }, two = { .r = 1 };

        seen->start_result = 1;
        char *pages[] = { (char *)"https://c.test/3", NULL };
        assert_int_equal(browser_set_pages(f->b, pages), 0);
        assert_int_equal(browser_open(f->b, "https://a.test/1", on_opened_how, &one, NULL), 0);
        assert_true(sd_event_run(f->e, 0) >= 0);
        assert_int_equal(one.r, 1);
        /* Its restart's spawn failed: it backs off again. */
        seen->start_result = -EACCES;
        seen->start_error = "spawn: Permission denied";
        browser_service_changed(f->b);
        wait_opened(f->e, &one.r);
        assert_int_equal(one.r, -EACCES);
        assert_null(one.method);
        assert_string_equal(one.error, "The browser did not start: spawn: Permission denied");
        assert_strv(seen->restart, (const char *[]){ "https://c.test/3", NULL });
        /* A start whose spawn fails at once: the same. */
        seen->start_result = -EAGAIN;
        seen->start_error = "spawn: Resource temporarily unavailable";
        assert_int_equal(browser_open(f->b, "https://b.test/2", on_opened_how, &two, NULL), 0);
        assert_strv(seen->started, (const char *[]){ "https://b.test/2", "https://c.test/3", NULL });
        wait_opened(f->e, &two.r);
        assert_int_equal(two.r, -EAGAIN);
        assert_string_equal(two.error, "The browser did not start: spawn: Resource temporarily unavailable");
        assert_strv(seen->restart, (const char *[]){ "https://c.test/3", NULL });
        /* No browser: its user is missing, or there is no service. */
        seen->start_result = -ESRCH;
        seen->start_error = "user vmba-browser: not found";
        two.r = 1;
        assert_int_equal(browser_open(f->b, "https://b.test/2", on_opened_how, &two, NULL), 0);
        wait_opened(f->e, &two.r);
        assert_int_equal(two.r, -ESRCH);
        assert_string_equal(two.error, "");
        seen->start_result = -ENOENT;
        seen->start_error = NULL;
        two.r = 1;
        assert_int_equal(browser_open(f->b, "https://b.test/2", on_opened_how, &two, NULL), 0);
        wait_opened(f->e, &two.r);
        assert_int_equal(two.r, -EAGAIN);
        assert_string_equal(two.error, "");
        /* Its binary gone since it ran (the hook gives the cause then): a
         * spawn that failed, not "no browser". */
        seen->start_error = "/usr/bin/firefox-esr: not found";
        two.r = 1;
        assert_int_equal(browser_open(f->b, "https://b.test/2", on_opened_how, &two, NULL), 0);
        wait_opened(f->e, &two.r);
        assert_int_equal(two.r, -ENOENT);
        assert_string_equal(two.error, "The browser did not start: /usr/bin/firefox-esr: not found");
        assert_strv(seen->restart, (const char *[]){ "https://c.test/3", NULL });
        assert_int_equal(seen->shown, 0);
}

/* Closing stops the browser, unless it is prestarted: the display stack
 * needs it running (a stopped one keeps /health "starting" for good), so
 * it is restarted, on the pages set (none: a blank page). */
static void test_close(void **state) {
        sd_event *e = NULL;
        Seen seen = {};

        assert_int_equal(sd_event_new(&e), 0);
        for (int prestart = 0; prestart <= 1; prestart++) {
                BrowserOptions o = { .event = e, .firefox = "firefox-esr", .profile = "/nonexistent",
                                     .uid = getuid(), .gid = getgid(), .prestart = prestart };
                BrowserHooks h = { .start = on_start, .stop = on_stop, .restart = on_restart,
                                   .set_restart_argv = on_set_restart_argv, .userdata = &seen };
                Browser *b = NULL;

                assert_int_equal(browser_new(&o, &h, &b), 0);
                assert_int_equal(browser_set_pages(b, NULL), 0);
                assert_int_equal(browser_close(b), 0);
                browser_free(b);
        }
        assert_int_equal(seen.stops, 1);
        assert_int_equal(seen.restarts, 1);
        assert_int_equal(seen.starts, 0);
        strv_free(seen.restart);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
                cmocka_unit_test(test_close),
                cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
                cmocka_unit_test_setup_teardown(test_backoff_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_waiting_gives_up, setup_wait_ms, teardown),
                cmocka_unit_test_setup_teardown(test_spawn_failed, setup_wait_hour, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
