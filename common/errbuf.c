/* See errbuf.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "errbuf.h"

/* Invisible characters that reorder or break what a terminal or a log
 * viewer shows (Trojan Source): the bidirectional controls (U+061C,
 * U+200E..U+200F, U+202A..U+202E, U+2066..U+2069), the line and paragraph
 * separators (U+2028, U+2029, a new line to some viewers), zero-width
 * ones (U+200B..U+200D, U+2060..U+2064) and the byte order mark (U+FEFF). */
static bool is_invisible_format(uint32_t cp) {
        return cp == 0x061c || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
               (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

size_t utf8_char_len(const char *p) {
        const unsigned char *s = (const unsigned char *)p;
        unsigned char c = s[0], lo = 0x80, hi = 0xbf;
        size_t n;

        if (c > 0 && c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        else
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return n;
}

/* Each byte of s where len() finds no character becomes '?'. */
static void replace_bad(char *s, size_t (*len)(const char *)) {
        while (s && *s) {
                size_t n = len(s);

                if (n == 0)
                        *s++ = '?';
                else
                        s += n;
        }
}

void string_valid_utf8(char *s) {
        replace_bad(s, utf8_char_len);
}

/* Length of the character at s if it is printable UTF-8 (utf8_char_len()),
 * else 0: also a control (C0, DEL, C1) or an invisible format character. */
static size_t utf8_printable_len(const char *s) {
        unsigned char c = (unsigned char)s[0];
        size_t n = utf8_char_len(s);
        uint32_t cp;

        if (c < 0x80)
                return c >= 0x20 && c < 0x7f ? 1 : 0;
        /* U+0080..U+009F are C1 (U+009B is CSI). */
        if (n == 0 || (c == 0xc2 && (unsigned char)s[1] < 0xa0))
                return 0;
        cp = c & (0x7f >> n);
        for (size_t i = 1; i < n; i++)
                cp = cp << 6 | ((unsigned char)s[i] & 0x3f);
        return is_invisible_format(cp) ? 0 : n;
}

void string_one_line(char *s) {
        replace_bad(s, utf8_printable_len);
}

int errbuf_vfail(char *buf, size_t size, const char *what, const char *name, const char *fmt, va_list ap) {
        char msg[256];

        if (!buf || size == 0)
                return -EINVAL;
        if (what) {
                vsnprintf(msg, sizeof msg, fmt, ap);
                snprintf(buf, size, "%s %s: %s", what, name ?: "?", msg);
        } else
                vsnprintf(buf, size, fmt, ap);
        string_one_line(buf);
        return -EINVAL;
}

int errbuf_fail(char *buf, size_t size, const char *what, const char *name, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = errbuf_vfail(buf, size, what, name, fmt, ap);
        va_end(ap);
        return r;
}
