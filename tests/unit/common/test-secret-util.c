/* Unit tests for common/secret-util.c: secrets redacted out of a line
 * another program printed, also one cut into pieces, which desktop
 * secrets are accepted, and secret_equal() (length given, empty never
 * matches). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "secret-util.h"

static void test_secret_redact(void **state) {
        /* What websockify prints for the desktop secret, and the VNC
         * password (its first 8 characters) listed too. */
        const char *const secrets[] = { "abcdefgh", "abcdefgh-rest-of-it", NULL, "x" };
        const char *const none[] = { NULL };
        const char *const empty[] = { "", NULL };
        char out[64];

        assert_int_equal(secret_redact("Path: '/websockify?token=abcdefgh-rest-of-it'", secrets, out, sizeof out), 36);
        assert_string_equal(out, "Path: '/websockify?token=[REDACTED]'");
        assert_int_equal(secret_redact("pw abcdefgh and abcdefgh-rest-of-itabcdefgh", secrets, out, sizeof out), 38);
        assert_string_equal(out, "pw [REDACTED] and [REDACTED][REDACTED]");
        /* A near miss stays; nothing listed after NULL counts. */
        assert_int_equal(secret_redact("abcdefgX x", secrets, out, sizeof out), 10);
        assert_string_equal(out, "abcdefgX x");
        assert_int_equal(secret_redact("plain", none, out, sizeof out), 5);
        assert_int_equal(secret_redact("plain", empty, out, sizeof out), 5);
        assert_int_equal(secret_redact("plain", NULL, out, sizeof out), 5);
        /* Too long for out: cut before a mark that would not fit, never
         * leaving part of the secret or of the mark. */
        assert_int_equal(secret_redact("12345abcdefgh", secrets, out, 12), 5);
        assert_string_equal(out, "12345");
        assert_int_equal(secret_redact("12345678901234", secrets, out, 12), 11);
        assert_string_equal(out, "12345678901");
        assert_int_equal(secret_redact("x", secrets, out, 0), 0);
}

/* Redacts s in pieces cut by secret_redact_cut() whenever cap bytes
 * wait, as a reader of a child's over-long line does, into out. */
static void redact_in_pieces(const char *s, size_t cap, const char *const *secrets, char *out, size_t size) {
        char buf[64], piece[128];
        size_t n = 0, o = 0;

        assert_true(cap < sizeof buf);
        out[0] = '\0';
        for (; *s; s++) {
                buf[n++] = *s;
                if (n < cap)
                        continue;
                size_t cut = secret_redact_cut(buf, n, secrets);
                assert_true(cut > 0 && cut <= n);
                memcpy(piece, buf, cut);
                piece[cut] = '\0';
                o += secret_redact(piece, secrets, out + o, size - o);
                memmove(buf, buf + cut, n - cut);
                n -= cut;
        }
        buf[n] = '\0';
        secret_redact(buf, secrets, out + o, size - o);
}

