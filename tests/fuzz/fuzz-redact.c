/* libFuzzer target for agent/login/transcript.c's redact_secrets(): CLI
 * output text.  Beyond "no crash": the output stays within the bound the
 * allocation assumes, text without a separator or a Bearer is unchanged,
 * and text the redaction leaves alone is never cut.  The same bytes as a
 * CLI's raw output, split in two reads, through transcript_feed(): its
 * text stays within its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/login/transcript.h"
#include "fuzz.h"

static void transcript_check(const uint8_t *data, size_t size) {
        Transcript *t = NULL;
        char *all;

        if (transcript_new(512, &t) < 0)
                return;
        transcript_feed(t, (const char *)data, size / 2);
        transcript_feed(t, (const char *)data + size / 2, size - size / 2);
        all = transcript_text(t);
        if (all) {
                CHECK(strlen(all) <= 512);
                free(all);
        }
        transcript_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size), *out;
        size_t len;

        transcript_check(data, size);
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
