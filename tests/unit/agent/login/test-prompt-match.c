/* Unit tests for agent/login/prompt-match.c on screens rendered by
 * screen.c, with the screens the real CLIs draw: Claude Code's words
 * placed with cursor moves, Gemini CLI's dialogs and redraws, a 1000-column
 * border; prompts followed by kilobytes in the same read, split across
 * reads, redrawn after they were answered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/login/prompt-match.h"
#include "macro.h"

#define ROWS 50
#define COLS 1000 /* cli-runner.c's PTY */

static const ProviderPrompt claude[] = {
        { (char *)"Choose the text style", (char *)"\r", false },
        { (char *)"Select login method", (char *)"\r", false },
        { (char *)"Press Enter to continue", (char *)"\r", false },
};

static const ProviderPrompt gemini[] = {
        { (char *)"Do you trust the files in this folder?", (char *)"\r", false },
        { (char *)"Sign in with Google", (char *)"\r", false },
        { (char *)"Do you want to continue?", (char *)"\r", false },
};

static const ProviderPrompt line_cli[] = {
        { (char *)"Select login method", (char *)"\r", false },
        { (char *)"Continue? [y/N]", (char *)"y\r", true },
};

typedef struct Tty {
        Screen *screen;
        PromptMatcher m;
} Tty;

static void tty_init(Tty *t, const ProviderPrompt *rules, size_t n) {
        assert_int_equal(screen_new(ROWS, COLS, 0, &t->screen), 0);
        prompt_matcher_init(&t->m, rules, n);
}

static void tty_done(Tty *t) {
        t->screen = screen_free(t->screen);
}

/* Feeds n bytes as one read, looks as the runner does, and returns every
 * answer that look gave, concatenated ("" for none). */
static const char *feed_n(Tty *t, const char *bytes, size_t n) {
        static char out[256];
        ScreenView v;

        out[0] = '\0';
        screen_feed(t->screen, bytes, n);
        assert_int_equal(screen_look(t->screen, &v), 0);
        const char *keys[PROVIDER_LIST_MAX];
        size_t k = prompt_matcher_look(&t->m, &v, keys);

        for (size_t i = 0; i < k; i++)
                strncat(out, keys[i], sizeof out - strlen(out) - 1);
        return out;
}

static const char *feed(Tty *t, const char *bytes) {
        return feed_n(t, bytes, strlen(bytes));
}

/* n copies of the UTF-8 string s. */
static char *repeat(const char *s, size_t n) {
        size_t l = strlen(s);
        char *b = malloc(l * n + 1);

        assert_non_null(b);
        for (size_t i = 0; i < n; i++)
                memcpy(b + i * l, s, l);
        b[l * n] = '\0';
        return b;
}

/* Claude Code 2.1.332's first screen at 1000 columns, as it printed it:
 * the queries, then words placed with CSI n G, a 1000-cell rule. */
#define CLAUDE_QUERIES "\x1b]11;?\x07\x1b[c\x1b[>0q\x1b[?u\x1b]7501;?\x07\x1b[c"
#define CLAUDE_THEME \
        "\x1b[2GLet's\x1b[8Gget\x1b[12Gstarted.\r\r\n\r\r\n" \
        "\x1b[2G\x1b[1mChoose\x1b[9Gthe\x1b[13Gtext\x1b[18Gstyle\x1b[24Gthat\x1b[29Glooks\x1b[35Gbest" \
        "\x1b[40Gwith\x1b[45Gyour\x1b[50Gterminal\x1b[22m\r\r\n" \
        "\x1b[2G\x1b[38;5;246mTo\x1b[5Gchange\x1b[12Gthis\x1b[17Glater,\x1b[24Grun\x1b[28G/theme\x1b[39m\r\r\n\r\r\n" \
        "\x1b[2G\x1b[38;5;153m\xe2\x9d\xaf\x1b[4G\x1b[38;5;114m\xe2\x9c\x94\x1b[6G\x1b[38;5;153mAuto\x1b[11G(match" \
        "\x1b[18Gterminal)\x1b[39m\r\r\n\x1b[6GDark\x1b[11Gmode\r\r\n\x1b[6GLight\x1b[12Gmode\r\r\n"

static void test_claude_theme_cursor_moves(void **state) {
        Tty t;

        tty_init(&t, claude, ELEMENTSOF(claude));
        assert_string_equal(feed(&t, "\x1b" "7\x1b[r\x1b" "8\x1b[?25l\x1b[38;5;174mWelcome\x1b[9Gto\x1b[12GClaude"
                                     "\x1b[19GCode\x1b[39m\r\r\n" CLAUDE_QUERIES), "");
        assert_string_equal(feed(&t, CLAUDE_THEME), "\r");
        /* Still on the screen at the next read: answered already. */
        assert_string_equal(feed(&t, "\x1b[?25l"), "");
        tty_done(&t);
}