static void test_secret_redact_cut(void **state) {
        const char *const secrets[] = { "abcdefgh", "abcdefgh-rest-of-it", NULL };
        const char *const none[] = { NULL };
        char out[256], whole[256];

        /* Nothing that may begin a secret: all of it goes. */
        assert_int_equal(secret_redact_cut("xxxxxxxx", 8, secrets), 8);
        assert_int_equal(secret_redact_cut("xxxxabcd", 8, none), 8);
        assert_int_equal(secret_redact_cut("xxxxabcd", 8, NULL), 8);
        /* A secret's start at the end waits for its rest. */
        assert_int_equal(secret_redact_cut("xxxxabcd", 8, secrets), 4);
        assert_int_equal(secret_redact_cut("xxxxxxxa", 8, secrets), 7);
        /* A secret ending at the end is whole, unless a longer one may
         * follow from the same place: then it waits too. */
        assert_int_equal(secret_redact_cut("xxabcdefgh", 10, secrets), 2);
        assert_int_equal(secret_redact_cut("abcdefghxx", 10, secrets), 10);
        assert_int_equal(secret_redact_cut("abcdefgh-rest-of-itx", 20, secrets), 20);
        /* A near miss is text. */
        assert_int_equal(secret_redact_cut("xxxxabcX", 8, secrets), 8);
        /* The start of a secret longer than all of it. */
        assert_int_equal(secret_redact_cut("abcdefgh-r", 10, secrets), 0);

        /* Cut when 24 bytes wait, with the secret over each place of a cut:
         * never a half in clear, and the same as the line redacted whole. */
        for (size_t pad = 0; pad <= 24; pad++) {
                char line[128];

                snprintf(line, sizeof line, "%.*sabcdefgh-rest-of-it tail abcdefgh.", (int)pad, "0123456789012345678901234");
                redact_in_pieces(line, 24, secrets, out, sizeof out);
                secret_redact(line, secrets, whole, sizeof whole);
                assert_string_equal(out, whole);
                assert_null(strstr(out, "abcd"));
                assert_null(strstr(out, "rest"));
                assert_non_null(strstr(out, "[REDACTED] tail [REDACTED]."));
        }
}

static void test_desktop_secret_valid(void **state) {
        assert_true(desktop_secret_is_valid("vmba-test-desktop-secret-0123"));
        assert_true(desktop_secret_is_valid("Abc.~_-9"));
        assert_false(desktop_secret_is_valid("short7c"));              /* < 8: VNC's 8 would be padding */
        assert_false(desktop_secret_is_valid("has: colon-space"));     /* the token file's separator */
        assert_false(desktop_secret_is_valid("with&amp=query"));       /* would need URL escaping */
        assert_false(desktop_secret_is_valid("percent%41encoded"));
        assert_false(desktop_secret_is_valid("two\nlines-of-it"));
        assert_false(desktop_secret_is_valid(""));
        assert_false(desktop_secret_is_valid(NULL));
        /* x11vnc's password file words: no password, a cut one, none at all,
         * a view-only one.  Underscores otherwise are plain characters. */
        assert_false(desktop_secret_is_valid("abc__SKIP__defgh"));
        assert_false(desktop_secret_is_valid("abcdefgh__COMM__x"));
        assert_false(desktop_secret_is_valid("__EMPTY__"));
        assert_false(desktop_secret_is_valid("__BEGIN_VIEWONLY__"));
        assert_true(desktop_secret_is_valid("__EMPTY__x"));
        assert_true(desktop_secret_is_valid("a__b__c__d__SKIP_"));
        char big[DESKTOP_SECRET_MAX + 2];
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        assert_false(desktop_secret_is_valid(big));
        big[DESKTOP_SECRET_MAX] = '\0';
        assert_true(desktop_secret_is_valid(big));
}

static void test_secret_equal(void **state) {
        assert_true(secret_equal("s3cret", 6, "s3cret"));
        /* Only the first given_len bytes count: the parser passes a length. */
        assert_true(secret_equal("s3cret  ", 6, "s3cret"));
        assert_false(secret_equal("s3creT", 6, "s3cret"));
        assert_false(secret_equal("S3cret", 6, "s3cret"));
        assert_false(secret_equal("s3cre", 5, "s3cret"));
        assert_false(secret_equal("s3crets", 7, "s3cret"));
        /* A prefix repeated cyclically must not pass for the whole. */
        assert_false(secret_equal("ab", 2, "abab"));
        assert_false(secret_equal("", 0, "s3cret"));
        /* An empty expected token never matches: "no token" is handled by
         * the caller, not by accepting anything. */
        assert_false(secret_equal("", 0, ""));
        /* An OAuth state compared with its own length. */
        assert_true(secret_equal("abc", 3, "abc"));
        assert_false(secret_equal("abd", 3, "abc"));
        assert_false(secret_equal("ab", 2, "abc"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_secret_redact),
                cmocka_unit_test(test_secret_redact_cut),
                cmocka_unit_test(test_desktop_secret_valid),
                cmocka_unit_test(test_secret_equal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
