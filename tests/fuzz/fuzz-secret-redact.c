/* libFuzzer target for common/secret-util.c's secret_redact() and
 * secret_redact_cut(), as a service's output reader (sv-output.c) uses
 * them: a line longer than its buffer is redacted in pieces, each cut
 * where the buffer is full.  Input: the first byte sizes the buffer
 * (from the longest secret up), then up to 4 secrets separated by blanks
 * up to the first newline, then the line.  Beyond "no crash": each cut
 * leaves something to log and keeps back less than the longest secret,
 * and the pieces redacted one by one put together are the line redacted
 * whole (so no secret escapes by a split, not even in halves). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/secret-util.h"
#include "fuzz.h"

#define SECRETS_MAX 4
#define SECRET_LEN_MAX 64
#define LINE_LEN_MAX 4096

/* Redacts piece[0..n) and appends it to out at *o. */
static void add_piece(const char *piece, size_t n, const char *const *secrets, char *out, size_t size, size_t *o) {
        char *p = strndup(piece, n);

        CHECK(p);
        *o += secret_redact(p, secrets, out + *o, size - *o);
        free(p);
}

static void check_pieces(const char *line, size_t cap, size_t longest, const char *const *secrets) {
        /* Every byte may become a mark: room for all of it, never cut. */
        size_t size = LINE_LEN_MAX * (sizeof REDACTED_MARK) + 1, n = 0, o = 0;
        char *buf = malloc(cap + 1), *whole = malloc(size), *pieces = malloc(size);

        CHECK(buf && whole && pieces);
        pieces[0] = '\0';
        for (const char *c = line; *c; c++) {
                buf[n++] = *c;
                if (n < cap)
                        continue;
                size_t cut = secret_redact_cut(buf, n, secrets);
                CHECK(cut > 0 && cut <= n && n - cut < MAX(longest, (size_t)1));
                add_piece(buf, cut, secrets, pieces, size, &o);
                memmove(buf, buf + cut, n - cut);
                n -= cut;
        }
        add_piece(buf, n, secrets, pieces, size, &o);
        secret_redact(line, secrets, whole, size);
        CHECK(strcmp(whole, pieces) == 0);
        free(buf);
        free(whole);
        free(pieces);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text, *line, *secrets[SECRETS_MAX + 1] = {};
        size_t n = 0, longest = 0;

        if (size < 1 || size > LINE_LEN_MAX)
                return 0;
        text = fuzz_text(data + 1, size - 1);
        if (!text)
                return 0;
        line = strchr(text, '\n');
        if (line) {
                *line++ = '\0';
                for (char *s = strtok(text, " "); s && n < SECRETS_MAX; s = strtok(NULL, " "))
                        if (strlen(s) <= SECRET_LEN_MAX) {
                                secrets[n++] = s;
                                longest = MAX(longest, strlen(s));
                        }
                /* The line stops at its first NUL, as the reader's does. */
                check_pieces(line, MAX(longest, (size_t)1) + data[0] % 32, longest, (const char *const *)secrets);
        }
        free(text);
        return 0;
}