static void test_prompt_followed_by_kilobytes(void **state) {
        _cleanup_(freep) char *lines = repeat("downloading a changelog line of forty bytes\r\n", 90);
        _cleanup_(freep) char *chunk = NULL;
        Tty t;

        /* 4 KB after the prompt in the same read: 90 lines push it off the
         * 50-row screen before anyone looks. */
        tty_init(&t, claude, ELEMENTSOF(claude));
        assert_true(asprintf(&chunk, " Select login method:\r\n%s", lines) > 0);
        assert_true(strlen(chunk) > 4000);
        assert_string_equal(feed(&t, chunk), "\r");
        assert_string_equal(feed(&t, ""), "");
        tty_done(&t);

        /* 3 KB after it on the same screen: two 1000-cell rules. */
        free(chunk);
        chunk = NULL;
        _cleanup_(freep) char *rule = repeat("\xe2\x94\x80", COLS);
        tty_init(&t, claude, ELEMENTSOF(claude));
        assert_true(asprintf(&chunk, "Select login method:\r\n%s%s", rule, rule) > 6000);
        assert_string_equal(feed(&t, chunk), "\r");
        tty_done(&t);
}

static void test_prompt_split_across_reads(void **state) {
        Tty t;

        tty_init(&t, claude, ELEMENTSOF(claude));
        /* Cut inside a word, inside an escape sequence, inside a UTF-8
         * character, and the rest of the word comes in a read of its own. */
        assert_string_equal(feed(&t, "\xe2\x9d"), "");
        assert_string_equal(feed(&t, "\xaf Sel"), "");
        assert_string_equal(feed(&t, "ect login\x1b[3"), "");
        assert_string_equal(feed(&t, "8;5;246m"), "");
        assert_string_equal(feed(&t, "\x1b[22G"), "");
        assert_string_equal(feed(&t, "method"), "\r");
        tty_done(&t);
}

/* A row of Gemini CLI's box at 1000 columns: "│ text   │", filled to the
 * edge.  text: one cell per character. */
static char *box_row(const char *text) {
        size_t cells = 0;
        char *b = NULL;

        for (const char *p = text; *p; p++)
                cells += ((unsigned char)*p & 0xc0) != 0x80;
        assert_true(asprintf(&b, "\xe2\x94\x82 %s%*s\xe2\x94\x82\r\n", text, (int)(COLS - 3 - cells), "") > 0);
        return b;
}

static void test_1000_column_border(void **state) {
        _cleanup_(freep) char *line = repeat("\xe2\x94\x80", COLS - 2);
        _cleanup_(freep) char *question = box_row("Do you trust the files in this folder?");
        _cleanup_(freep) char *choice = box_row("\xe2\x97\x8f 1. Trust folder (/home/u)");
        _cleanup_(freep) char *frame = NULL;
        Tty t;

        /* Every row of the box is filled to the edge (so the screen joins
         * them into one line) and a border alone is 3 KB. */
        tty_init(&t, gemini, ELEMENTSOF(gemini));
        assert_true(asprintf(&frame, "\x1b[38;5;246m\xe2\x95\xad%s\xe2\x95\xae\x1b[39m\r\n%s%s\xe2\x95\xb0%s\xe2\x95\xaf\r\n",
                             line, question, choice, line) > 8000);
        assert_string_equal(feed(&t, frame), "\r");
        tty_done(&t);
}

/* Ink (Gemini CLI) redraws by erasing the lines it drew and drawing the
 * frame again. */
static char *ink_redraw(size_t lines, const char *frame) {
        _cleanup_(freep) char *erase = repeat("\x1b[2K\x1b[1A", lines);
        char *b = NULL;

        assert_true(asprintf(&b, "%s\x1b[2K\x1b[G%s", erase, frame) > 0);
        return b;
}

#define TRUST_FRAME \
        "\xe2\x94\x82 Do you trust the files in this folder?\r\n" \
        "\xe2\x94\x82 \xe2\x97\x8f 1. Trust folder (work)\r\n\xe2\x94\x82   2. Don't trust\r\n"
#define AUTH_FRAME \
        "? Get started\r\n\xe2\x94\x82 How would you like to authenticate for this project?\r\n" \
        "\xe2\x94\x82 \x1b[32m\xe2\x97\x8f 1. Sign in with Google\x1b[39m\r\n\xe2\x94\x82   2. Use Gemini API Key\r\n"
