/* tmpfs_options(): the one pure part of common/mount-util.c.  The mounts
 * themselves are the netns tier's (tests/netns/test_login.py). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "macro.h"
#include "mount-util.h"

static void test_options(void **state) {
        char buf[128];

        (void)state;
        assert_int_equal(tmpfs_options(buf, sizeof buf, 64, 0710, 0, 1004), 0);
        assert_string_equal(buf, "size=64m,nr_inodes=16384,mode=0710,uid=0,gid=1004");
        assert_int_equal(tmpfs_options(buf, sizeof buf, 1, 01777, 7, 8), 0);
        assert_string_equal(buf, "size=1m,nr_inodes=256,mode=1777,uid=7,gid=8");
        /* The largest: 1 TiB, 2^28 inodes. */
        assert_int_equal(tmpfs_options(buf, sizeof buf, 1u << 20, 0700, 4294967294u, 4294967294u), 0);
        assert_string_equal(buf, "size=1048576m,nr_inodes=268435456,mode=0700,uid=4294967294,gid=4294967294");
}

static void test_refused(void **state) {
        char buf[128] = "untouched";
        char small[16];

        (void)state;
        assert_int_equal(tmpfs_options(buf, sizeof buf, 0, 0710, 0, 0), -EINVAL);
        assert_int_equal(tmpfs_options(buf, sizeof buf, (1u << 20) + 1, 0710, 0, 0), -EINVAL);
        assert_int_equal(tmpfs_options(buf, sizeof buf, UINT32_MAX, 0710, 0, 0), -EINVAL);
        assert_int_equal(tmpfs_options(buf, sizeof buf, 64, 010000, 0, 0), -EINVAL);
        assert_string_equal(buf, "untouched");
        assert_int_equal(tmpfs_options(small, sizeof small, 64, 0710, 0, 0), -ENOBUFS);
        assert_int_equal(tmpfs_options(buf, 0, 64, 0710, 0, 0), -ENOBUFS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_options),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
