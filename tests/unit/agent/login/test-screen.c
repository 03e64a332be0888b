/* Unit tests for agent/login/screen.c: the CLI's output rendered as a
 * person sees it (libvterm 0.1.4), the rows that scrolled off shown once,
 * rows filled to the edge joined, where the cursor touches text, the
 * answers to terminal queries, OSC 8 link targets, strings a terminal
 * does not show, and the bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/login/screen.h"
#include "macro.h"

static Screen *new_screen(unsigned rows, unsigned cols, unsigned flags) {
        Screen *s = NULL;

        assert_int_equal(screen_new(rows, cols, flags, &s), 0);
        return s;
}

static void feed(Screen *s, const char *bytes) {
        screen_feed(s, bytes, strlen(bytes));
}

static ScreenView look(Screen *s) {
        ScreenView v;

        assert_int_equal(screen_look(s, &v), 0);
        assert_int_equal(strlen(v.text), v.size);
        return v;
}

/* The text of row i of the view, without its line break. */
static const char *row(const ScreenView *v, size_t i) {
        static char b[8192];
        size_t end = i + 1 < v->n_rows ? v->rows[i + 1].offset : v->size;

        assert_true(i < v->n_rows);
        snprintf(b, sizeof b, "%.*s", (int)(end - v->rows[i].offset), v->text + v->rows[i].offset);
        b[strcspn(b, "\n")] = '\0';
        return b;
}

static const char *replies(Screen *s) {
        static char b[SCREEN_REPLIES_MAX + 1];
        size_t n;
        const char *r = screen_take_replies(s, &n);

        memcpy(b, r, n);
        b[n] = '\0';
        return b;
}

static void test_size(void **state) {
        Screen *s = NULL;

        assert_int_equal(screen_new(0, 80, 0, &s), -EINVAL);
        assert_int_equal(screen_new(24, 0, 0, &s), -EINVAL);
        assert_int_equal(screen_new(24, SCREEN_COLS_MAX + 1, 0, &s), -EINVAL);
        assert_int_equal(screen_new(SCREEN_ROWS_MAX + 1, 80, 0, &s), -EINVAL);
        assert_null(s);
        assert_null(screen_free(NULL));
}

static void test_rows(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(4, 20, 0);
        ScreenView v;

        feed(s, "\x1b[1mab\x1b[0m\r\n\x1b[38;5;153mcd\x1b[39m  e  \r\n");
        v = look(s);
        /* Colours gone, blanks inside kept, blanks at the end (written or
         * not) dropped; every row ends with a line break. */
        assert_string_equal(v.text, "ab\ncd  e\n\n\n");
        assert_int_equal(v.n_rows, 4);
        assert_int_equal(v.rows[0].offset, 0);
        assert_int_equal(v.rows[1].offset, 3);
        assert_int_equal(v.rows[3].number, 3);
        assert_null(v.links[0]);
}

static void test_cursor_moves_are_blanks(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(50, 1000, 0);
        ScreenView v;

        /* Claude Code 2.1.332's theme screen, as it printed it: words
         * placed with CSI n G, colours between them. */
        feed(s, "\x1b[2G\x1b[1mChoose\x1b[9Gthe\x1b[13Gtext\x1b[18Gstyle\x1b[24Gthat\x1b[29Glooks\x1b[35Gbest"
                "\x1b[40Gwith\x1b[45Gyour\x1b[50Gterminal\x1b[22m\r\r\n"
                /* and its login screen: CSI n C moves right from where it is */
                "Login\x1b[1Csuccessful.\x1b[22G\x1b[38;5;153mPress\x1b[28G\x1b[1mEnter\x1b[22m to\x1b[37Gcontinue\r\n"
                /* moves back over text rewrite it, as on a real terminal */
                "xxxxx\x1b[3Dy\r\n");
        v = look(s);
        assert_string_equal(row(&v, 0), " Choose the text style that looks best with your terminal");
        assert_string_equal(row(&v, 1), "Login successful.    Press Enter to continue");
        assert_string_equal(row(&v, 2), "xxyxx");
}

