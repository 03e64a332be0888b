/* Unit tests for agent/login/callback-relay.c's pure parts: the query
 * check and who holds the callback port (/proc/net/tcp text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/login/callback-relay.h"

#define HEAD "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
/* 127.0.0.1:1455 (0x05AF) listening, uid 5; 0.0.0.0:22 listening, uid 0;
 * 127.0.0.1:1455 connected (not a listener), uid 7. */
#define TCP HEAD                                                                                          \
        "   0: 0100007F:05AF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     5        0 11 1\n"  \
        "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12 1\n"  \
        "   2: 0100007F:05AF 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     7        0 13 1\n"

static void test_listener_owner(void **state) {
        uid_t other = 4242;

        assert_int_equal(callback_relay_listener_owner(TCP, false, 1455, 5, &other), 1);
        assert_int_equal(other, 4242);
        assert_int_equal(callback_relay_listener_owner(TCP, false, 1455, 6, &other), 0);
        assert_int_equal(other, 5);
        /* The wildcard takes 127.0.0.1 too. */
        assert_int_equal(callback_relay_listener_owner(TCP, false, 22, 5, &other), 0);
        assert_int_equal(other, 0);
        assert_int_equal(callback_relay_listener_owner(TCP, false, 1457, 5, NULL), -ENOENT);
        assert_int_equal(callback_relay_listener_owner(HEAD, false, 1455, 5, NULL), -ENOENT);
        assert_int_equal(callback_relay_listener_owner("", false, 1455, 5, NULL), -ENOENT);
        assert_int_equal(callback_relay_listener_owner(NULL, false, 1455, 5, NULL), -ENOENT);
        /* Another address (10.0.2.15:1455) is not where the relay connects. */
        assert_int_equal(callback_relay_listener_owner(HEAD "   0: 0F02000A:05AF 00000000:0000 0A 0 0 0 9 0 1 1\n",
                                                       false, 1455, 5, NULL), -ENOENT);
        /* Each field is taken whole: a state "0A$0" is no listener, nor a
         * port "05AFF"; a listener whose uid field is no uid (signed, or
         * missing) is nobody's, so not the CLI's. */
        assert_int_equal(callback_relay_listener_owner(HEAD "   0: 0100007F:05AF 00000000:0000 0A$0 0 0 9 5 1 1\n",
                                                       false, 1455, 5, NULL), -ENOENT);
        assert_int_equal(callback_relay_listener_owner(HEAD "   0: 0100007F:05AFF 00000000:0000 0A 0 0 0 5 0 1 1\n",
                                                       false, 1455, 5, NULL), -ENOENT);
        other = 5;
        assert_int_equal(callback_relay_listener_owner(HEAD "   0: 0100007F:05AF 00000000:0000 0A 0 0 0 -0007F 0 1\n",
                                                       false, 1455, 5, &other), 0);
        assert_int_equal(other, (uid_t)-1);
        other = 5;
        assert_int_equal(callback_relay_listener_owner(HEAD "   0: 0100007F:05AF 00000000:0000 0A\n",
                                                       false, 1455, 5, &other), 0);
        assert_int_equal(other, (uid_t)-1);
}

static void test_listener_owner_v6(void **state) {
        const char *any = HEAD "   0: 00000000000000000000000000000000:05AF 00000000000000000000000000000000:0000 0A "
                               "00000000:00000000 00:00000000 00000000     9        0 1 1\n";
        const char *mapped = HEAD "   0: 0000000000000000FFFF00000100007F:05AF 00000000000000000000000000000000:0000 0A "
                                  "00000000:00000000 00:00000000 00000000     9        0 1 1\n";
        const char *mapped_any = HEAD "   0: 0000000000000000FFFF000000000000:05AF 00000000000000000000000000000000:0000 0A "
                                      "00000000:00000000 00:00000000 00000000     9        0 1 1\n";
        const char *mapped_other = HEAD "   0: 0000000000000000FFFF00000200007F:05AF 00000000000000000000000000000000:0000 0A "
                                        "00000000:00000000 00:00000000 00000000     9        0 1 1\n";
        const char *lo6 = HEAD "   0: 00000000000000000000000001000000:05AF 00000000000000000000000000000000:0000 0A "
                               "00000000:00000000 00:00000000 00000000     9        0 1 1\n";
        uid_t other = 0;

        assert_int_equal(callback_relay_listener_owner(any, true, 1455, 5, &other), 0);
        assert_int_equal(other, 9);
        assert_int_equal(callback_relay_listener_owner(mapped, true, 1455, 5, &other), 0);
        assert_int_equal(callback_relay_listener_owner(mapped, true, 1455, 9, NULL), 1);
        /* [::ffff:0.0.0.0]:port takes every IPv4 connection to the port. */
        other = 0;
        assert_int_equal(callback_relay_listener_owner(mapped_any, true, 1455, 5, &other), 0);
        assert_int_equal(other, 9);
        /* 127.0.0.2 is another address; ::1 takes no connection to 127.0.0.1. */
        assert_int_equal(callback_relay_listener_owner(mapped_other, true, 1455, 5, NULL), -ENOENT);
        assert_int_equal(callback_relay_listener_owner(lo6, true, 1455, 5, NULL), -ENOENT);
}

static void test_query_ok(void **state) {
        assert_true(callback_relay_query_ok("code=a&state=b"));
        assert_true(callback_relay_query_ok(""));
        assert_false(callback_relay_query_ok("code=a b"));
        assert_false(callback_relay_query_ok("code=a\r\nX: y"));
        assert_false(callback_relay_query_ok("code=\x7f"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_listener_owner),
                cmocka_unit_test(test_listener_owner_v6),
                cmocka_unit_test(test_query_ok),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
