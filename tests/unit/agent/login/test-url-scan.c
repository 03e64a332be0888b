/* Unit tests for agent/url-scan.c: URLs in colour, split across reads,
 * hard-wrapped at the terminal width, in OSC 8 links; bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/login/url-scan.h"
#include "macro.h"

static char *const patterns[] = { (char *)"https://auth.example.com/oauth/authorize?", NULL };
#define URL "https://auth.example.com/oauth/authorize?client_id=abc&state=xyz&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback"

static const char *scan(unsigned cols, const char *const *chunks, bool flush) {
        static char out[URL_SCAN_MAX + 1];
        UrlScan *s = NULL;
        int r = 0;

        assert_int_equal(url_scan_new(patterns, cols, &s), 0);
        for (; *chunks; chunks++)
                r = url_scan_feed(s, *chunks, strlen(*chunks));
        if (flush)
                r = url_scan_flush(s);
        snprintf(out, sizeof out, "%s", r == 1 ? url_scan_url(s) : "(none)");
        url_scan_free(s);
        return out;
}

static void test_plain_and_coloured(void **state) {
        assert_string_equal(scan(0, (const char *[]) { "Open this:\n" URL "\n", NULL }, false), URL);
        /* SGR inside the URL (a TUI underlining part of it) is transparent. */
        assert_string_equal(scan(0, (const char *[]) { "\x1b[4mhttps://auth.example.com/oauth/\x1b[1;34mauthorize?client_id=abc\x1b[0m\n", NULL }, false),
                            "https://auth.example.com/oauth/authorize?client_id=abc");
        /* Sentence punctuation after the URL is not part of it. */
        assert_string_equal(scan(0, (const char *[]) { "Visit " URL ". Then wait\n", NULL }, false), URL);
        /* Other URLs first (the CLI's own listener) do not match. */
        assert_string_equal(scan(0, (const char *[]) { "Listening on http://localhost:1455\r\n", URL "\r\n", NULL }, false), URL);
        /* Not terminated yet: not a capture until the token ends. */
        assert_string_equal(scan(0, (const char *[]) { URL, NULL }, false), "(none)");
        assert_string_equal(scan(0, (const char *[]) { URL, NULL }, true), URL);
        assert_string_equal(scan(0, (const char *[]) { "https://evil.example.com/oauth/authorize?x=1\n", NULL }, true), "(none)");
}

static void test_split_reads(void **state) {
        /* The URL and an escape sequence both cut in the middle. */
        assert_string_equal(scan(0, (const char *[]) { "go: https://auth.exa", "mple.com/oauth/authorize?a=1\x1b", "[0", "m&b=2\n", NULL }, false),
                            "https://auth.example.com/oauth/authorize?a=1&b=2");
}

static void test_wrapped(void **state) {
        /* 39 columns: the CLI broke the URL at the edge with CR LF. */
        assert_string_equal(scan(39, (const char *[]) {
                                         "https://auth.example.com/oauth/authoriz\r\n"
                                         "e?client_id=abc&state=xyz\r\n", NULL }, false),
                            "https://auth.example.com/oauth/authorize?client_id=abc&state=xyz");
        /* A line shorter than the width really ends there. */
        assert_string_equal(scan(39, (const char *[]) {
                                         "https://auth.example.com/oauth/authorize?a\r\n"
                                         "next\r\n", NULL }, false),
                            "https://auth.example.com/oauth/authorize?a"); /* not "...?anext" */
}

static void test_osc8(void **state) {
        assert_string_equal(scan(0, (const char *[]) { "\x1b]8;;" URL "\x1b\\Sign in\x1b]8;;\x1b\\\n", NULL }, false), URL);
}

static void test_bounded(void **state) {
        UrlScan *s = NULL;
        char big[20000];

        memset(big, 'a', sizeof big);
        assert_int_equal(url_scan_new(patterns, 0, &s), 0);
        assert_int_equal(url_scan_feed(s, "https://auth.example.com/oauth/authorize?x=", 43), 0);
        assert_int_equal(url_scan_feed(s, big, sizeof big), 0);
        /* The over-long token is dropped whole, not truncated into a match. */
        assert_int_equal(url_scan_feed(s, "\n", 1), 0);
        assert_int_equal(url_scan_feed(s, URL "\n", strlen(URL) + 1), 1);
        assert_string_equal(url_scan_url(s), URL);
        url_scan_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_and_coloured),
                cmocka_unit_test(test_split_reads),
                cmocka_unit_test(test_wrapped),
                cmocka_unit_test(test_osc8),
                cmocka_unit_test(test_bounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
