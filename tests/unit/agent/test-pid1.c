/* Unit tests for agent/pid1.c's pure part: deciding from mountinfo text
 * whether something is mounted on a path.  A wrong "mounted" skips a
 * mount PID 1 needs; a wrong "missing" mounts over a container's /dev. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/pid1.h"

static const char mountinfo[] =
        "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
        "24 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,size=4096k\n"
        "25 24 0:22 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts rw,gid=5\n"
        "26 22 0:23 / /run/user/0 rw,nosuid,nodev shared:4 - tmpfs tmpfs rw\n"
        "27 22 0:24 / /tmpdata rw shared:5 - tmpfs tmpfs rw";  /* no final newline */

static void test_mountinfo_has(void **state) {
        assert_true(pid1_mountinfo_has(mountinfo, "/"));
        assert_true(pid1_mountinfo_has(mountinfo, "/proc"));
        assert_true(pid1_mountinfo_has(mountinfo, "/dev"));
        assert_true(pid1_mountinfo_has(mountinfo, "/dev/pts"));
        assert_true(pid1_mountinfo_has(mountinfo, "/tmpdata"));
        /* Prefixes of mount points are not mount points. */
        assert_false(pid1_mountinfo_has(mountinfo, "/run"));
        assert_false(pid1_mountinfo_has(mountinfo, "/tmp"));
        assert_false(pid1_mountinfo_has(mountinfo, "/dev/shm"));
        assert_false(pid1_mountinfo_has(mountinfo, "/sys"));
        /* The source field (field 4) is not the mount point. */
        assert_false(pid1_mountinfo_has("30 1 0:1 /sys /x rw - sysfs sysfs rw\n", "/sys"));
        assert_false(pid1_mountinfo_has("", "/proc"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mountinfo_has),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
