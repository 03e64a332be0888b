/* libFuzzer target for common/proc-util.c's cpu.stat reading (a cgroup's
 * CPU time, which a login's end line and /metrics report).  Beyond "no
 * crash": a value comes only from the first line that starts
 * "usage_usec ", which then holds that number's digits alone; -ENOENT
 * means no line starts so; a failure leaves the value alone; the answer
 * is the same again. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc-util.h"

/* The value of the first line that starts "usage_usec ", NULL when
 * there is none; its length (to its newline) in *ret_n. */
static const char *key_value(const char *text, size_t *ret_n) {
        for (const char *l = text; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                if (strncmp(l, "usage_usec ", 11) == 0) {
                        *ret_n = strcspn(l + 11, "\n");
                        return l + 11;
                }
        return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size), digits[32];
        const char *value;
        uint64_t v = 7, again = 7;
        size_t n = 0;
        int r;

        if (!text)
                return 0;
        r = proc_cpu_stat_usage(text, &v);
        CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
        CHECK(proc_cpu_stat_usage(text, &again) == r && again == v);
        value = key_value(text, &n);
        CHECK((r == -ENOENT) == !value);
        if (r == 0) {
                /* Digits alone, that number (leading zeros aside). */
                CHECK(n > 0 && strspn(value, "0123456789") >= n);
                while (n > 1 && value[0] == '0')
                        value++, n--;
                snprintf(digits, sizeof digits, "%" PRIu64, v);
                CHECK(strlen(digits) == n && memcmp(value, digits, n) == 0);
        } else
                CHECK(v == 7);
        free(text);
        return 0;
}
