/* Unit tests for common/errbuf.c: the parsers' message convention
 * (prefix, one line, truncated, -EINVAL), and string_one_line() checked
 * against a model written the other way round, on every string of up to
 * three bytes and the edges of the four-byte ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "errbuf.h"
#include "macro.h"

/* The parsers' message convention: prefix, one line, truncated, -EINVAL. */
static void test_errbuf_fail(void **state) {
        char buf[32];

        assert_int_equal(errbuf_fail(buf, sizeof buf, "provider", "x\ny", "key \"%s\"", "a\tb\x7f"), -EINVAL);
        assert_string_equal(buf, "provider x?y: key \"a?b?\"");
        assert_int_equal(errbuf_fail(buf, sizeof buf, "clis", NULL, "bad"), -EINVAL);
        assert_string_equal(buf, "clis ?: bad");
        assert_int_equal(errbuf_fail(buf, sizeof buf, NULL, NULL, "line %d:\r\n%s", 3, "end"), -EINVAL);
        assert_string_equal(buf, "line 3:??end");
        /* Truncated to the buffer, still terminated. */
        assert_int_equal(errbuf_fail(buf, 8, NULL, NULL, "%s", "0123456789"), -EINVAL);
        assert_string_equal(buf, "0123456");
        /* No buffer: nothing written, the error all the same. */
        assert_int_equal(errbuf_fail(NULL, 0, "what", "n", "x"), -EINVAL);
        buf[0] = 'k';
        assert_int_equal(errbuf_fail(buf, 0, NULL, NULL, "x"), -EINVAL);
        assert_int_equal(buf[0], 'k');
        /* UTF-8 and printable bytes stay. */
        char s[] = "caf\xc3\xa9 ~";
        string_one_line(s);
        assert_string_equal(s, "caf\xc3\xa9 ~");
        /* C1 controls in UTF-8 go (U+009B is CSI); U+00A0 and on stay. */
        char c1[] = "a\xc2\x80" "b\xc2\x9f" "c\xc2\xa0" "d\xc2";
        string_one_line(c1);
        assert_string_equal(c1, "a??b??c\xc2\xa0" "d?");
        string_one_line(NULL);
}

/* The model string_one_line() is held to, written the other way round:
 * decode the code point by its lead bits, then reject the forms RFC 3629
 * forbids.  Returns the length of a printable character at s, else 0. */
static size_t model_printable_len(const unsigned char *s) {
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc0 && s[0] < 0xe0 ? 2 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
                 : s[0] >= 0xf0 && s[0] < 0xf8 ? 4 : 0;
        uint32_t cp;

        if (n == 0)
                return 0;
        cp = n == 1 ? s[0] : s[0] & (0x7f >> n);
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
                return 0;
        /* Bidirectional controls, separators, zero-width ones, the BOM. */
        static const uint32_t invisible[][2] = { { 0x061c, 0x061c }, { 0x200b, 0x200f }, { 0x2028, 0x202e },
                                                 { 0x2060, 0x2064 }, { 0x2066, 0x2069 }, { 0xfeff, 0xfeff } };
        for (size_t i = 0; i < ELEMENTSOF(invisible); i++)
                if (cp >= invisible[i][0] && cp <= invisible[i][1])
                        return 0;
        return n;
}

static void model_one_line(unsigned char *s) {
        while (*s) {
                size_t n = model_printable_len(s);

                if (n == 0)
                        *s++ = '?';
                else
                        s += n;
        }
}

static void check_one_line(const unsigned char *in, size_t len) {
        unsigned char got[8] = { 0 }, want[8] = { 0 };

        memcpy(got, in, len);
        memcpy(want, in, len);
        string_one_line((char *)got);
        model_one_line(want);
        if (memcmp(got, want, sizeof got) != 0)
                fail_msg("string_one_line(%02x %02x %02x %02x) differs from the model",
                         in[0], in[1], in[2], in[3]);
}

/* Every string of one to three bytes, and every four-byte string whose
 * lead can start a four-byte sequence with the continuation bytes at their
 * edges and just outside them: the output is printable UTF-8, and a valid
 * printable character is left as it was. */
static void test_string_one_line_utf8(void **state) {
        static const unsigned char edge[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff };
        unsigned char in[4];

        for (unsigned a = 1; a < 256; a++)
                for (unsigned b = 0; b < 256; b++)
                        for (unsigned c = 0; c < 256; c++) {
                                in[0] = a, in[1] = b, in[2] = c, in[3] = 0;
                                check_one_line(in, b == 0 ? 1 : c == 0 ? 2 : 3);
                        }
        for (unsigned a = 0xf0; a < 0xf8; a++)
                for (unsigned b = 0x80; b < 0xc0; b++)
                        for (size_t i = 0; i < ELEMENTSOF(edge); i++)
                                for (size_t j = 0; j < ELEMENTSOF(edge); j++) {
                                        in[0] = a, in[1] = b, in[2] = edge[i], in[3] = edge[j];
                                        check_one_line(in, 4);
                                }
        /* A raw CSI (0x9b outside UTF-8) and a surrogate go; U+10FFFF stays. */
        char s[] = "a\x9b" "31m\xed\xa0\x80" "b\xf4\x8f\xbf\xbf";
        string_one_line(s);
        assert_string_equal(s, "a?31m???b\xf4\x8f\xbf\xbf");
        /* RIGHT-TO-LEFT OVERRIDE and LINE SEPARATOR go; U+2030 (per mille) stays. */
        char bidi[] = "x\xe2\x80\xae" "y\xe2\x80\xa8" "z\xe2\x80\xb0";
        string_one_line(bidi);
        assert_string_equal(bidi, "x???y???z\xe2\x80\xb0");
}

/* Valid UTF-8 as JSON takes it: controls and C1 stay (they are
 * characters), what starts none becomes '?', byte by byte. */
static const struct {
        const char *in, *out;
} valid_rows[] = {
        { "plain \t\x1b[1m", "plain \t\x1b[1m" },
        { "\xc2\x9b \xc3\xa9 \xe2\x80\xae \xf0\x9f\x98\x80", "\xc2\x9b \xc3\xa9 \xe2\x80\xae \xf0\x9f\x98\x80" },
        { "latin-1 caf\xe9!", "latin-1 caf?!" },
        { "cut \xe2\x80", "cut ??" },                 /* a spinner glyph the limit cut */
        { "\xc0\xaf overlong", "?? overlong" },
        { "\xed\xa0\x80 surrogate", "??? surrogate" },
        { "\xf4\x90\x80\x80 past", "???? past" },     /* past U+10FFFF */
        { "\x80 stray \xff", "? stray ?" },
};

static void test_string_valid_utf8(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(valid_rows); i++) {
                char buf[64];

                snprintf(buf, sizeof buf, "%s", valid_rows[i].in);
                string_valid_utf8(buf);
                assert_string_equal(buf, valid_rows[i].out);
        }
        assert_int_equal(utf8_char_len(""), 0);
        assert_int_equal(utf8_char_len("\xf0\x9f\x98\x80"), 4);
        string_valid_utf8(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_errbuf_fail),
                cmocka_unit_test(test_string_one_line_utf8),
                cmocka_unit_test(test_string_valid_utf8),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
