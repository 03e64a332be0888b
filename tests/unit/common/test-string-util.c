/* Unit tests for the small string helpers of common/: macro.h's
 * prefixes, NULL-safe comparison and hex digits, strv.c's lists,
 * string-table.h's enum tables (a hole in the table included), and
 * launch.c's wait status as text, an OOM kill's included. */
#include <ctype.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "launch.h"
#include "macro.h"
#include "string-table.h"
#include "strv.h"

/* wait()'s statuses as the kernel makes them: exit code << 8, or the
 * signal with 0x80 for a core. */
static void test_wstatus_to_string(void **state) {
        char buf[64];

        (void)state;
        assert_string_equal(wstatus_to_string(0, buf, sizeof buf), "exited 0");
        assert_string_equal(wstatus_to_string(127 << 8, buf, sizeof buf), "exited 127");
        assert_string_equal(wstatus_to_string(SIGKILL, buf, sizeof buf), "killed by SIGKILL");
        assert_string_equal(wstatus_to_string(SIGSEGV | 0x80, buf, sizeof buf), "dumped core, killed by SIGSEGV");
        assert_string_equal(wstatus_to_string(0x137f, buf, sizeof buf), "status 0x137f"); /* stopped by SIGSTOP */
        assert_string_equal(wstatus_to_string(0x7e, buf, sizeof buf), "killed by SIG?"); /* no such signal */
        assert_string_equal(wstatus_to_string(SIGTERM, buf, 8), "killed "); /* cut to the buffer */
}

/* A child with a memory.max: the kernel's OOM kills in its cgroup name
 * its end, whatever signal (SIGKILL) or exit it had; memory.events'
 * "oom" (its cgroup at its memory.max) tells its limit from the VM's. */
static void test_exit_to_string(void **state) {
        char buf[96];

        (void)state;
        assert_string_equal(exit_to_string(SIGKILL, NULL, buf, sizeof buf), "killed by SIGKILL");
        assert_string_equal(exit_to_string(SIGKILL, &(LaunchMemory){ .max = 64u << 20 }, buf, sizeof buf),
                            "killed by SIGKILL");
        assert_string_equal(exit_to_string(SIGKILL, &(LaunchMemory){ .max = 2048u << 20, .oom_kills = 3, .at_max = 1 },
                                           buf, sizeof buf),
                            "killed by the kernel: out of memory (memory.max 2048 MiB)");
        /* Its main process exited for what was killed beside it. */
        assert_string_equal(exit_to_string(1 << 8, &(LaunchMemory){ .max = 64u << 20, .oom_kills = 1, .at_max = 2 },
                                           buf, sizeof buf),
                            "killed by the kernel: out of memory (memory.max 64 MiB)");
        assert_string_equal(exit_to_string(SIGKILL, &(LaunchMemory){ .max = 64u << 20, .oom_kills = 1 }, buf,
                                           sizeof buf),
                            "killed by the kernel: out of memory (the VM's)");
}

/* A start that keeps reaching its memory.max (memory.events' "max"
 * since it started) and reading back what the kernel evicted (memory.stat's
 * refaults since) is said to, naming the setting to raise; one that never
 * did, or has no limit, gets nothing. */
static void test_memory_pressure_to_string(void **state) {
        static const struct {
                LaunchMemory mem;
                const char *key;
                const char *want;
        } t[] = {
                { { .max = 32u << 20 }, "browser_memory_max_mb", "" },
                /* Counted, but no limit now (lifted): nothing to raise. */
                { { .reclaims = 5, .refaults = 5 }, "browser_memory_max_mb", "" },
                /* Its limit full of file cache (a large download), given
                 * back cheaply and not needed again: no thrashing. */
                { { .max = 32u << 20, .reclaims = 48213 }, "browser_memory_max_mb", "" },
                /* Read back without reaching the limit: pages evicted
                 * for the VM's memory, not at this limit. */
                { { .max = 32u << 20, .refaults = 9005 }, "browser_memory_max_mb", "" },
                { { .max = 32u << 20, .reclaims = 48213, .refaults = 9005 }, "browser_memory_max_mb",
                  "at its memory.max 32 MiB: the kernel reclaimed its memory 48213 times since it started and read "
                  "back 9005 pages it had evicted, its code too, as it runs; raise browser_memory_max_mb" },
                /* One is "time", "page". */
                { { .max = 300u << 20, .reclaims = 1, .refaults = 1 }, "memory_max_mb",
                  "at its memory.max 300 MiB: the kernel reclaimed its memory 1 time since it started and read back "
                  "1 page it had evicted, its code too, as it runs; raise memory_max_mb" },
        };
        /* The longest: every count at its widest, a 40-byte key. */
        static const LaunchMemory widest = { .max = UINT64_MAX, .reclaims = UINT64_MAX, .refaults = UINT64_MAX };
        static const char key40[] = "0123456789012345678901234567890123456789";
        char buf[MEMORY_PRESSURE_MAX];

        (void)state;
        assert_string_equal(memory_pressure_to_string(NULL, "browser_memory_max_mb", buf, sizeof buf), "");
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_string_equal(memory_pressure_to_string(&t[i].mem, t[i].key, buf, sizeof buf), t[i].want);
        memory_pressure_to_string(&widest, key40, buf, sizeof buf);
        assert_true(strlen(buf) > 40);
        assert_string_equal(buf + strlen(buf) - 40, key40); /* whole */
        assert_string_equal(memory_pressure_to_string(&(LaunchMemory){ .max = 32u << 20, .reclaims = 2, .refaults = 2 },
                                                      "k", buf, 16), "at its memory.m"); /* cut to the buffer */
}