#define CONSENT_FRAME \
        "\xe2\x94\x82 Opening authentication page in your browser. Do you want to continue?\r\n" \
        "\xe2\x94\x82 \xe2\x97\x8f 1. Yes\r\n\xe2\x94\x82   2. No\r\n"

static void test_gemini_prompts(void **state) {
        _cleanup_(freep) char *again = ink_redraw(3, TRUST_FRAME);
        _cleanup_(freep) char *auth = ink_redraw(3, AUTH_FRAME);
        _cleanup_(freep) char *auth_again = ink_redraw(4, AUTH_FRAME);
        _cleanup_(freep) char *consent = ink_redraw(4, CONSENT_FRAME);
        Tty t;

        tty_init(&t, gemini, ELEMENTSOF(gemini));
        assert_string_equal(feed(&t, "\x1b[c\x1b]11;?\x1b\\\x1b[?u" TRUST_FRAME), "\r");
        /* A frame drawn again before our Enter was read. */
        assert_string_equal(feed(&t, again), "");
        assert_string_equal(feed(&t, auth), "\r");
        assert_string_equal(feed(&t, auth_again), "");
        assert_string_equal(feed(&t, consent), "\r");
        assert_string_equal(feed(&t, "\r\n  Otherwise navigate to:\r\n"), "");
        tty_done(&t);
}

static void test_redraw_of_answered_prompt(void **state) {
        _cleanup_(freep) char *redraw = ink_redraw(2, "Select login method:\r\nContinue? [y/N]\r\n");
        Tty t;

        tty_init(&t, line_cli, ELEMENTSOF(line_cli));
        assert_string_equal(feed(&t, "Select login method:\r\nContinue? [y/N]\r\n"), "\ry\r");
        /* The same screen drawn again: the same prompts, repeat or not. */
        assert_string_equal(feed(&t, redraw), "");
        assert_string_equal(feed(&t, "\x1b[H\x1b[2JSelect login method:\r\nContinue? [y/N]\r\n"), "");
        /* A repeat prompt asked again on the next line is a new one. */
        assert_string_equal(feed(&t, "Continue? [y/N]"), "y\r");
        assert_string_equal(feed(&t, "\r\n"), "");
        /* ...and so is one on a row that scrolled into the same place. */
        assert_string_equal(feed(&t, "\x1b[50H\r\n\r\n\x1b[48HContinue? [y/N]\r\n"), "y\r");
        tty_done(&t);
}

static void test_screen_order_and_blanks(void **state) {
        Tty t;

        /* Two prompts in one read: both, top to bottom, whatever the
         * order of the rules. */
        tty_init(&t, line_cli, ELEMENTSOF(line_cli));
        assert_string_equal(feed(&t, "Continue? [y/N]\r\nSelect login method\r\n"), "y\r\r");
        tty_done(&t);

        /* A blank in a rule matches a run of blanks; a line break does not. */
        tty_init(&t, claude, ELEMENTSOF(claude));
        assert_string_equal(feed(&t, "Press\r\nEnter to continue\r\n"), "");
        assert_string_equal(feed(&t, "Press\x1b[3CEnter to\x1b[1Ccontinue\r\n"), "\r");
        tty_done(&t);
}

static void test_rules_bounded(void **state) {
        ProviderPrompt many[PROVIDER_LIST_MAX + 5];
        Tty t;

        /* More rules than a provider may have: the extra ones are not used. */
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (ProviderPrompt) { (char *)(i < PROVIDER_LIST_MAX ? "never" : "Continue"), (char *)"x", false };
        tty_init(&t, many, ELEMENTSOF(many));
        assert_int_equal(t.m.n_prompts, PROVIDER_LIST_MAX);
        assert_string_equal(feed(&t, "Continue"), "");
        tty_done(&t);

        /* A screen full of one question is one answer per look. */
        _cleanup_(freep) char *flood = repeat("Continue? [y/N] ", 500);
        tty_init(&t, line_cli, ELEMENTSOF(line_cli));
        assert_string_equal(feed(&t, flood), "y\r");
        assert_string_equal(feed(&t, ""), "y\r");
        tty_done(&t);
}

/* Feeds bytes as one read and tells what the watch finds in that look
 * (NULL for nothing): ignore, or find as the runner does after the URL. */
