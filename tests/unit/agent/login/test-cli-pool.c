/* Unit tests for agent/login/cli-pool.c: which pools are refused, and
 * that a user goes back to a new login only through DRAINING, i.e. after
 * a sweep found nothing of its uid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/login/cli-pool.h"
#include "macro.h"

static void test_init(void **state) {
        static const uid_t ok[] = { 1001, 1002, 1003 }, dup[] = { 1001, 1002, 1001 }, root[] = { 1001, 0 };
        uid_t many[CLI_POOL_MAX + 1];
        CliPool p;

        assert_int_equal(cli_pool_init(&p, ok, 0), -EINVAL);
        assert_int_equal(cli_pool_init(&p, dup, ELEMENTSOF(dup)), -EEXIST);
        assert_int_equal(cli_pool_init(&p, root, ELEMENTSOF(root)), -EPERM);
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (uid_t)(2000 + i);
        assert_int_equal(cli_pool_init(&p, many, ELEMENTSOF(many)), -EINVAL);
        assert_int_equal(cli_pool_init(&p, many, CLI_POOL_MAX), 0);
        assert_int_equal(cli_pool_count(&p, CLI_SLOT_FREE), CLI_POOL_MAX);
        assert_int_equal(cli_pool_init(&p, ok, ELEMENTSOF(ok)), 0);
        assert_int_equal(p.n, 3);
        assert_int_equal(cli_pool_count(&p, CLI_SLOT_FREE), 3);
        assert_int_equal(cli_pool_find(&p, 1002), 1);
        assert_int_equal(cli_pool_find(&p, 1004), -ENOENT);
        assert_int_equal(cli_pool_find(&p, 0), -ENOENT);
}

/* Each live login its own user; none left: -EUSERS, not a shared one. */
static void test_take_until_exhausted(void **state) {
        static const uid_t uids[] = { 1001, 1002 };
        CliPool p;

        assert_int_equal(cli_pool_init(&p, uids, ELEMENTSOF(uids)), 0);
        assert_int_equal(cli_pool_take(&p), 0);
        assert_int_equal(cli_pool_take(&p), 1);
        assert_int_equal(cli_pool_take(&p), -EUSERS);
        assert_int_equal(cli_pool_count(&p, CLI_SLOT_TAKEN), 2);
}

/* A released user is not taken again until it is drained. */
static void test_reuse_only_after_drained(void **state) {
        static const uid_t uids[] = { 1001 };
        CliPool p;

        assert_int_equal(cli_pool_init(&p, uids, 1), 0);
        assert_int_equal(cli_pool_take(&p), 0);
        assert_int_equal(cli_pool_release(&p, 0), 0);
        assert_int_equal(p.state[0], CLI_SLOT_DRAINING);
        assert_int_equal(cli_pool_take(&p), -EUSERS);
        assert_int_equal(cli_pool_drained(&p, 0), 0);
        assert_int_equal(cli_pool_take(&p), 0);
}

/* Only FREE → TAKEN → DRAINING → FREE. */
static void test_transitions(void **state) {
        static const uid_t uids[] = { 1001, 1002 };
        CliPool p;

        assert_int_equal(cli_pool_init(&p, uids, ELEMENTSOF(uids)), 0);
        assert_int_equal(cli_pool_release(&p, 0), -ESTALE);  /* free */
        assert_int_equal(cli_pool_drained(&p, 0), -ESTALE);  /* free */
        assert_int_equal(cli_pool_take(&p), 0);
        assert_int_equal(cli_pool_drained(&p, 0), -ESTALE);  /* taken: never straight back */
        assert_int_equal(cli_pool_release(&p, 0), 0);
        assert_int_equal(cli_pool_release(&p, 0), -ESTALE);  /* twice */
        assert_int_equal(cli_pool_release(&p, -1), -ESTALE);
        assert_int_equal(cli_pool_release(&p, 2), -ESTALE);
        assert_int_equal(cli_pool_drained(&p, 2), -ESTALE);
        /* The other user is taken meanwhile, not the draining one. */
        assert_int_equal(cli_pool_take(&p), 1);
        assert_int_equal(cli_pool_drained(&p, 0), 0);
        assert_int_equal(cli_pool_count(&p, CLI_SLOT_FREE), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_init),
                cmocka_unit_test(test_take_until_exhausted),
                cmocka_unit_test(test_reuse_only_after_drained),
                cmocka_unit_test(test_transitions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
