/* Unit tests for agent/transcript.c: ANSI stripped, secrets redacted
 * (even split across reads), bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <jansson.h>

#include "agent/login/transcript.h"
#include "macro.h"

static void check_redact(const char *in, const char *want) {
        _cleanup_(freep) char *o = redact_secrets(in);
        assert_string_equal(o, want);
}

static void test_redact(void **state) {
        check_redact("https://x/cb?code=AbC123&state=s3cr3t&scope=openid",
                     "https://x/cb?code=[REDACTED]&state=[REDACTED]&scope=openid");
        check_redact("GET /auth/callback?code_verifier=v&x=1 HTTP/1.1",
                     "GET /auth/callback?code_verifier=[REDACTED]&x=1 HTTP/1.1");
        check_redact("{\"access_token\": \"sk-ant-oat01-xyz\", \"expiresAt\": 5}",
                     "{\"access_token\": \"[REDACTED]\", \"expiresAt\": 5}");
        check_redact("{\"refreshToken\":\"r1\",\"scopes\":[\"a\"]}",
                     "{\"refreshToken\":\"[REDACTED]\",\"scopes\":[\"a\"]}");
        check_redact("Authorization: Bearer abc.def.ghi now", "Authorization: Bearer [REDACTED] now");
        check_redact("OPENAI_API_KEY=sk-123 done", "OPENAI_API_KEY=[REDACTED] done");
        /* Names match whole words: "barcode" is not "code". */
        check_redact("barcode=1 encode=2 scope=3", "barcode=1 encode=2 scope=3");
        check_redact("no secrets here", "no secrets here");
        check_redact("code=", "code=");
        /* Quoted values, blanks around the separator, single quotes, YAML
         * and header style; '-' in a name as '_'. */
        check_redact("API_KEY=\"sk-1 2\" next", "API_KEY=\"[REDACTED]\" next");
        check_redact("token='a b' next", "token='[REDACTED]' next");
        check_redact("{\"access_token\" : \"x y\"}", "{\"access_token\" : \"[REDACTED]\"}");
        check_redact("{'refresh_token': 'r1', 'scope': 'a'}", "{'refresh_token': '[REDACTED]', 'scope': 'a'}");
        check_redact("access_token: abc123", "access_token: [REDACTED]");
        check_redact("x-api-key: k1 rest", "x-api-key: [REDACTED] rest");
        check_redact("Authorization: Basic dXNlcjpwdw==", "Authorization: Basic [REDACTED]");
        check_redact("authorization=Bearer abc", "authorization=Bearer [REDACTED]");
        /* A quote that opens a value, not a name; escaped quotes; options,
         * dashed names, blanks after the scheme. */
        check_redact("body 'code=SECRET' and \"state=S2&x=1\"", "body 'code=[REDACTED]' and \"state=[REDACTED]&x=1\"");
        check_redact("{\"password\": \"ab\\\"SECRET\"} x", "{\"password\": \"[REDACTED]\"} x");
        check_redact("--state=S1 --apikey=K1 --nonce=N1", "--state=[REDACTED] --apikey=[REDACTED] --nonce=[REDACTED]");
        check_redact("x-auth: A1 oauth-state=S3 user-session=U1",
                     "x-auth: [REDACTED] oauth-state=[REDACTED] user-session=[REDACTED]");
        check_redact("Proxy-Authorization: Basic X1", "Proxy-Authorization: Basic [REDACTED]");
        check_redact("Authorization: Bearer  X2 end", "Authorization: Bearer  [REDACTED] end");
        /* A quoted word that is not a name, a name without a separator. */
        check_redact("\"token is missing\"", "\"token is missing\"");
        check_redact("the token expired", "the token expired");
        check_redact("https://a.example/x", "https://a.example/x");
}

static void test_strip_split_bounded(void **state) {
        Transcript *t = NULL;
        _cleanup_(freep) char *a = NULL, *b = NULL;

        assert_int_equal(transcript_new(64, &t), 0);
        transcript_feed(t, "\x1b[1mHello\x1b[0m\r\nopen https://x/?co", 33);
        transcript_feed(t, "de=SECRET", 9);
        a = transcript_text(t);
        /* The unfinished line is redacted too. */
        assert_string_equal(a, "Hello\nopen https://x/?code=[REDACTED]");
        transcript_feed(t, "&z=1\nline three is long enough to pass the limit of 64\n", 55);
        b = transcript_text(t);
        assert_int_equal(strlen(b), 64);
        assert_string_equal(b, "Hello\nopen https://x/?code=[REDACTED]&z=1\nline three is long eno");
        assert_int_equal(t->dropped, 28);
        assert_null(strstr(b, "SECRET"));
        transcript_free(t);
}

static void feed(Transcript *t, const char *s) {
        transcript_feed(t, s, strlen(s));
}

/* Strings a terminal never shows (DCS, APC, PM, SOS, as OSC) are not
 * text: one between a name and its value leaves the value redacted, a
 * line break inside one breaks no line, and their payloads are not kept. */