static const char *failure_look(Screen *s, FailureWatch *w, const char *bytes, bool ignore) {
        static char buf[128];
        ScreenView v;

        screen_feed(s, bytes, strlen(bytes));
        assert_int_equal(screen_look(s, &v), 0);
        if (ignore) {
                failure_watch_ignore(w, &v);
                return NULL;
        }
        return failure_watch_find(w, &v, buf, sizeof buf) ? buf : NULL;
}

static char *const two_failures[] = { (char *)"Failed to sign in. Message:", (char *)"Error logging in", NULL };

/* What failures each look finds: Gemini CLI's dialog after a failed token
 * exchange, the rest of the row only, cut on a character boundary. */
static void test_failure_find(void **state) {
        FailureWatch w, none;
        Screen *s = NULL;
        ScreenView v;
        char tiny[12];

        failure_watch_init(&w, two_failures);
        failure_watch_init(&none, NULL);
        assert_int_equal(screen_new(ROWS, 80, 0, &s), 0);
        assert_null(failure_look(s, &w, "Waiting for authentication...\r\n", false));

        /* Drawn with cursor moves between words, then a border below. */
        const char *dialog = "\x1b[2J\x1b[H\x1b[2GFailed\x1b[9Gto\x1b[12Gsign\x1b[17Gin.\x1b[21GMessage:"
                             "\x1b[30GFailed to exchange authorization code \xe2\x80\x94 invalid_grant   \r\n"
                             "\xe2\x95\xad\xe2\x94\x80\xe2\x94\x80\r\n";
        assert_string_equal(failure_look(s, &w, dialog, false),
                            "Failed to sign in. Message: Failed to exchange authorization code \xe2\x80\x94 invalid_grant");
        assert_int_equal(screen_look(s, &v), 0);
        assert_false(failure_watch_find(&none, &v, tiny, sizeof tiny));
        /* Cut at 11 bytes, not inside a character. */
        assert_true(failure_watch_find(&w, &v, tiny, sizeof tiny));
        assert_string_equal(tiny, "Failed to s");
        s = screen_free(s);

        /* The earliest on the screen wins, whichever rule it is. */
        assert_int_equal(screen_new(ROWS, 80, 0, &s), 0);
        assert_string_equal(failure_look(s, &w, "Error logging in: boom\r\nFailed to sign in. Message: later\r\n", false),
                            "Error logging in: boom");
        s = screen_free(s);
}

/* A failure shown before the sign-in began is not its outcome, as long as
 * it stays (redrawn in place, or laid out again on another row); a new
 * text in its place, a second copy while it is still shown, the same text
 * in another column, or its text back after its row scrolled off are new. */
static void test_failure_shown_before(void **state) {
        FailureWatch w;
        Screen *s = NULL;

        failure_watch_init(&w, two_failures);
        assert_int_equal(screen_new(ROWS, 80, 0, &s), 0);
        assert_null(failure_look(s, &w, "\x1b[2GError logging in: stale\r\nContinue?\r\n", true));
        assert_int_equal(w.n_ignored, 1);
        assert_null(failure_look(s, &w, "https://example.test/auth\r\n", false));
        /* Redrawn in place, whole screen or row by row. */
        assert_null(failure_look(s, &w, "\x1b[2J\x1b[H\x1b[2GError logging in: stale\r\n", false));
        assert_null(failure_look(s, &w, "\x1b[H\x1b[2K\x1b[2GError\x1b[8Glogging in: stale   \r\n", false));
        /* Laid out again, a row drawn above it: the same, in its new place. */
        assert_null(failure_look(s, &w, "\x1b[2J\x1b[Hhttps://example.test/auth\r\n\x1b[2GError logging in: stale\r\n",
                                 false));
        assert_int_equal(w.ignored[0].place.row, 1);
        assert_null(failure_look(s, &w, "", false));
        /* The same text again below, the first still in its place: a
         * second failure (the exchange failed as the attempt before). */
        assert_string_equal(failure_look(s, &w, "\x1b[5;1H\x1b[2GError logging in: stale\r\n", false),
                            "Error logging in: stale");
        assert_int_equal(w.ignored[0].place.row, 1);
        assert_null(failure_look(s, &w, "\x1b[5;1H\x1b[2K", false));
        /* Laid out again once more: followed again. */
        assert_null(failure_look(s, &w, "\x1b[2J\x1b[H\r\n\r\n\x1b[2GError logging in: stale\r\n", false));
        assert_int_equal(w.ignored[0].place.row, 2);
        assert_null(failure_look(s, &w, "\x1b[2J\x1b[H\r\n\x1b[2GError logging in: stale\r\n", false));
        assert_int_equal(w.ignored[0].place.row, 1);
        /* Another message in its place. */
        assert_string_equal(failure_look(s, &w, "\x1b[2;1H\x1b[2K\x1b[2GError logging in: new\r\n", false),
                            "Error logging in: new");
        /* The same text in another column. */
        assert_string_equal(failure_look(s, &w, "\x1b[2J\x1b[H\r\nError logging in: stale\r\n", false),
                            "Error logging in: stale");
        s = screen_free(s);

        /* Its row scrolled off: forgotten, the same text again is new. */
        assert_int_equal(screen_new(ROWS, 80, 0, &s), 0);
        assert_null(failure_look(s, &w, "Error logging in: stale\r\n", true));
        _cleanup_(freep) char *scroll = repeat("\r\n", ROWS + 1);
        assert_null(failure_look(s, &w, scroll, false)); /* shown once more, as it scrolled off */
        assert_string_equal(failure_look(s, &w, "\x1b[HError logging in: stale\r\n", false), "Error logging in: stale");
        assert_int_equal(w.n_ignored, 0);
        s = screen_free(s);

        /* More than it keeps on one screen: the one on the topmost row
         * goes first, whenever it was seen. */
        assert_int_equal(screen_new(FAILURES_IGNORED_MAX + 10, 80, 0, &s), 0);
        failure_watch_init(&w, two_failures);
        assert_null(failure_look(s, &w, "\x1b[70;1HError logging in: bottom", true));
        assert_null(failure_look(s, &w, "\x1b[H", true));
        for (int i = 0; i < FAILURES_IGNORED_MAX; i++) {
                char line[64];
                snprintf(line, sizeof line, "Error logging in: %d\r\n", i);
                assert_null(failure_look(s, &w, line, true));
        }
        assert_int_equal(w.n_ignored, FAILURES_IGNORED_MAX);
        assert_string_equal(failure_look(s, &w, "", false), "Error logging in: 0");
        s = screen_free(s);
}