static void test_wide_and_invalid(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(3, 10, 0);
        ScreenView v;

        /* A wide character takes two cells and is written once; a byte
         * that is not UTF-8 shows as U+FFFD. */
        feed(s, "日本x\xff" "y");
        v = look(s);
        assert_string_equal(row(&v, 0), "日本x\xef\xbf\xbdy");
        assert_int_equal(v.cursor, strlen("日本x\xef\xbf\xbdy"));
}

static void test_scrolled_rows_shown_once(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(3, 10, 0);
        ScreenView v;

        feed(s, "l1\r\nl2\r\nl3\r\nl4\r\nl5\r\n");
        v = look(s);
        assert_string_equal(v.text, "l1\nl2\nl3\nl4\nl5\n\n");
        assert_int_equal(v.n_rows, 6);
        for (size_t i = 0; i < v.n_rows; i++)
                assert_int_equal(v.rows[i].number, i);
        /* The next look has only the screen; rows keep their numbers. */
        v = look(s);
        assert_string_equal(v.text, "l4\nl5\n\n");
        assert_int_equal(v.rows[0].number, 3);
        feed(s, "l6\r\n");
        v = look(s);
        assert_string_equal(v.text, "l4\nl5\nl6\n\n");
        assert_int_equal(v.rows[0].number, 3);
        assert_int_equal(v.rows[3].number, 6);
}

static void test_full_rows_joined(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(4, 10, 0);
        ScreenView v;

        /* The terminal wrapped it. */
        feed(s, "0123456789abc\r\n");
        v = look(s);
        assert_string_equal(v.text, "0123456789abc\n\n\n");
        assert_int_equal(v.n_rows, 4);
        assert_int_equal(v.rows[1].offset, 10);
        /* The CLI broke the line at the width itself: the same screen. */
        feed(s, "\x1b[H\x1b[2J0123456789\r\nabc\r\n");
        assert_string_equal(look(s).text, "0123456789abc\n\n\n");
        /* One short of the edge: two lines. */
        feed(s, "\x1b[H\x1b[2J012345678\r\nabc\r\n");
        assert_string_equal(look(s).text, "012345678\nabc\n\n\n");
}

static void test_continued_row_scrolled_off(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(2, 10, 0);
        ScreenView v;

        /* "x" and the head of a wrapped line scroll off; the line goes on
         * on the screen, so its head is shown again with it. */
        feed(s, "x\r\nABCDEFGHIJKLMNOPQRSTUVWXY");
        v = look(s);
        assert_string_equal(v.text, "x\nABCDEFGHIJKLMNOPQRSTUVWXY\n");
        v = look(s);
        assert_string_equal(v.text, "ABCDEFGHIJKLMNOPQRSTUVWXY\n");
        assert_int_equal(v.rows[0].number, 1);
        feed(s, "\r\nnext\r\n");
        assert_string_equal(look(s).text, "ABCDEFGHIJKLMNOPQRSTUVWXY\nnext\n\n");
        assert_string_equal(look(s).text, "next\n\n");
}

static void test_cursor(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(3, 10, 0);
        ScreenView v;

        v = look(s);
        assert_int_equal(v.cursor, SIZE_MAX); /* nothing around it */
        feed(s, "ab");
        v = look(s);
        assert_int_equal(v.cursor, 2); /* just past "ab" */
        feed(s, "\x1b[2D");
        v = look(s);
        assert_int_equal(v.cursor, 0); /* on "a" */
        feed(s, "\x1b[5C");
        assert_int_equal(look(s).cursor, SIZE_MAX);
        feed(s, "\r\n");
        v = look(s);
        assert_string_equal(v.text, "ab\n\n\n");
        assert_int_equal(v.cursor, SIZE_MAX);
        /* At the edge the cursor stays on the last cell until the next
         * character wraps: it touches the row's text, and so does the
         * start of the next row, which continues it. */
        feed(s, "0123456789");
        v = look(s);
        assert_string_equal(v.text, "ab\n0123456789\n");
        assert_int_equal(v.cursor, 12);
        feed(s, "X");
        v = look(s);
        assert_string_equal(v.text, "ab\n0123456789X\n");
        assert_int_equal(v.cursor, 14);
}

