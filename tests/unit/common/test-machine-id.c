/* Unit tests for common/machine-id.c: which systemd.machine_id= values
 * make the machine id, as systemd's sd_id128_from_string() and
 * id128_from_string_nonzero() take them, and what the kernel command line
 * scan picks when there are several (systemd's main.c: the last valid
 * one; a malformed one is skipped, not a reset). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "machine-id.h"
#include "macro.h"

#define ID "0123456789abcdef0123456789abcdef"
#define OTHER "fedcba9876543210fedcba9876543210"

static void test_machine_id_parse_good(void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { ID, ID },
                /* systemd writes what it reads in lower case. */
                { "0123456789ABCDEF0123456789ABCDEF", ID },
                { "0123456789AbCdEf0123456789aBcDeF", ID },
                /* A UUID: dashes after the 8th, 12th, 16th and 20th digit. */
                { "01234567-89ab-cdef-0123-456789abcdef", ID },
                { "01234567-89AB-CDEF-0123-456789ABCDEF", ID },
                /* One bit set is not zero. */
                { "00000000000000000000000000000001", "00000000000000000000000000000001" },
                { "ffffffffffffffffffffffffffffffff", "ffffffffffffffffffffffffffffffff" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char id[MACHINE_ID_STRING_MAX] = "untouched";
                const char *why = NULL;

                assert_int_equal(machine_id_parse(cases[i].in, id, &why), 0);
                assert_string_equal(id, cases[i].out);
                assert_null(why);
        }
}

