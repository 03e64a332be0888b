/* What every fuzz-<module>.c harness shares: the libFuzzer entry point's
 * prototype (also defined by fuzz-main.c's corpus replayer), an invariant
 * check that crashes so libFuzzer records the input, the input as a
 * NUL-terminated string, and the checks more than one harness makes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* A malloc'ed copy of all size bytes plus a NUL (embedded NULs kept, unlike
 * strndup: harnesses may look at all size bytes); NULL on ENOMEM. */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (s) {
                memcpy(s, data, size);
                s[size] = '\0';
        }
        return s;
}

/* Whether path has a ".." component ("a..b" is a fine name). */
static inline bool fuzz_has_dotdot(const char *p) {
        for (; *p; p += strcspn(p, "/"), p += *p == '/')
                if (!strncmp(p, "..", 2) && (p[2] == '/' || p[2] == '\0'))
                        return true;
        return false;
}