static void test_startswith(void **state) {
        assert_string_equal(startswith("vmba.token=x", "vmba."), "token=x");
        assert_null(startswith("vmb", "vmba."));
        assert_true(streq_ptr(NULL, NULL));
        assert_false(streq_ptr("a", NULL));
}

static void test_unhexchar(void **state) {
        static const char digits[] = "0123456789abcdef";

        for (int i = 0; i < 16; i++) {
                assert_int_equal(unhexchar(digits[i]), i);
                assert_int_equal(unhexchar((char)toupper(digits[i])), i);
        }
        assert_int_equal(unhexchar('g'), -EINVAL);
        assert_int_equal(unhexchar('G'), -EINVAL);
        assert_int_equal(unhexchar('/'), -EINVAL);
        assert_int_equal(unhexchar(':'), -EINVAL);
        assert_int_equal(unhexchar('@'), -EINVAL);
        assert_int_equal(unhexchar('`'), -EINVAL);
        assert_int_equal(unhexchar('\0'), -EINVAL);
        assert_int_equal(unhexchar((char)0xc1), -EINVAL);
}

static void test_strv(void **state) {
        char *a[] = { (char *)"x", (char *)"y", NULL }, *b[] = { (char *)"z", NULL };
        char **l = strv_concat(a, b);

        assert_non_null(l);
        assert_int_equal(strv_length(l), 3);
        assert_string_equal(l[0], "x");
        assert_string_equal(l[2], "z");
        assert_null(l[3]);
        assert_ptr_not_equal(l[0], a[0]); /* copies */
        assert_null(strv_free(l));
        l = strv_concat(NULL, NULL); /* an empty list, not NULL */
        assert_non_null(l);
        assert_int_equal(strv_length(l), 0);
        strv_free(l);
        assert_int_equal(strv_length(NULL), 0);
        assert_null(strv_free(NULL));
}

typedef enum Colour {
        COLOUR_RED,
        COLOUR_GREEN,
        COLOUR_UNNAMED, /* a hole in the table */
        COLOUR_BLUE,
        _COLOUR_MAX,
        _COLOUR_INVALID = -EINVAL,
} Colour;

static const char *const colour_table[_COLOUR_MAX] = {
        [COLOUR_RED] = "red", [COLOUR_GREEN] = "green", [COLOUR_BLUE] = "blue",
};
static const char *colour_to_string(Colour c);
static Colour colour_from_string(const char *s);
DEFINE_STRING_TABLE_LOOKUP(colour, Colour);

static void test_string_table(void **state) {
        assert_string_equal(colour_to_string(COLOUR_RED), "red");
        assert_string_equal(colour_to_string(COLOUR_BLUE), "blue");
        assert_null(colour_to_string(COLOUR_UNNAMED));
        assert_null(colour_to_string(_COLOUR_MAX));
        assert_null(colour_to_string(_COLOUR_INVALID));
        assert_int_equal(colour_from_string("green"), COLOUR_GREEN);
        assert_int_equal(colour_from_string("blue"), COLOUR_BLUE);
        assert_int_equal(colour_from_string("Blue"), _COLOUR_INVALID);
        assert_int_equal(colour_from_string(""), _COLOUR_INVALID);
        assert_int_equal(colour_from_string(NULL), _COLOUR_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wstatus_to_string),
                cmocka_unit_test(test_exit_to_string),
                cmocka_unit_test(test_memory_pressure_to_string),
                cmocka_unit_test(test_startswith),
                cmocka_unit_test(test_unhexchar),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_string_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
