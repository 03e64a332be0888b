/* Unit tests for vnc/xauth.c: the exact bytes of the FamilyWild entry (as
 * `xauth -f F nlist` prints it: "ffff 0000  0001 37  0012 4d49…  0010 <cookie>"),
 * and a buffer too small. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vnc/xauth.h"

static void test_entry_bytes(void **state) {
        const uint8_t cookie[XAUTH_COOKIE_SIZE] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                                    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xff };
        static const uint8_t expected[] = {
                0xff, 0xff,                               /* FamilyWild */
                0x00, 0x00,                               /* no address */
                0x00, 0x03, '1', '4', '2',                /* display 142 */
                0x00, 0x12, 'M', 'I', 'T', '-', 'M', 'A', 'G', 'I', 'C', '-',
                'C', 'O', 'O', 'K', 'I', 'E', '-', '1',
                0x00, 0x10, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xff,
        };
        uint8_t buf[128];

        assert_int_equal(xauth_wild_entry(142, cookie, buf, sizeof buf), sizeof expected);
        assert_memory_equal(buf, expected, sizeof expected);
        /* Exactly big enough, and one byte short. */
        assert_int_equal(xauth_wild_entry(142, cookie, buf, sizeof expected), sizeof expected);
        assert_int_equal(xauth_wild_entry(142, cookie, buf, sizeof expected - 1), -ENOBUFS);
        /* Display 0: one digit. */
        assert_int_equal(xauth_wild_entry(0, cookie, buf, sizeof buf), sizeof expected - 2);
        assert_memory_equal(buf + 4, "\x00\x01" "0", 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_entry_bytes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
