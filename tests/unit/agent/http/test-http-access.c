/* Unit tests for agent/http/http-access.c: the bearer-token parser, the
 * and the one errno -> status table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/http/http-access.h"
#include "agent/http/http.h"
#include "macro.h"

static void test_bearer(void **state) {
        static const struct {
                const char *header, *token;
        } t[] = {
                { "Bearer abc", "abc" },
                { "bearer abc", "abc" },            /* scheme is case-insensitive */
                { "BEARER\tabc", "abc" },
                { "  Bearer   abc.def-ghi  ", "abc.def-ghi" },
                { "Bearer a b", "a b" },            /* compared as is: will not match */
                { "Bearer", NULL },
                { "Bearer ", NULL },
                { "Bearer    \t", NULL },
                { "Bearerabc", NULL },
                { "Basic YWxhZGRpbjpvcGVuc2VzYW1l", NULL },
                { "", NULL },
                { NULL, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                size_t n = 12345;
                const char *tok = http_bearer_token(t[i].header, &n);

                print_message("'%s'\n", t[i].header ? t[i].header : "(null)");
                if (!t[i].token) {
                        assert_null(tok);
                        assert_int_equal(n, 12345);
                        continue;
                }
                assert_non_null(tok);
                assert_int_equal(n, strlen(t[i].token));
                assert_memory_equal(tok, t[i].token, n);
        }
}

static void test_status_from_errno(void **state) {
        static const struct {
                int r;
                unsigned status;
        } t[] = {
                { -EINVAL, 400 }, { -EACCES, 401 }, { -EPERM, 403 }, { -ENOENT, 404 },
                { -EOPNOTSUPP, 405 }, { -EEXIST, 409 }, { -EBUSY, 409 }, { -E2BIG, 413 },
                { -EFBIG, 413 }, { -ENAMETOOLONG, 414 }, { -EUSERS, 429 }, { -EAGAIN, 503 },
                { -EIO, 500 }, { -ENOMEM, 500 }, { 0, 500 }, { EINVAL, 500 }, /* positive: not an errno */
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_int_equal(http_status_from_errno(t[i].r), t[i].status);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bearer),
                cmocka_unit_test(test_status_from_errno),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
