/* Unit tests for mmds_parse_secrets() (agent/host/restore-plan.c): the
 * boot's secrets out of the MMDS object (both, one, none; wrong types and
 * oversized ones refused; nothing else read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/host/restore-plan.h"
#include "macro.h"

#define X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define X4096 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 \
        X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 \
        X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 \
        X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64 X64
#define LONG_4096 "\"" X4096 "\""
#define LONG_4097 "\"y" X4096 "\""

static void test_parse(void **state) {
        static const struct {
                const char *json, *token, *desktop;
                int r;
        } t[] = {
                { "{\"token\":\"t1\",\"desktop_secret\":\"d1\"}", "t1", "d1", 0 },
                { "{\"token\":\"t1\"}", "t1", NULL, 0 },
                { "{\"desktop_secret\":\"d1\",\"other\":{\"x\":1}}", NULL, "d1", 0 },
                { "{}", NULL, NULL, 0 },
                { "{\"token\":\"\"}", NULL, NULL, -EBADMSG },
                { "{\"token\":1}", NULL, NULL, -EBADMSG },
                { "{\"token\":\"a\\u0000b\"}", NULL, NULL, -EBADMSG },
                { "{\"token\":\"t\",\"token\":\"u\"}", NULL, NULL, -EBADMSG },
                { "[\"token\"]", NULL, NULL, -EBADMSG },
                { "token=t1", NULL, NULL, -EBADMSG },
                { NULL, NULL, NULL, -EBADMSG },
                { "{\"token\":" LONG_4096 "}", X4096, NULL, 0 },
                { "{\"token\":\"t1\",\"desktop_secret\":" LONG_4097 "}", NULL, NULL, -EBADMSG },
                { "{\"token\":" LONG_4097 "}", NULL, NULL, -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char *token = (char *)"untouched", *desktop = (char *)"untouched";
                int r = mmds_parse_secrets(t[i].json, &token, &desktop, NULL);

                print_message("%s\n", t[i].json ?: "(null)");
                assert_int_equal(r, t[i].r);
                if (r < 0) {
                        assert_string_equal(token, "untouched");
                        continue;
                }
                if (t[i].token)
                        assert_string_equal(token, t[i].token);
                else
                        assert_null(token);
                if (t[i].desktop)
                        assert_string_equal(desktop, t[i].desktop);
                else
                        assert_null(desktop);
                erase_and_free(token);
                erase_and_free(desktop);
        }
}

/* A refused object's log line names the key at fault, never its value. */
static void test_parse_reason(void **state) {
        static const struct {
                const char *json, *reason;
        } t[] = {
                /* A host with no desktop secret for this VM writing None. */
                { "{\"token\":\"t1\",\"desktop_secret\":null}",
                  "\"desktop_secret\" is not a string of 1 to 4096 bytes without NUL" },
                { "{\"token\":12345}", "\"token\" is not a string of 1 to 4096 bytes without NUL" },
                { "token=t1", "not one JSON object (invalid JSON, a key twice, or an integer past 64 bits)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char *token = NULL, *desktop = NULL;
                const char *why = NULL;

                print_message("%s\n", t[i].json);
                assert_int_equal(mmds_parse_secrets(t[i].json, &token, &desktop, &why), -EBADMSG);
                assert_non_null(why);
                assert_string_equal(why, t[i].reason);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_parse_reason),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
