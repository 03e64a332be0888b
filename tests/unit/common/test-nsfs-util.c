/* nsfs_is_machine_init(), pure: which PID 1 is the machine's own init,
 * and so may remount the machine's root read-only at shutdown; and
 * nsfs_inode() on this process's own PID namespace and on no file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "nsfs-util.h"

static void test_machine_init(void **state) {
        static const struct {
                pid_t pid;
                uint64_t pidns_ino;
                bool want;
        } cases[] = {
                /* The VM's init= (the kernel's static number for the
                 * initial PID namespace, include/linux/proc_ns.h). */
                { 1, 0xEFFFFFFC, true },
                /* The init of `unshare --pid --fork` (tests/netns) or of
                 * a container: PID 1 too, in a dynamically numbered
                 * namespace, sharing the machine's root. */
                { 1, 0xF0000000, false },
                { 1, 0xF0001234, false },
                /* Another initial namespace's number: the network one. */
                { 1, 0xEFFFFFF9, false },
                /* A systemd service in the initial namespace. */
                { 2, 0xEFFFFFFC, false },
                { 4321, 0xEFFFFFFC, false },
                /* No /proc to tell: never. */
                { 1, 0, false },
                /* The low half alone does not make the number. */
                { 1, UINT64_C(0x1EFFFFFFC), false },
                { 0, 0xEFFFFFFC, false },
                { -1, 0xEFFFFFFC, false },
        };

        (void)state;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                assert_int_equal(nsfs_is_machine_init(cases[i].pid, cases[i].pidns_ino), cases[i].want);
}

static void test_inode(void **state) {
        (void)state;
        /* Unit tests never run as PID 1, in any namespace. */
        assert_false(nsfs_is_machine_init(getpid(), nsfs_inode("/proc/self/ns/pid")));
        assert_int_equal(nsfs_inode("/nonexistent/ns/pid"), 0);
        if (nsfs_inode("/proc/self/ns/pid") == 0)
                skip(); /* no /proc here */
        assert_true(nsfs_inode_is("/proc/self/ns/pid", (uint32_t)nsfs_inode("/proc/self/ns/pid")));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_machine_init),
                cmocka_unit_test(test_inode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
