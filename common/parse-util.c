/* Implementation of parse-util.h. */
#include <errno.h>
#include <stdlib.h>

#include "parse-util.h"

int parse_unsigned(const char *s, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        /* strtoull() would skip blanks and take a sign first. */
        if (!s || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}
