/* Unit tests for agent/session-fsm.c: every state × event, and the
 * sessionId grammar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "agent/login/session-fsm.h"
#include "id-util.h"
#include "macro.h"

/* The whole table, written out: a change to the lifecycle must change this. */
static const char *const expected[_SESSION_STATE_MAX] = {
        /* spawned url captured delivered exited error expire close */
        [SESSION_STARTING] = "waiting_url url_ready authenticated - failed failed expired closed",
        [SESSION_WAITING_URL] = "- url_ready authenticated - failed failed expired closed",
        [SESSION_URL_READY] = "- - authenticated - failed failed expired closed",
        [SESSION_AUTHENTICATED] = "- - - delivered - - expired closed",
        [SESSION_DELIVERED] = "- - - - - - - -",
        [SESSION_CLOSED] = "- - - - - - - -",
        [SESSION_FAILED] = "- - - - - - - -",
        [SESSION_EXPIRED] = "- - - - - - - -",
};

static void test_table(void **state) {
        for (int s = 0; s < _SESSION_STATE_MAX; s++) {
                char row[256] = "";
                for (int e = 0; e < _SESSION_EVENT_MAX; e++) {
                        int n = session_fsm_next(s, e);
                        if (e > 0)
                                strcat(row, " ");
                        assert_true(n == -ESTALE || (n >= 0 && n < _SESSION_STATE_MAX));
                        strcat(row, n < 0 ? "-" : session_state_to_string(n));
                }
                assert_string_equal(row, expected[s]);
        }
        assert_int_equal(session_fsm_next(_SESSION_STATE_MAX, 0), -EINVAL);
        assert_int_equal(session_fsm_next(0, _SESSION_EVENT_MAX), -EINVAL);
        assert_int_equal(session_fsm_next(-1, 0), -EINVAL);
}

static void test_predicates(void **state) {
        assert_true(session_state_is_live(SESSION_STARTING));
        assert_true(session_state_is_live(SESSION_AUTHENTICATED));
        assert_false(session_state_is_live(SESSION_DELIVERED));
        assert_false(session_state_is_live(SESSION_FAILED));
        for (SessionState s = 0; s < _SESSION_STATE_MAX; s++)
                assert_int_equal(session_state_is_signing_in(s),
                                 s == SESSION_STARTING || s == SESSION_WAITING_URL || s == SESSION_URL_READY);
        assert_false(session_state_is_signing_in(_SESSION_STATE_INVALID));
        assert_true(session_state_is_final(SESSION_EXPIRED));
        assert_false(session_state_is_final(SESSION_URL_READY));
        assert_string_equal(session_event_to_string(SESSION_EVENT_CAPTURED), "captured");
        assert_null(session_state_to_string(_SESSION_STATE_MAX));
}

static void test_session_id(void **state) {
        char max[SESSION_ID_MAX + 2];

        assert_true(session_id_is_valid("123e4567-e89b-12d3-a456-426614174000"));
        assert_true(session_id_is_valid("123E4567-E89B-12D3-A456-426614174000"));
        assert_true(session_id_is_valid("network-fix-test-1"));
        assert_true(session_id_is_valid("a"));
        assert_true(session_id_is_valid("A.b_c:d-e"));
        assert_true(session_id_is_valid(".."));  /* a name, never a path: the HOME is login-<id> */
        memset(max, 'x', SESSION_ID_MAX);
        max[SESSION_ID_MAX] = '\0';
        assert_true(session_id_is_valid(max));
        max[SESSION_ID_MAX] = 'x';
        max[SESSION_ID_MAX + 1] = '\0';
        assert_false(session_id_is_valid(max));
        assert_false(session_id_is_valid(NULL));
        assert_false(session_id_is_valid(""));
        assert_false(session_id_is_valid("{123e4567-e89b-12d3-a456-426614174000}"));
        assert_false(session_id_is_valid("../../../../etc/passwd"));
        assert_false(session_id_is_valid("$(touch /tmp/x)"));
        assert_false(session_id_is_valid("`id`"));
        assert_false(session_id_is_valid("a b"));
        assert_false(session_id_is_valid("abc\n"));
        assert_false(session_id_is_valid("a;rm"));
        assert_false(session_id_is_valid("a+b"));
        assert_false(session_id_is_valid("caf\xc3\xa9"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_predicates),
                cmocka_unit_test(test_session_id),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