static void test_strings_dropped(void **state) {
        Transcript *t = NULL;
        _cleanup_(freep) char *a = NULL;

        assert_int_equal(transcript_new(1024, &t), 0);
        feed(t, "x?code\x1bPx\x1b\\=SECRET1&y\n");
        feed(t, "x?code=\x1b_G\n;\x1b\\SECRET2&y\n");
        feed(t, "a\x1b^https://pm.example/\x1b\\b\x1bXsos\x07" "c\n");
        /* Split across reads, the terminator too. */
        feed(t, "token\x1b_x\x1b");
        feed(t, "\\: SECRET3\n");
        a = transcript_text(t);
        assert_string_equal(a, "x?code=[REDACTED]&y\nx?code=[REDACTED]&y\nabc\ntoken: [REDACTED]\n");
        transcript_free(t);
}

/* Text written after the cursor moved (a spinner's \r, \b, an erase
 * or a cursor move, a cursor restore) is a word of its own: a name it
 * starts with is found and its value redacted.  Colours, modes and
 * strings move nothing: a URL coloured in parts stays whole. */
static void test_cursor_moves_break_words(void **state) {
        Transcript *t = NULL;
        _cleanup_(freep) char *a = NULL;

        assert_int_equal(transcript_new(1024, &t), 0);
        feed(t, "Waiting\rcode=SECRET1\n");
        feed(t, "Waiting\x1b[2K\x1b[1Gstate=SECRET2\n");
        feed(t, "abc\x1b");
        feed(t, "8token: SECRET3\n");
        feed(t, "x\bapi_key=SECRET4\n");
        feed(t, "open https://\x1b[4mx/?co\x1b[24mde=SECRET5\x1b[?25l&y\n");
        feed(t, "Wait\r\n");
        feed(t, "done: \x1b[Kok\n");
        a = transcript_text(t);
        assert_string_equal(a, "Waiting code=[REDACTED]\nWaiting state=[REDACTED]\nabc token: [REDACTED]\n"
                               "x api_key=[REDACTED]\nopen https://x/?code=[REDACTED]&y\nWait\ndone: ok\n");
        transcript_free(t);
}

/* A line longer than TRANSCRIPT_LINE_MAX: its head is redacted and kept,
 * the rest dropped up to the newline.  Kept as a line of its own, the
 * rest would show the tail of the token cut at the limit. */
static void test_overlong_line(void **state) {
        Transcript *t = NULL;
        _cleanup_(freep) char *a = NULL, *expect = NULL;
        char head[8181];

        memset(head, 'x', 8180);
        head[8180] = '\0';
        assert_int_equal(transcript_new(20000, &t), 0);
        transcript_feed(t, head, 8180);
        transcript_feed(t, " token=ABCDEFGHIJKLMNOP rest\nnext\n", 35);
        a = transcript_text(t);
        assert_int_equal(asprintf(&expect, "%s token=[REDACTED]\nnext\n", head) > 0, 1);
        assert_string_equal(a, expect);
        assert_int_equal(t->dropped, 16);
        transcript_free(t);
}

/* The text becomes the start answer's cliOutput, a JSON string, which
 * takes only whole UTF-8: a limit that cuts a character (Gemini CLI's
 * spinner glyphs are 3 bytes) or a byte that is no UTF-8 must not make
 * it no string at all (the start answered 500). */
static void check_utf8(const char *text) {
        json_t *j = json_string(text);

        assert_non_null(j);
        json_decref(j);
}

static void test_utf8_kept_whole(void **state) {
        Transcript *t = NULL;
        char line[9000];
        size_t n = 0;

        /* Past the limit: 999 = 142 lines of 7 bytes, a glyph and 2 bytes. */
        assert_int_equal(transcript_new(999, &t), 0);
        for (int i = 0; i < 150; i++)
                transcript_feed(t, "\xe2\xa0\x8b\xe2\xa0\x99\n", 7);
        _cleanup_(freep) char *a = transcript_text(t);
        check_utf8(a);
        assert_int_equal(strlen(a), 999);
        assert_string_equal(a + 994, "\xe2\xa0\x8b??");
        t = transcript_free(t);

        /* A line past TRANSCRIPT_LINE_MAX (8192 = 2730 glyphs and 2 bytes). */
        assert_int_equal(transcript_new(20000, &t), 0);
        for (; n + 3 <= 8200; n += 3)
                memcpy(line + n, "\xe2\xa0\x8b", 3);
        transcript_feed(t, line, n);
        transcript_feed(t, "\n", 1);
        _cleanup_(freep) char *b = transcript_text(t);
        check_utf8(b);
        /* And the unfinished line, cut at the limit as well. */
        transcript_feed(t, line, n);
        _cleanup_(freep) char *c = transcript_text(t);
        check_utf8(c);
        t = transcript_free(t);

        /* Bytes that are no UTF-8 at all (Latin-1, a lone C1 byte). */
        assert_int_equal(transcript_new(100, &t), 0);
        transcript_feed(t, "caf\xe9 \x9b ok \xed\xa0\x80\n", 15);
        _cleanup_(freep) char *d = transcript_text(t);
        assert_string_equal(d, "caf? ? ok ???\n");
        t = transcript_free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_redact),
                cmocka_unit_test(test_strip_split_bounded),
                cmocka_unit_test(test_strings_dropped),
                cmocka_unit_test(test_cursor_moves_break_words),
                cmocka_unit_test(test_overlong_line),
                cmocka_unit_test(test_utf8_kept_whole),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
