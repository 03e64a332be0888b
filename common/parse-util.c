/* Implementation of parse-util.h. */
#include <errno.h>
#include <stdlib.h>

#include "parse-util.h"

int parse_unsigned(const char *s, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end || s[0] == '-' || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}
