/* Small helpers the unit tests share. */
#pragma once

#include <stdio.h>

/* A NULL-terminated list as one space-separated line, in a static buffer
 * (valid until the next call): argv and env lists compare as one string. */
static inline char *test_join(char *const *l) {
        static char buf[1024];
        size_t o = 0;

        buf[0] = '\0';
        for (; l && *l && o < sizeof buf; l++)
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", o ? " " : "", *l);
        return buf;
}