static void test_machine_id_parse_bad(void **state) {
        static const struct {
                const char *in, *why;
        } cases[] = {
                { NULL, "no value" },
                { "", "not 32 hex digits" },
                { "0123456789abcdef0123456789abcde", "not 32 hex digits" },    /* 31 */
                { "0123456789abcdef0123456789abcdef0", "not 32 hex digits" },  /* 33 */
                { ID "\n", "not 32 hex digits" },
                { " " ID, "not 32 hex digits" },
                { "0123456789abcdef0123456789abcdeg", "not 32 hex digits" },
                { "0x23456789abcdef0123456789abcdef", "not 32 hex digits" },
                /* A UUID's dashes all, and only where a UUID has them. */
                { "01234567-89abcdef0123456789abcdef", "not 32 hex digits" },
                { "01234567-89ab-cdef0123456789abcdef", "not 32 hex digits" },
                { "01234567-89ab-cdef-0123456789abcdef", "not 32 hex digits" },
                { "0123456-789ab-cdef-0123-456789abcdef", "not 32 hex digits" },
                { "01234567--89ab-cdef-0123-456789abcdef", "not 32 hex digits" },
                { "01234567-89ab-cdef-0123-456789abcdef-", "not 32 hex digits" },
                { "0123456789ab-cdef-0123-456789abcdef", "not 32 hex digits" },   /* no dash at 8 */
                { "{01234567-89ab-cdef-0123-456789abcdef}", "not 32 hex digits" },
                { "-0123456789abcdef0123456789abcdef", "not 32 hex digits" },
                /* Zero means "no id" (machine-id(5)), in either form. */
                { "00000000000000000000000000000000", "all zero" },
                { "00000000-0000-0000-0000-000000000000", "all zero" },
                /* systemd's SMBIOS lookup: not the agent's. */
                { "firmware", "\"firmware\"" },
                { "FIRMWARE", "not 32 hex digits" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char id[MACHINE_ID_STRING_MAX] = "untouched";
                const char *why = NULL;

                assert_int_equal(machine_id_parse(cases[i].in, id, &why), -EINVAL);
                assert_non_null(why);
                if (!strstr(why, cases[i].why))
                        fail_msg("case %zu: \"%s\" does not say %s", i, why, cases[i].why);
                assert_string_equal(id, "untouched");
        }
        /* ret_reason may be NULL. */
        char id[MACHINE_ID_STRING_MAX];
        assert_int_equal(machine_id_parse("x", id, NULL), -EINVAL);
}

static void test_machine_id_from_cmdline(void **state) {
        static const struct {
                const char *cmdline, *id; /* NULL: none */
                unsigned refused;
                const char *error;
        } cases[] = {
                { "", NULL, 0, "" },
                { "console=ttyS0 reboot=k quiet", NULL, 0, "" },
                { "systemd.machine_id=" ID, ID, 0, "" },
                { "console=ttyS0 systemd.machine_id=" ID " quiet\n", ID, 0, "" },
                /* systemd's keys take '-' for '_' and back. */
                { "systemd.machine-id=" ID, ID, 0, "" },
                { "systemd-machine_id=" ID, NULL, 0, "" },
                { "systemd.machine_idx=" ID " Systemd.machine_id=" ID " rd.systemd.machine_id=" ID, NULL, 0, "" },
                /* The kernel's tokeniser: a quoted value loses its quotes. */
                { "systemd.machine_id=\"" ID "\"", ID, 0, "" },
                { "\"systemd.machine_id=" ID "\"", ID, 0, "" },
                /* The last valid one wins; a bad one after it is skipped. */
                { "systemd.machine_id=" ID " systemd.machine_id=" OTHER, OTHER, 0, "" },
                { "systemd.machine_id=" ID " systemd.machine_id=nope", ID, 1, "systemd.machine_id=nope: not 32 hex digits" },
                { "systemd.machine_id=nope systemd.machine_id=" ID, ID, 1, "systemd.machine_id=nope: not 32 hex digits" },
                { "systemd.machine_id=00000000000000000000000000000000", NULL, 1,
                  "systemd.machine_id=00000000000000000000000000000000: all zero, which means no id" },
                { "systemd.machine_id", NULL, 1, "systemd.machine_id: no value" },
                { "systemd.machine_id=", NULL, 1, "systemd.machine_id=: not 32 hex digits or a UUID (8-4-4-4-12)" },
                { "systemd.machine_id=firmware", NULL, 1,
                  "systemd.machine_id=firmware: \"firmware\" (systemd's SMBIOS product UUID) is not read: pass the id itself" },
                { "systemd.machine_id=a systemd.machine_id=b", NULL, 2, "systemd.machine_id=b: not 32 hex digits" },
                /* A value that is not one printable word is not echoed. */
                { "systemd.machine_id=\"a b\"", NULL, 1, "systemd.machine_id= (a value of 3 bytes): not 32" },
                { "systemd.machine_id=\x1b[2J", NULL, 1, "systemd.machine_id= (a value of 4 bytes): not 32" },
                { "systemd.machine_id=" ID ID, NULL, 1, "systemd.machine_id=" ID ID ": not 32" },
                { "systemd.machine_id=" ID ID "0", NULL, 1, "systemd.machine_id= (a value of 65 bytes): not 32" },
                /* After "--" the words are init's arguments, not the kernel's. */
                { "quiet -- systemd.machine_id=" ID, NULL, 0, "" },
                { "systemd.machine_id=" ID " -- systemd.machine_id=" OTHER, ID, 0, "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char id[MACHINE_ID_STRING_MAX] = "untouched", error[MACHINE_ID_ERROR_MAX];
                unsigned refused = 99;
                int r = machine_id_from_cmdline(cases[i].cmdline, id, &refused, error);

                if (r != (cases[i].id ? 1 : 0))
                        fail_msg("case %zu (%s): %d", i, cases[i].cmdline, r);
                assert_string_equal(id, cases[i].id ?: "untouched");
                assert_int_equal(refused, cases[i].refused);
                if (strncmp(error, cases[i].error, strlen(cases[i].error)) != 0 || (!cases[i].error[0] && error[0]))
                        fail_msg("case %zu (%s): error \"%s\", wanted \"%s...\"", i, cases[i].cmdline, error,
                                 cases[i].error);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_machine_id_parse_good),
                cmocka_unit_test(test_machine_id_parse_bad),
                cmocka_unit_test(test_machine_id_from_cmdline),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
