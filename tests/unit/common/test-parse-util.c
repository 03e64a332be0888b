/* Unit tests for the text parsers of common/: parse-util.c's decimal
 * numbers (digits only, in 0..max, a whole string or a span of one) and
 * env-file.c's reading of a variable out of an environment file as the
 * host writes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "env-file.h"
#include "macro.h"
#include "parse-util.h"

/* All of the string, digits only: no blank, sign or anything after. */
static void test_parse_unsigned(void **state) {
        static const struct {
                const char *s;
                uint64_t max;
                int r;
                uint64_t v;
        } cases[] = {
                { "0", 10, 0, 0 },      { "10", 10, 0, 10 },   { "11", 10, -EINVAL, 0 },
                { "", 10, -EINVAL, 0 }, { "-1", 10, -EINVAL, 0 }, { "1x", 10, -EINVAL, 0 },
                { "x", 10, -EINVAL, 0 }, { " -1", UINT32_MAX, -EINVAL, 0 }, { "+1", 10, -EINVAL, 0 },
                { " 1", 10, -EINVAL, 0 }, { "1 ", 10, -EINVAL, 0 }, { "007", 10, 0, 7 },
                { "7", 5, -EINVAL, 0 },  { "5", 5, 0, 5 },     { "0", 0, 0, 0 },      { "1", 0, -EINVAL, 0 },
                { "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
                { "18446744073709551616", UINT64_MAX, -EINVAL, 0 },
                { "4294967295", UINT32_MAX, 0, UINT32_MAX }, { "4294967296", UINT32_MAX, -EINVAL, 0 },
                { "99999999999999999999999", UINT64_MAX, -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 12345;

                assert_int_equal(parse_unsigned(cases[i].s, cases[i].max, &v), cases[i].r);
                assert_true(v == (cases[i].r == 0 ? cases[i].v : 12345));
        }
        assert_int_equal(parse_unsigned(NULL, 10, &(uint64_t){ 0 }), -EINVAL);
}

/* A field inside a longer text: exactly its n bytes. */
static void test_parse_unsigned_span(void **state) {
        uint64_t v = 12345;

        assert_int_equal(parse_unsigned_span("1000 0 12", 4, UINT32_MAX, &v), 0);
        assert_int_equal(v, 1000);
        assert_int_equal(parse_unsigned_span("1000 0 12", 5, UINT32_MAX, &v), -EINVAL);
        assert_int_equal(parse_unsigned_span("12x", 2, 99, &v), 0);
        assert_int_equal(v, 12);
        assert_int_equal(parse_unsigned_span("123", 3, 99, &v), -EINVAL);
        assert_int_equal(parse_unsigned_span("-1", 2, 99, &v), -EINVAL);
        assert_int_equal(parse_unsigned_span("1", 0, 99, &v), -EINVAL);
        assert_int_equal(v, 12);
}

static void test_env_file(void **state) {
        static const char text[] =
                "# written by the host\n"
                "SESSION_ID=network-fix-test-1\n"
                "DISPLAY=:1\n"
                "HTTP_PROXY=http://10.0.0.1:3128\n"
                "export HTTPS_PROXY=\"http://u:p@proxy:8080\"\n"
                "  NO_PROXY='localhost,127.0.0.1'  \r\n"
                "EMPTY=\n"
                "TWICE=first\n"
                "TWICE=second\n"
                "HTTP_PROXY_X=not this\n"
                "not an assignment\n"
                "Q=\"unbalanced\n"
                "LAST=no newline";
        static const struct { const char *key, *value; } t[] = {
                { "SESSION_ID", "network-fix-test-1" },
                { "HTTP_PROXY", "http://10.0.0.1:3128" },
                { "HTTPS_PROXY", "http://u:p@proxy:8080" },
                { "NO_PROXY", "localhost,127.0.0.1" },
                { "EMPTY", "" },
                { "TWICE", "second" },
                { "Q", "\"unbalanced" },
                { "LAST", "no newline" },
        };
        char *v = NULL;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_int_equal(env_file_get(text, t[i].key, &v), 0);
                assert_string_equal(v, t[i].value);
                free(v);
        }
        assert_int_equal(env_file_get(text, "http_proxy", &v), -ENOENT);
        assert_int_equal(env_file_get(text, "HTTP", &v), -ENOENT);
        assert_int_equal(env_file_get(text, "not an assignment", &v), -ENOENT);
        assert_int_equal(env_file_get("", "A", &v), -ENOENT);
        assert_int_equal(env_file_get(text, "", &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_env_file),
                cmocka_unit_test(test_parse_unsigned),
                cmocka_unit_test(test_parse_unsigned_span),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
