/* Small helpers the unit tests share. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

/* A test-side bound on a wait for something the test does not control (a
 * process's exit, a cgroup emptying): base_usec times VMBA_DEADLINE_SCALE
 * (default 3, as the Python tiers' waits), for a loaded machine and
 * sanitizers.  It only turns a hang into a failure that names the wait:
 * never a timing expectation. */
static inline uint64_t test_deadline_usec(uint64_t base_usec) {
        const char *e = getenv("VMBA_DEADLINE_SCALE");
        double scale = e ? strtod(e, NULL) : 3.0;

        if (!(scale > 0))
                scale = 3.0;
        return (uint64_t)((double)base_usec * scale);
}
