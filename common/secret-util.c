/* Implementation of secret-util.h. */
#include <string.h>

#include "macro.h"
#include "secret-util.h"

bool secret_equal(const char *given, size_t given_len, const char *expected) {
        size_t n = strlen(expected);
        volatile unsigned char diff = given_len != n;

        /* Walk the expected token's length whatever was given, reading the
         * given one cyclically, so neither content nor the position of the
         * first mismatch changes the time taken. */
        for (size_t i = 0; i < n; i++) {
                unsigned char g = given_len ? (unsigned char)given[i % given_len] : 0;
                diff |= g ^ (unsigned char)expected[i];
        }
        return n > 0 && diff == 0;
}

/* The walk secret_redact() makes, and secret_redact_cut() follows: at p,
 * with avail bytes of the text known there, the length of the longest
 * secret that matches (0: none); *ret_more when one matches as far as the
 * text goes and needs more of it. */
static size_t secret_at(const char *p, size_t avail, const char *const *secrets, bool *ret_more) {
        size_t best = 0;

        *ret_more = false;
        for (const char *const *x = secrets; x && *x; x++) {
                size_t l = strlen(*x), k = MIN(l, avail);

                if (l == 0 || memcmp(p, *x, k) != 0)
                        continue;
                if (k < l)
                        *ret_more = true;
                else
                        best = MAX(best, l);
        }
        return best;
}

size_t secret_redact(const char *in, const char *const *secrets, char *out, size_t size) {
        size_t o = 0, i = 0, n = strlen(in), mark = strlen(REDACTED_MARK);

        if (size == 0)
                return 0;
        while (i < n && o + 1 < size) {
                bool more;
                size_t best = secret_at(in + i, n - i, secrets, &more);

                if (best == 0) {
                        out[o++] = in[i++];
                        continue;
                }
                /* Truncated rather than cut inside the mark. */
                if (o + mark >= size)
                        break;
                memcpy(out + o, REDACTED_MARK, mark);
                o += mark;
                i += best;
        }
        out[o] = '\0';
        return o;
}

size_t secret_redact_cut(const char *s, size_t len, const char *const *secrets) {
        size_t i = 0;

        /* It stops where a secret may match once more bytes come, one
         * longer than any that matches there now. */
        while (i < len) {
                bool more;
                size_t best = secret_at(s + i, len - i, secrets, &more);

                if (more)
                        return i;
                i += MAX(best, (size_t)1);
        }
        return len;
}

bool desktop_secret_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n < DESKTOP_SECRET_MIN || n > DESKTOP_SECRET_MAX ||
            strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-") != n)
                return false;
        /* x11vnc's password file gives these a meaning of their own (x11vnc
         * 0.9.16): a line with __SKIP__ is no password (x11vnc then does
         * not start: "cannot read a valid line"), __COMM__ cuts it
         * ("abc__COMM__defgh" is "abc"), __EMPTY__ is the empty password
         * and __BEGIN_VIEWONLY__ a marker, not passwords. */
        return !strstr(s, "__SKIP__") && !strstr(s, "__COMM__") && !streq(s, "__EMPTY__") &&
               !streq(s, "__BEGIN_VIEWONLY__");
}
