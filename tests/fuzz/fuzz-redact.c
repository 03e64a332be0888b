/* libFuzzer target for agent/login/transcript.c's redact_secrets(): CLI
 * output text.  Beyond "no crash": the output stays within the bound the
 * allocation assumes, text without a separator or a Bearer is unchanged,
 * and text the redaction leaves alone is never cut. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/login/transcript.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size), *out;
        size_t len;

        if (!text)
                return 0;
        len = strlen(text);
        out = redact_secrets(text);
        if (out) {
                CHECK(strlen(out) <= len * (sizeof "[REDACTED]"));
                if (!strpbrk(text, "=:") && !strcasestr(text, "bearer "))
                        CHECK(strcmp(out, text) == 0);
                if (!strstr(out, "[REDACTED]"))
                        CHECK(strcmp(out, text) == 0);
                free(out);
        }
        free(text);
        return 0;
}
