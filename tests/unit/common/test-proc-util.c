/* Unit tests for common/proc-util.c: /proc/PID/status as the kernel
 * writes it, and what is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proc-util.h"

static void test_parse(void **state) {
        ProcStatus s = {};

        assert_int_equal(proc_status_parse("Name:\tx11vnc\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\n"
                                           "Ngid:\t0\nPid:\t42\nPPid:\t1\nTracerPid:\t0\n"
                                           "Uid:\t101\t101\t101\t101\nGid:\t102\t102\t102\t102\n", &s), 0);
        assert_int_equal(s.state, 'S');
        assert_int_equal(s.ppid, 1);
        assert_int_equal(s.uid, 101);
        /* A zombie; a name that looks like a field does not count. */
        assert_int_equal(proc_status_parse("Name:\tUid: 0\nState:\tZ (zombie)\nPPid:\t7\n"
                                           "Uid:\t65534\t0\t0\t0\n", &s), 0);
        assert_int_equal(s.state, 'Z');
        assert_int_equal(s.ppid, 7);
        assert_int_equal(s.uid, 65534);
}

static void test_refused(void **state) {
        static const char *const bad[] = {
                "",
                "State:\tS\nPPid:\t1\n",                       /* no Uid */
                "State:\tS\nUid:\t1\t1\t1\t1\n",               /* no PPid */
                "PPid:\t1\nUid:\t1\t1\t1\t1\n",                /* no State */
                "State:\tS\nPPid:\t-1\nUid:\t1\t1\t1\t1\n",
                "State:\tS\nPPid:\t1\nUid:\tx\n",
                "State:\tS\nPPid:\t1\nUid:\t4294967295\t0\t0\t0\n",
                "State:\tS\nPPid:\t99999999999999999999\nUid:\t1\n",
                "State:\t\nPPid:\t1\nUid:\t1\n",
        };
        ProcStatus s = {};

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(proc_status_parse(bad[i], &s), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