static void test_replies(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(50, 200, 0);

        assert_string_equal(replies(s), "");
        /* Cursor position (Codex waits for it before it prints anything):
         * where the cursor really is, 1-based. */
        feed(s, "\x1b[6n");
        assert_string_equal(replies(s), "\x1b[1;1R");
        feed(s, "hello\x1b[6n");
        assert_string_equal(replies(s), "\x1b[1;6R");
        feed(s, "\r\n\x1b[3Cab\x1b[6n\x1b[10;20H\x1b[6n");
        assert_string_equal(replies(s), "\x1b[2;6R\x1b[10;20R");
        feed(s, "\x1b[999;999H\x1b[6n");
        assert_string_equal(replies(s), "\x1b[50;200R");
        /* A query split across reads. */
        feed(s, "\x1b[1;1H\x1b[");
        assert_string_equal(replies(s), "");
        feed(s, "6n");
        assert_string_equal(replies(s), "\x1b[1;1R");
        /* Device attributes and status, as libvterm answers them. */
        feed(s, "\x1b[c\x1b[0c\x1b[>c\x1b[5n");
        assert_string_equal(replies(s), "\x1b[?1;2c\x1b[?1;2c\x1b[>0;100;0c\x1b[0n");
        /* The colours, which libvterm leaves to us, in order with the rest. */
        feed(s, "\x1b]10;?\x1b\\\x1b[c\x1b]11;?\x07");
        assert_string_equal(replies(s), "\x1b]10;rgb:ffff/ffff/ffff\x1b\\\x1b[?1;2c\x1b]11;rgb:0000/0000/0000\x1b\\");
        /* A colour query split across reads, even inside its ST. */
        feed(s, "\x1b]1");
        feed(s, "1;?\x1b");
        assert_string_equal(replies(s), "");
        feed(s, "\\");
        assert_string_equal(replies(s), "\x1b]11;rgb:0000/0000/0000\x1b\\");
        /* Claude Code's kitty keyboard and version queries: no terminal
         * we emulate answers them. */
        feed(s, "\x1b[?u\x1b[>0q\x1b]7501;?\x07");
        assert_string_equal(replies(s), "");
}

static void test_replies_bounded(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(24, 80, 0);
        size_t n;

        for (size_t i = 0; i < SCREEN_REPLIES_MAX; i++)
                feed(s, "\x1b[c");
        (void)screen_take_replies(s, &n);
        assert_true(n <= SCREEN_REPLIES_MAX);
        assert_true(n > SCREEN_REPLIES_MAX - 8);
        feed(s, "\x1b[c");
        assert_string_equal(replies(s), "\x1b[?1;2c");
}

static void test_links(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(5, 80, 0);
        char big[200];
        ScreenView v;

        feed(s, "\x1b]8;;https://a.example/x\x1b\\Sign in\x1b]8;;\x1b\\\r\n"
                "\x1b]8;id=1;http://b.example/\x07" "b\x1b]8;;\x07\r\n");
        v = look(s);
        assert_string_equal(row(&v, 0), "Sign in");
        assert_string_equal(v.links[0], "https://a.example/x");
        assert_string_equal(v.links[1], "http://b.example/");
        assert_null(v.links[2]);
        assert_null(look(s).links[0]); /* shown once */
        /* Split across reads, even inside its ST: held back until whole
         * (libvterm 0.1.4 alone passes on the last piece only). */
        feed(s, "\x1b]8;;https://c.ex");
        feed(s, "ample/\x1b\\c\x1b]8;;\x1b\\");
        assert_string_equal(look(s).links[0], "https://c.example/");
        snprintf(big, sizeof big, "\x1b]8;;https://d.example/%s", "0123456789012345678901234567890123456789012345678901234567890123456789");
        feed(s, big);
        feed(s, "?x=1");
        feed(s, "\x1b");
        assert_null(look(s).links[0]);
        feed(s, "\\d\x1b]8;;\x1b\\");
        v = look(s);
        assert_string_equal(v.links[0], "https://d.example/0123456789012345678901234567890123456789012345678901234567890123456789?x=1");
        assert_null(v.links[1]);
        /* An OSC that never ends holds nothing back for long: a control
         * cuts it short, and one too long is passed on as it comes. */
        feed(s, "\x1b[H\x1b[2J\x1b]8;;https://e.example/");
        feed(s, "\x18" "after"); /* CAN */
        v = look(s);
        assert_string_equal(row(&v, 0), "after");
        assert_null(v.links[0]);
        memset(big, 'a', sizeof big);
        feed(s, "\x1b]8;;https://f.example/");
        for (int i = 0; i < SCREEN_LINK_MAX / (int)sizeof big + 1; i++)
                screen_feed(s, big, sizeof big);
        feed(s, "\x07z");
        v = look(s);
        assert_string_equal(row(&v, 0), "afterz");
        assert_null(v.links[0]);
}

