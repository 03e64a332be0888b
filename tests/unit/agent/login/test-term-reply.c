/* Unit tests for agent/term-reply.c: terminal query answers (Codex waits
 * for ESC[6n's answer) and prompt → keystroke rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/login/term-reply.h"
#include "macro.h"

static const char *feed(TermReply *t, const char *s) {
        static char out[256];
        ssize_t n = term_reply_feed(t, s, strlen(s), out, sizeof out - 1);

        assert_true(n >= 0);
        out[n] = '\0';
        return out;
}

static void test_cursor_position(void **state) {
        TermReply t;

        term_reply_init(&t, TERM_REPLY_CURSOR_POSITION, 50, 200);
        assert_string_equal(feed(&t, "\x1b[6n"), "\x1b[1;1R");
        assert_string_equal(feed(&t, "hello"), "");
        assert_string_equal(feed(&t, "\x1b[6n"), "\x1b[1;6R");
        assert_string_equal(feed(&t, "\r\nab\x1b[6n"), "\x1b[2;3R");
        assert_string_equal(feed(&t, "\x1b[10;20H\x1b[6n"), "\x1b[10;20R");
        assert_string_equal(feed(&t, "\x1b[3A\x1b[5D\x1b[6n"), "\x1b[7;15R");
        /* Moves clamp to the screen. */
        assert_string_equal(feed(&t, "\x1b[999;999H\x1b[6n"), "\x1b[50;200R");
        /* Split across reads. */
        assert_string_equal(feed(&t, "\x1b[1;1H\x1b["), "");
        assert_string_equal(feed(&t, "6n"), "\x1b[1;1R");
        /* Not enabled: no answer. */
        assert_string_equal(feed(&t, "\x1b[c\x1b[5n\x1b]11;?\x07"), "");
}

static void test_other_queries(void **state) {
        TermReply t;

        term_reply_init(&t, TERM_REPLY_DEVICE_ATTRIBUTES | TERM_REPLY_DEVICE_STATUS | TERM_REPLY_COLORS, 24, 80);
        assert_string_equal(feed(&t, "\x1b[c"), "\x1b[?1;2c");
        assert_string_equal(feed(&t, "\x1b[0c"), "\x1b[?1;2c");
        assert_string_equal(feed(&t, "\x1b[>c"), ""); /* secondary DA: not answered */
        assert_string_equal(feed(&t, "\x1b[5n"), "\x1b[0n");
        assert_string_equal(feed(&t, "\x1b]10;?\x1b\\"), "\x1b]10;rgb:ffff/ffff/ffff\x1b\\");
        assert_string_equal(feed(&t, "\x1b]11;?\x07"), "\x1b]11;rgb:0000/0000/0000\x1b\\");
        assert_string_equal(feed(&t, "\x1b[6n"), ""); /* cursor position not enabled */
}

static void test_nobufs(void **state) {
        TermReply t;
        char out[4];

        term_reply_init(&t, TERM_REPLY_CURSOR_POSITION, 24, 80);
        assert_int_equal(term_reply_feed(&t, "\x1b[6n", 4, out, sizeof out), -ENOBUFS);
}

static void test_prompts(void **state) {
        ProviderPrompt rules[] = {
                { (char *)"Select login method", (char *)"\r", false },
                { (char *)"Continue? [y/N]", (char *)"y\r", true },
        };
        PromptMatcher m;
        const char *s = "Welcome\r\n\x1b[1mSelect\x1b[0m login";

        prompt_matcher_init(&m, rules, ELEMENTSOF(rules));
        /* Colour codes inside the prompt and a split read. */
        assert_null(prompt_matcher_feed(&m, s, strlen(s)));
        assert_string_equal(prompt_matcher_feed(&m, " method:\r\n", 10), "\r");
        /* Answered once: a redraw of the same prompt is ignored. */
        assert_null(prompt_matcher_feed(&m, "Select login method:\r\n", 22));
        /* repeat: answered each time it appears. */
        assert_string_equal(prompt_matcher_feed(&m, "Continue? [y/N]", 15), "y\r");
        assert_null(prompt_matcher_feed(&m, "", 0));
        assert_string_equal(prompt_matcher_feed(&m, "Continue? [y/N]", 15), "y\r");
        /* Two prompts in one chunk: the second on a call with n=0. */
        prompt_matcher_init(&m, rules, ELEMENTSOF(rules));
        assert_string_equal(prompt_matcher_feed(&m, "Select login method Continue? [y/N]", 35), "\r");
        assert_string_equal(prompt_matcher_feed(&m, "", 0), "y\r");
        assert_null(prompt_matcher_feed(&m, "", 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cursor_position),
                cmocka_unit_test(test_other_queries),
                cmocka_unit_test(test_nobufs),
                cmocka_unit_test(test_prompts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
