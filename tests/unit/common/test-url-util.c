/* Unit tests for common/url-util.c and common/id-util.c: the strings
 * taken from outside that name something to open or route to.  Which URLs
 * may reach a browser's argv (hosts, ports, IPv6 literals; no userinfo, no
 * backslash), how much of one may be logged, and which provider ids may
 * name a route. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "id-util.h"
#include "macro.h"
#include "url-util.h"

static void test_provider_id_is_valid(void **state) {
        static const char *const good[] = { "codex", "claude_code", "gemini-cli", "oauth", "a", "0" };
        static const char *const bad[] = { "", "Codex", "a b", "a.b", "x)\nreceived: /etc/shadow (y", "caf\xc3\xa9",
                                           "a/b", "a:b" };
        char longest[66];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(provider_id_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(provider_id_is_valid(bad[i]));
        assert_false(provider_id_is_valid(NULL));
        memset(longest, 'a', 64);
        longest[64] = '\0';
        assert_true(provider_id_is_valid(longest));
        longest[64] = 'a';
        longest[65] = '\0';
        assert_false(provider_id_is_valid(longest));
}

static void test_url_loggable_len(void **state) {
        static const struct {
                const char *url, *logged;
        } cases[] = {
                { "https://a.example/authorize?code=SECRET#frag", "https://a.example" },
                { "https://a.example#access_token=SECRET", "https://a.example" },
                /* A path may hold a secret too (a sign-in link's token). */
                { "http://a.example:8080/verify/SECRET", "http://a.example:8080" },
                { "https://[::1]:9/p", "https://[::1]:9" },
                { "https://a.example?x=@y", "https://a.example" },
                { "https://a.example", "https://a.example" },
                /* Not http(s): only what precedes any '/', '?' or '#'. */
                { "file:///etc/passwd", "file:" },
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t n = url_loggable_len(cases[i].url);
                assert_int_equal(n, strlen(cases[i].logged));
                assert_memory_equal(cases[i].url, cases[i].logged, n);
        }
}

static void test_http_url_is_valid(void **state) {
        assert_true(http_url_is_valid("https://a.example/x?y=1"));
        assert_true(http_url_is_valid("http://127.0.0.1:8/"));
        assert_false(http_url_is_valid("https://"));
        assert_false(http_url_is_valid("https://@x/"));
        assert_false(http_url_is_valid("file:///etc/passwd"));
        assert_false(http_url_is_valid("javascript:alert(1)"));
        assert_false(http_url_is_valid("https://a/$(touch /tmp/x)"));
        assert_false(http_url_is_valid("https://a/\n"));
        assert_false(http_url_is_valid("-https://a/"));
        assert_false(http_url_is_valid("https://a/\xc3\xa9"));
        assert_false(http_url_is_valid(NULL));
        /* The authority: hosts, IPv6 literals and ports as browsers take
         * them; userinfo never (what follows the '@' is the real host). */
        assert_true(http_url_is_valid("https://a.example"));
        assert_true(http_url_is_valid("https://a.example?x=@y"));
        assert_true(http_url_is_valid("https://a.example/p@q#r@s"));
        assert_true(http_url_is_valid("http://[::1]:8080/"));
        assert_true(http_url_is_valid("http://[fd00::2]/"));
        assert_true(http_url_is_valid("http://127.0.0.1:65535/"));
        assert_false(http_url_is_valid("http://127.0.0.1:80@evil.example/x"));
        assert_false(http_url_is_valid("https://claude.com@evil.example/"));
        assert_false(http_url_is_valid("https://user:pw@a.example/"));
        assert_false(http_url_is_valid("http://127.0.0.1:80.evil.example/"));
        assert_false(http_url_is_valid("http://127.0.0.1:/"));
        assert_false(http_url_is_valid("http://127.0.0.1:123456/"));
        assert_false(http_url_is_valid("http://127.0.0.1:65536/"));
        assert_false(http_url_is_valid("http://a[b/"));
        assert_false(http_url_is_valid("http://a]:80/"));
        assert_false(http_url_is_valid("http://a:b:80/"));
        assert_false(http_url_is_valid("http://:80/"));
        assert_false(http_url_is_valid("http://[]/"));
        assert_false(http_url_is_valid("http://[::1/"));
        assert_false(http_url_is_valid("http://[::1]x/"));
        assert_false(http_url_is_valid("http://[::1]:/"));
        /* A browser reads a backslash as '/': the host would be evil.example. */
        assert_false(http_url_is_valid("https://evil.example\\claude.com/"));
        assert_false(http_url_is_valid("https://a.example/\\x"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_http_url_is_valid),
                cmocka_unit_test(test_provider_id_is_valid),
                cmocka_unit_test(test_url_loggable_len),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