static void test_rep(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(3, 20, 0);

        /* libvterm 0.1.4 loops forever on REP before any character was
         * printed; REP is not drawn at all, split across reads or not. */
        feed(s, "\x1b[b");
        /* libvterm stays in ESC over bytes it does not handle and over
         * intermediates: these are REP too. */
        feed(s, "\x1b\xff\xfe[b\x1b([2b");
        feed(s, "ab\x1b[3b|\x1b[?2");
        feed(s, "bc\x1b");
        feed(s, "[2bd");
        assert_string_equal(look(s).text, "ab|cd\n\n\n");
        /* Where libvterm drops a CSI at a byte that cannot be in one (and
         * that byte with it), a "b" after it is text. */
        feed(s, "\r\n\x1b[1\xff" "b\x1b[1$1b");
        assert_string_equal(look(s).text, "ab|cd\nbb\n\n");
}

static void test_st_after_controls(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(3, 40, 0);
        const char in[] = "\x1b]8;;https://a.example/\x1b\x00\\a\x1b]8;;\x1b\\"
                          "\x1b]2;t\x1b\n\\\rb\x1bP$q\x7f\x1b\x7f\\c\x1b\x07[1md";
        ScreenView v;

        /* libvterm 0.1.4 reads past the end of its input at an ST with a
         * NUL, DEL or control between its ESC and backslash (ASan sees it
         * in the asan tier). */
        screen_feed(s, in, sizeof in - 1);
        v = look(s);
        assert_string_equal(row(&v, 0), "a");
        assert_string_equal(row(&v, 1), "bcd");
        assert_string_equal(v.links[0], "https://a.example/");
}

static void test_strings_not_shown(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(4, 40, 0);

        /* libvterm 0.1.4 knows no APC, PM or SOS and would print their
         * payloads, which a terminal never shows (Claude Code's kitty
         * graphics query is an APC). */
        feed(s, "a\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\b\x1b^pm\x07" "c\x1bXsos\x1b\\d\r\n");
        /* Split across reads, its ESC and its terminator too; line breaks
         * and UTF-8 inside are its own. */
        feed(s, "e\x1b");
        feed(s, "_x\r\ny\xc3");
        feed(s, "\xa9\x1b");
        feed(s, "\\f\r\n");
        /* Cut short by CAN, or by an ESC that starts another sequence,
         * which is applied: a CSI, another string. */
        feed(s, "g\x1b_x\x18h\x1b_x\x1b[1mi\x1b^\x1b_x\x1b\\j\r\n");
        /* Only right after the ESC: not after an intermediate, nor after
         * a byte libvterm waits past, also in the next read. */
        feed(s, "k\x1b\xa0");
        feed(s, "_l\x1b(_m\r\n");
        assert_string_equal(look(s).text, "abcd\nef\nghij\nklm\n\n");
}

static void test_long_csi(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(5, 400, 0);
        char seps[201], big[64], want[300];

        /* libvterm 0.1.4 writes a CSI's 17th argument past its array,
         * over its own callbacks: such a sequence is not applied at all;
         * one of 16 is. */
        memset(seps, ';', 200);
        seps[200] = '\0';
        feed(s, "a\x1b[1");
        feed(s, seps);
        feed(s, "m");
        feed(s, seps);
        feed(s, "b\x1b[0;1;2;3;4;5;6;7;8;9;10;11;12;13;14;15mc");
        /* Numbers past any size or count stay in range. */
        snprintf(big, sizeof big, "\x1b[%s;1Hd\x1b[%sDe", "99999999999999999999", "12345678901234567890");
        feed(s, big);
        snprintf(want, sizeof want, "a%sbc\n\n\n\ne\n", seps);
        assert_string_equal(look(s).text, want);
}

