/* libFuzzer target for agent/supervise/sv-memory.c's memory.pressure
 * parser (a cgroup's "full avg10", which the thrash kill compares with
 * SV_MEMORY_THRASH_STALL).  Beyond "no crash": -EINVAL or 0-10000 (a share
 * of time: at most 100.00); the answer is the same again; and it agrees
 * with a reading written apart here: the first "full avg10=" at a line's
 * start, digits (leading zeros aside, at most 100), '.', exactly two
 * digits, then no digit. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "agent/supervise/sv-memory.h"

static int is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* What the parser should answer for text. */
static int expected(const char *text) {
        static const char key[] = "full avg10=";
        const char *p = strstr(text, key);
        int whole = 0;

        if (!p || (p != text && p[-1] != '\n'))
                return -EINVAL;
        p += strlen(key);
        if (!is_digit(*p))
                return -EINVAL;
        while (*p == '0' && is_digit(p[1]))
                p++;
        for (int n = 0; is_digit(*p); p++, n++) {
                if (n == 3)
                        return -EINVAL;
                whole = whole * 10 + (*p - '0');
        }
        if (p[0] != '.' || !is_digit(p[1]) || !is_digit(p[2]) || is_digit(p[3]))
                return -EINVAL;
        whole = whole * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        return whole > 10000 ? -EINVAL : whole;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        int r;

        if (!text)
                return 0;
        r = sv_memory_parse_stall(text);
        CHECK(r == -EINVAL || (r >= 0 && r <= 10000));
        CHECK(sv_memory_parse_stall(text) == r);
        CHECK(expected(text) == r);
        free(text);
        return 0;
}
