/* Unit tests for agent/login/url-scan.c on screens rendered by screen.c:
 * Codex's and Gemini CLI's URL lines as they print them, URLs in colour,
 * split across reads, wrapped across rows, still being written, in OSC 8
 * links; bounded. */
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

/* Feeds each chunk to a rows x cols screen, scanning after each as the
 * runner does (and once more as at the end of the output when final);
 * returns the first URL found or "(none)". */
static const char *scan_with(char *const *pats, unsigned rows, unsigned cols, const char *const *chunks, bool final) {
        static char out[URL_SCAN_MAX + 1];
        _cleanup_(screen_freep) Screen *s = NULL;
        char *url = NULL;
        ScreenView v;

        assert_int_equal(screen_new(rows, cols, 0, &s), 0);
        for (; *chunks && !url; chunks++) {
                screen_feed(s, *chunks, strlen(*chunks));
                assert_int_equal(screen_look(s, &v), 0);
                assert_true(url_scan(pats, &v, false, &url) >= 0);
        }
        if (!url && final) {
                assert_int_equal(screen_look(s, &v), 0);
                assert_true(url_scan(pats, &v, true, &url) >= 0);
        }
        snprintf(out, sizeof out, "%s", url ?: "(none)");
        free(url);
        return out;
}

static const char *scan(unsigned cols, const char *const *chunks, bool final) {
        return scan_with(patterns, 50, cols, chunks, final);
}

#define CHUNKS(...) (const char *[]) { __VA_ARGS__, NULL }

static void test_codex(void **state) {
        static char *const codex[] = { (char *)"https://auth.openai.com/oauth/authorize?", NULL };
        const char *url = "https://auth.openai.com/oauth/authorize?response_type=code&client_id=app_EMoamEEZ73f0CkXaXp7hrann"
                          "&redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback&code_challenge=JUyE1my1ao9l643OXjtlSz_O_Z45wir_zDdtPFIDYJ8"
                          "&code_challenge_method=S256&state=IdXiCfPPZ-3CIXxe_fe8QjD8LZA15_qQ7eIK5HkkDaM"
                          "&scope=openid+profile+email+offline_access+api.connectors.read+api.connectors.invoke"
                          "&id_token_add_organizations=true&codex_cli_simplified_flow=true&originator=codex_cli_rs";
        char lines[2048];

        /* Codex 0.171.0, byte for byte: plain text, the listener's URL
         * first, the URL alone on its line. */
        snprintf(lines, sizeof lines,
                 "Starting local login server on http://localhost:1455.\r\n"
                 "If your browser did not open, navigate to this URL to authenticate:\r\n\r\n%s\r\n\r\n"
                 "On a remote or headless machine? Use `codex login --device-auth` instead.\r\n", url);
        assert_string_equal(scan_with(codex, 50, 1000, CHUNKS(lines), false), url);
        /* On an 80-column terminal the same line wraps over six rows. */
        assert_string_equal(scan_with(codex, 24, 80, CHUNKS(lines), false), url);
}

static void test_gemini(void **state) {
        static char *const google[] = { (char *)"https://accounts.google.com/o/oauth2/v2/auth?", NULL };
        const char *url = "https://accounts.google.com/o/oauth2/v2/auth?redirect_uri=http%3A%2F%2F127.0.0.1%3A42399%2Foauth2callback"
                          "&access_type=offline&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform"
                          "&state=f7066b22f079cd69&response_type=code&client_id=681255809395.apps.googleusercontent.com";
        char lines[2048];

        /* Gemini CLI 0.61.0 at 1000 columns: indented, in colour, after
         * "Otherwise navigate to:", while a spinner goes on below. */
        snprintf(lines, sizeof lines,
                 "\xe2\x84\xb9 Attempting to open authentication page in your browser.\r\n"
                 "  \x1b[38;5;229mOtherwise navigate to:\x1b[39m\r\n  \x1b[38;5;147m%s\x1b[39m\r\n\r\n"
                 "\xe2\xa0\x8b Waiting for authentication... (Press Esc or Ctrl+C to cancel)", url);
        assert_string_equal(scan_with(google, 50, 1000, CHUNKS(lines), false), url);
}

