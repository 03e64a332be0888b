/* Unit tests for agent/login/used-states.c: a used state is found with
 * the page its callback got, nothing else is (a prefix, a longer one,
 * another), the oldest goes when all are taken, and an empty state is
 * never kept. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/login/used-states.h"
#include "macro.h"

static void test_find(void **state) {
        UsedStates u = {};

        assert_int_equal(used_states_find(&u, "state-one"), -ENOENT);
        used_states_add(&u, strdup("state-one"), true);
        used_states_add(&u, strdup("state-two"), false);
        assert_int_equal(used_states_find(&u, "state-one"), 1);
        assert_int_equal(used_states_find(&u, "state-two"), 0);
        /* Neither a prefix nor a longer state nor another case. */
        assert_int_equal(used_states_find(&u, "state-on"), -ENOENT);
        assert_int_equal(used_states_find(&u, "state-one-"), -ENOENT);
        assert_int_equal(used_states_find(&u, "STATE-ONE"), -ENOENT);
        assert_int_equal(used_states_find(&u, ""), -ENOENT);
        /* Nothing is kept for no state: "" finds nothing. */
        used_states_add(&u, strdup(""), true);
        used_states_add(&u, NULL, true);
        assert_int_equal(used_states_find(&u, ""), -ENOENT);
        assert_int_equal(u.next, 2);
        used_states_done(&u);
        assert_int_equal(used_states_find(&u, "state-one"), -ENOENT);
}

static void test_oldest_goes(void **state) {
        UsedStates u = {};
        char s[32];

        for (unsigned i = 0; i <= USED_STATES_MAX; i++) {
                snprintf(s, sizeof s, "state-%u", i);
                used_states_add(&u, strdup(s), i % 2 == 0);
        }
        assert_int_equal(used_states_find(&u, "state-0"), -ENOENT);
        assert_int_equal(used_states_find(&u, "state-1"), 0);
        snprintf(s, sizeof s, "state-%u", USED_STATES_MAX);
        assert_int_equal(used_states_find(&u, s), USED_STATES_MAX % 2 == 0);
        used_states_done(&u);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find),
                cmocka_unit_test(test_oldest_goes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