/* Gemini CLI's dialog is a box whose rows are filled to the edge, so the
 * screen joins them into one line: a failure left from an earlier attempt
 * is the same failure as long as its own row is, whatever the rows below
 * it in the box show meanwhile. */
static void test_failure_in_full_width_box(void **state) {
        _cleanup_(freep) char *line = repeat("\xe2\x94\x80", COLS - 2);
        _cleanup_(freep) char *stale = box_row("Failed to sign in. Message: the earlier attempt timed out");
        _cleanup_(freep) char *fresh = box_row("Failed to sign in. Message: invalid_grant");
        _cleanup_(freep) char *consent = box_row("Opening authentication page in your browser. Do you want to continue?");
        _cleanup_(freep) char *waiting = box_row("Waiting for authentication... (Press Esc or Ctrl+C to cancel)");
        _cleanup_(freep) char *before = NULL, *after = NULL, *failed = NULL;
        FailureWatch w;
        Screen *s = NULL;

#define BOX(rows) "\x1b[2J\x1b[H\xe2\x95\xad%s\xe2\x95\xae\r\n" rows "\xe2\x95\xb0%s\xe2\x95\xaf\r\n"
        assert_true(asprintf(&before, BOX("%s%s"), line, stale, consent, line) > 0);
        assert_true(asprintf(&after, BOX("%s%s"), line, stale, waiting, line) > 0);
        assert_true(asprintf(&failed, BOX("%s%s"), line, fresh, waiting, line) > 0);
#undef BOX
        failure_watch_init(&w, two_failures);
        assert_int_equal(screen_new(ROWS, COLS, 0, &s), 0);
        assert_null(failure_look(s, &w, before, true));
        /* The row below it changed, the stale failure did not. */
        assert_null(failure_look(s, &w, after, false));
        /* Its own row, and only that row, is the message. */
        assert_string_equal(failure_look(s, &w, failed, false), "Failed to sign in. Message: invalid_grant");
        s = screen_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_claude_theme_cursor_moves),
                cmocka_unit_test(test_prompt_followed_by_kilobytes),
                cmocka_unit_test(test_prompt_split_across_reads),
                cmocka_unit_test(test_1000_column_border),
                cmocka_unit_test(test_gemini_prompts),
                cmocka_unit_test(test_redraw_of_answered_prompt),
                cmocka_unit_test(test_screen_order_and_blanks),
                cmocka_unit_test(test_rules_bounded),
                cmocka_unit_test(test_failure_find),
                cmocka_unit_test(test_failure_shown_before),
                cmocka_unit_test(test_failure_in_full_width_box),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