static void test_plain_and_coloured(void **state) {
        static char *const local[] = { (char *)"http://127.0.0.1:", NULL };

        assert_string_equal(scan(1000, CHUNKS("Open this:\r\n" URL "\r\n"), false), URL);
        /* SGR inside the URL (a TUI underlining part of it) is transparent. */
        assert_string_equal(scan(1000, CHUNKS("\x1b[4mhttps://auth.example.com/oauth/\x1b[1;34mauthorize?client_id=abc\x1b[0m\r\n"), false),
                            "https://auth.example.com/oauth/authorize?client_id=abc");
        /* Sentence punctuation after the URL is not part of it. */
        assert_string_equal(scan(1000, CHUNKS("Visit " URL ". Then wait\r\n"), false), URL);
        /* Other URLs first (the CLI's own listener) do not match. */
        assert_string_equal(scan(1000, CHUNKS("Listening on http://localhost:1455\r\n", URL "\r\n"), false), URL);
        assert_string_equal(scan(1000, CHUNKS("https://evil.example.com/oauth/authorize?x=1\r\n"), true), "(none)");
        /* A bracket around it is not part of it; one it opened is. */
        assert_string_equal(scan(1000, CHUNKS("[" URL "]\r\n"), false), URL);
        assert_string_equal(scan(1000, CHUNKS("(" URL "])\r\n"), false), URL);
        assert_string_equal(scan(1000, CHUNKS("https://auth.example.com/oauth/authorize?a[0]=1]\r\n"), false),
                            "https://auth.example.com/oauth/authorize?a[0]=1");
        /* The prefix's host with userinfo is another host: no match. */
        assert_string_equal(scan_with(local, 50, 1000, CHUNKS("http://127.0.0.1:80@evil.example/x\r\n"), true), "(none)");
        assert_string_equal(scan_with(local, 50, 1000, CHUNKS("http://127.0.0.1:80.evil.example/x\r\n"), true), "(none)");
        assert_string_equal(scan_with(local, 50, 1000, CHUNKS("http://127.0.0.1:8123/x?y=@z\r\n"), true),
                            "http://127.0.0.1:8123/x?y=@z");
        /* Words placed with cursor moves end at the gap. */
        assert_string_equal(scan(1000, CHUNKS(URL "\x1b[3CNext\r\n"), false), URL);
}

static void test_still_being_written(void **state) {
        /* The cursor is right after it: more may come. */
        assert_string_equal(scan(1000, CHUNKS(URL), false), "(none)");
        assert_string_equal(scan(1000, CHUNKS(URL), true), URL);
        /* It did: the URL and an escape sequence both cut in the middle. */
        assert_string_equal(scan(1000, CHUNKS("go: https://auth.exa", "mple.com/oauth/authorize?a=1\x1b", "[0", "m&b=2\r\n"), false),
                            "https://auth.example.com/oauth/authorize?a=1&b=2");
        /* The cursor went elsewhere: finished. */
        assert_string_equal(scan(1000, CHUNKS(URL "\x1b[10;1H"), false), URL);
}

static void test_wrapped(void **state) {
        /* 39 columns: the terminal wrapped the URL at the edge... */
        assert_string_equal(scan(39, CHUNKS("https://auth.example.com/oauth/authorize?client_id=abc&state=xyz\r\n"), false),
                            "https://auth.example.com/oauth/authorize?client_id=abc&state=xyz");
        /* ...or the CLI broke it there with CR LF: the same screen. */
        assert_string_equal(scan(39, CHUNKS("https://auth.example.com/oauth/authoriz\r\n"
                                            "e?client_id=abc&state=xyz\r\n"), false),
                            "https://auth.example.com/oauth/authorize?client_id=abc&state=xyz");
        /* At the edge, before the rest came: not finished. */
        assert_string_equal(scan(39, CHUNKS("https://auth.example.com/oauth/authoriz"), false), "(none)");
        assert_string_equal(scan(39, CHUNKS("https://auth.example.com/oauth/authoriz", "e?a=1\r\n"), false),
                            "https://auth.example.com/oauth/authorize?a=1");
        /* A row shorter than the width really ends there. */
        assert_string_equal(scan(39, CHUNKS("https://auth.example.com/oauth/authorize?a\r\nnext\r\n"), false),
                            "https://auth.example.com/oauth/authorize?a"); /* not "...?anext" */
        /* Wrapped, and scrolled off the top of a small screen by the time
         * anyone looks. */
        assert_string_equal(scan_with(patterns, 3, 39, CHUNKS(URL "\r\n1\r\n2\r\n3\r\n4\r\n"), false), URL);
}

static void test_osc8(void **state) {
        /* The target, when the visible text is not the URL. */
        assert_string_equal(scan(1000, CHUNKS("\x1b]8;;" URL "\x1b\\Sign in\x1b]8;;\x1b\\\r\n"), false), URL);
        /* Nor is a URL inside an APC, PM or SOS: no terminal shows it. */
        assert_string_equal(scan(1000, CHUNKS("\x1b_" URL "\x1b\\\x1b^" URL "\x07\x1bX" URL "\x1b\\\r\n"), true), "(none)");
        /* A target with a blank in it is not a URL. */
        assert_string_equal(scan(1000, CHUNKS("\x1b]8;;https://auth.example.com/oauth/authorize? x\x1b\\Sign in\x1b]8;;\x1b\\\r\n"), true),
                            "(none)");
}

static void test_bounded(void **state) {
        char big[20000];

        /* A word over URL_SCAN_MAX is not a URL, not even its head. */
        memcpy(big, "https://auth.example.com/oauth/authorize?x=", 43);
        memset(big + 43, 'a', 9000);
        memcpy(big + 43 + 9000, "\r\n", 3);
        assert_string_equal(scan(1000, CHUNKS(big), true), "(none)");
        assert_string_equal(scan(1000, CHUNKS(big, URL "\r\n"), false), URL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_codex),
                cmocka_unit_test(test_gemini),
                cmocka_unit_test(test_plain_and_coloured),
                cmocka_unit_test(test_still_being_written),
                cmocka_unit_test(test_wrapped),
                cmocka_unit_test(test_osc8),
                cmocka_unit_test(test_bounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
