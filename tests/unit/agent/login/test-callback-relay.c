/* Unit tests for agent/login/callback-relay.c's pure parts: the query
 * check and the port a redirect_uri names.  Who holds the callback port
 * is the kernel's answer (tests/adapter/common/test-sock-diag.c,
 * tests/netns/test_callback.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/login/callback-relay.h"
#include "macro.h"

static void test_query_ok(void **state) {
        assert_true(callback_relay_query_ok("code=a&state=b"));
        assert_true(callback_relay_query_ok(""));
        assert_false(callback_relay_query_ok("code=a b"));
        assert_false(callback_relay_query_ok("code=a\r\nX: y"));
        assert_false(callback_relay_query_ok("code=\x7f"));
        /* Which of two states or codes counts is not guessed. */
        assert_false(callback_relay_query_ok("code=a&state=b&state=c"));
        assert_false(callback_relay_query_ok("state=b&code=a&x=1&code=z"));
        assert_false(callback_relay_query_ok("state&state=b"));
        assert_true(callback_relay_query_ok("code=a&state=b&STATE=c&states=d&xstate=e&code_verifier=f"));
        /* A CLI that decodes keys would read a second state or code. */
        assert_false(callback_relay_query_ok("state=b&code=a&st%61te=c"));
        assert_false(callback_relay_query_ok("state=b&code=a&%63ode=z"));
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
                cmocka_unit_test(test_query_ok),
                cmocka_unit_test(test_redirect_port),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