static void test_broken_utf8(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(3, 20, 0);

        /* A character split across reads is one character; a sequence cut
         * short by an escape sequence or a control is U+FFFD (libvterm
         * 0.1.4 would decode one code point past its stack array). */
        feed(s, "\xe6\x97");
        feed(s, "\xa5\xe2\x94");
        feed(s, "\x1b[1ma\xe2\r\nb\x80\xf8");
        /* A C1 control as UTF-8 is no glyph (libvterm would move the
         * cursor back by one for it and, in insert mode, crash). */
        feed(s, "\x1b[4h\r\n\xc2\x90\xc2\x90x");
        assert_string_equal(look(s).text, "\xe6\x97\xa5\xef\xbf\xbd" "a\xef\xbf\xbd\n"
                                          "b\xef\xbf\xbd\xef\xbf\xbd\n"
                                          "\xef\xbf\xbd\xef\xbf\xbd" "x\n");
}

static void test_decrqss(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(3, 20, 0);

        /* libvterm 0.1.4 answers the settings it knows; for others it
         * passes an int to printf as a string: those are not answered. */
        feed(s, "\x1bP$qm\x1b\\");
        assert_string_equal(replies(s), "\x1bP1$rm\x1b\\");
        feed(s, "\x1bP$qx\x1b\\\x1bP$q q");
        feed(s, "xyz\x07\x1b(P$q\x1b\\a");
        assert_string_equal(replies(s), "");
        assert_string_equal(look(s).text, "a\n\n\n");
}

static void test_scrollback_bounded(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(50, 1000, 0);
        ScreenView v;
        char nl[51];

        memset(nl, '\n', 50);
        nl[50] = '\0';
        /* DECALN fills the screen with "E" in 3 bytes; 50 line feeds push
         * it off: 50 KB of rows from 53 bytes. */
        for (int i = 0; i < 100; i++) {
                feed(s, "\x1b#8\x1b[50H");
                feed(s, nl);
        }
        v = look(s);
        assert_true(v.size <= SCREEN_SCROLLBACK_MAX + 50 * (1000 + 1));
        /* The newest rows are the ones kept. */
        assert_true(v.n_rows > 50);
        assert_int_equal(v.rows[v.n_rows - 51].number, 100 * 50 - 1);
        assert_int_equal(strspn(row(&v, v.n_rows - 51), "E"), 1000);
}

static void test_newline_mode(void **state) {
        _cleanup_(screen_freep) Screen *s = new_screen(4, 20, SCREEN_NEWLINE);
        _cleanup_(screen_freep) Screen *tty = new_screen(4, 20, 0);

        /* From a pipe: "\n" alone starts the next line at its start. */
        feed(s, "ab\ncd\n");
        assert_string_equal(look(s).text, "ab\ncd\n\n\n");
        /* On a PTY the tty driver adds the "\r"; a bare "\n" only goes down. */
        feed(tty, "ab\ncd\n");
        assert_string_equal(look(tty).text, "ab\n  cd\n\n\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_size),
                cmocka_unit_test(test_rows),
                cmocka_unit_test(test_cursor_moves_are_blanks),
                cmocka_unit_test(test_wide_and_invalid),
                cmocka_unit_test(test_scrolled_rows_shown_once),
                cmocka_unit_test(test_full_rows_joined),
                cmocka_unit_test(test_continued_row_scrolled_off),
                cmocka_unit_test(test_cursor),
                cmocka_unit_test(test_replies),
                cmocka_unit_test(test_replies_bounded),
                cmocka_unit_test(test_links),
                cmocka_unit_test(test_rep),
                cmocka_unit_test(test_st_after_controls),
                cmocka_unit_test(test_strings_not_shown),
                cmocka_unit_test(test_long_csi),
                cmocka_unit_test(test_broken_utf8),
                cmocka_unit_test(test_decrqss),
                cmocka_unit_test(test_scrollback_bounded),
                cmocka_unit_test(test_newline_mode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
