/* Tests of agent/login/login.c's pull delivery (GET /credentials/get):
 * the end of a pull's response applies to the session it was taken from,
 * never to a later session that has the same id (the host may start a
 * login again under an id whose earlier session expired while a slow
 * response of it was still on its way); and the reason a failed
 * session keeps is valid UTF-8.  Host-driven sessions on a
 * private sd-event loop: no CLI, no browser, no files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/login/login.h"
#include "host-logins.h"

#define ID "host-login-1"

typedef struct Fixture {
        sd_event *event;
        LoginManager *lm;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        assert_non_null(f);
        assert_int_equal(sd_event_new(&f->event), 0);
        LoginOptions o = host_login_options(f->event, NULL);
        assert_int_equal(login_manager_new(&o, &f->lm), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        login_manager_free(f->lm);
        sd_event_unref(f->event);
        free(f);
        return 0;
}

/* A host-driven session with id ID, authenticated with code. */
static LoginSession *authenticated(LoginManager *lm, const char *code) {
        LoginSession *s;

        assert_int_equal(login_session_new(lm, ID, "oauth", &s), 0);
        assert_int_equal(login_session_event(s, SESSION_EVENT_URL), SESSION_URL_READY);
        login_session_captured(s, json_pack("{ss}", "code", code), "/oauth/callback", 0);
        assert_int_equal(s->state, SESSION_AUTHENTICATED);
        return s;
}

static const char *code_of(LoginSession *s) {
        return json_string_value(json_object_get(s->credentials, "code"));
}

/* The ordinary cases: sent completely, delivered and gone; cut off,
 * kept for another pull. */
static void test_pull_of_its_own_session(void **state) {
        Fixture *f = *state;
        LoginSession *s = authenticated(f->lm, "first");
        LoginPull p;

        login_session_pull_start(s, &p);
        assert_true(s->delivering);
        assert_int_equal(login_manager_pull_done(f->lm, &p, false), 0);
        assert_ptr_equal(login_session_find(f->lm, ID), s);
        assert_false(s->delivering);
        assert_string_equal(code_of(s), "first");

        login_session_pull_start(s, &p);
        assert_int_equal(login_manager_pull_done(f->lm, &p, true), 1);
        assert_null(login_session_find(f->lm, ID));
}

/* The expired session's response ends completely after a new session
 * with its id authenticated: the new one is neither delivered nor
 * wiped. */
static void test_complete_pull_of_a_replaced_session(void **state) {
        Fixture *f = *state;
        LoginSession *old = authenticated(f->lm, "first"), *s;
        LoginPull p;

        login_session_pull_start(old, &p);
        login_session_fail(old, SESSION_EVENT_EXPIRE, "Session expired");
        s = authenticated(f->lm, "second");

        assert_int_equal(login_manager_pull_done(f->lm, &p, true), -ESTALE);
        assert_ptr_equal(login_session_find(f->lm, ID), s);
        assert_int_equal(s->state, SESSION_AUTHENTICATED);
        assert_string_equal(code_of(s), "second");
}

/* The expired session's response is cut off while the new session's own
 * pull is on its way: the new one stays being delivered (a second pull
 * would get its credentials too). */
static void test_cut_off_pull_of_a_replaced_session(void **state) {
        Fixture *f = *state;
        LoginSession *old = authenticated(f->lm, "first"), *s;
        LoginPull p, q;

        login_session_pull_start(old, &p);
        login_session_fail(old, SESSION_EVENT_EXPIRE, "Session expired");
        s = authenticated(f->lm, "second");
        login_session_pull_start(s, &q);

        assert_int_equal(login_manager_pull_done(f->lm, &p, false), -ESTALE);
        assert_true(s->delivering);
        assert_int_equal(s->state, SESSION_AUTHENTICATED);
        assert_int_equal(login_manager_pull_done(f->lm, &q, true), 1);
        assert_null(login_session_find(f->lm, ID));
}

/* A reason that is not UTF-8 (a CLI's words, cut inside a character) is
 * kept as valid UTF-8: the error goes out in JSON. */
static void test_failure_reason_kept_as_utf8(void **state) {
        Fixture *f = *state;
        LoginSession *s;

        assert_int_equal(login_session_new(f->lm, ID, "oauth", &s), 0);
        login_session_fail(s, SESSION_EVENT_ERROR, "Error: caf\xc3");
        assert_int_equal(s->state, SESSION_FAILED);
        assert_string_equal(s->error, "Error: caf?");
}

/* The session was dropped (a new start replaced the expired one) and no
 * session has the id: nothing to apply. */
static void test_pull_of_a_session_gone(void **state) {
        Fixture *f = *state;
        LoginSession *old = authenticated(f->lm, "first");
        LoginPull p;

        login_session_pull_start(old, &p);
        login_session_drop(old);
        assert_int_equal(login_manager_pull_done(f->lm, &p, true), -ESTALE);
        assert_null(login_session_find(f->lm, ID));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_pull_of_its_own_session, setup, teardown),
                cmocka_unit_test_setup_teardown(test_complete_pull_of_a_replaced_session, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cut_off_pull_of_a_replaced_session, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pull_of_a_session_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failure_reason_kept_as_utf8, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
