/* Unit tests for agent/login/callback-relay.c's pure parts: the query
 * check, the port a redirect_uri names and who holds the callback port
 * (/proc/net/tcp text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/login/callback-relay.h"
#include "macro.h"

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

static void test_redirect_port(void **state) {
        uint16_t port = 4242;

        assert_int_equal(callback_relay_redirect_port("http://localhost:1455/auth/callback", "/auth/callback", &port), 0);
        assert_int_equal(port, 1455);
        assert_int_equal(callback_relay_redirect_port("http://127.0.0.1:1457/auth/callback", "/auth/callback", &port), 0);
        assert_int_equal(port, 1457);
        assert_int_equal(callback_relay_redirect_port("http://localhost:65535/cb", "/cb", &port), 0);
        assert_int_equal(port, 65535);
        port = 4242;
        static const char *const refused[] = {
                "http://localhost:65536/auth/callback",   /* past a port */
                "http://localhost:0/auth/callback",
                "http://localhost:01455/auth/callback",   /* another spelling */
                "http://localhost:/auth/callback",
                "http://localhost/auth/callback",         /* no port named */
                "http://localhost:1455/auth/callback?x=1",
                "http://localhost:1455/auth/callbackx",
                "http://localhost:1455/other",
                "http://localhost:1455",
                "http://localhost:+1455/auth/callback",
                "http://localhost.evil:1455/auth/callback",
                "http://10.0.2.2:1455/auth/callback",     /* not loopback */
                "https://localhost:1455/auth/callback",
                "HTTP://localhost:1455/auth/callback",
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                assert_int_equal(callback_relay_redirect_port(refused[i], "/auth/callback", &port), -EINVAL);
                assert_int_equal(port, 4242);
        }
        assert_int_equal(callback_relay_redirect_port(NULL, "/auth/callback", &port), -EINVAL);
        assert_int_equal(callback_relay_redirect_port("http://localhost:1455/auth/callback", NULL, &port), -EINVAL);
        assert_int_equal(port, 4242);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_listener_owner),
                cmocka_unit_test(test_listener_owner_v6),
                cmocka_unit_test(test_query_ok),
                cmocka_unit_test(test_redirect_port),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
