/* Implementation of parse-util.h.  Digits are read by hand: strtoull()
 * skips blanks, takes a sign and reads past n. */
#include <errno.h>
#include <string.h>

#include "parse-util.h"

int parse_unsigned_span(const char *s, size_t n, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned char)s[i] - '0';

                if (d > 9 || d > max || v > (max - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int parse_unsigned(const char *s, uint64_t max, uint64_t *ret) {
        return parse_unsigned_span(s, s ? strlen(s) : 0, max, ret);
}
