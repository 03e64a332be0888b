/* libFuzzer target for common/http-answer.c: a whole HTTP answer as a
 * provider CLI's listener or the metadata service sends it.  Beyond "no
 * crash": an answer is taken only with a final status (200..599), its
 * header block and body lie inside the text, and the body runs to its
 * end or is exactly as long as its Content-Length, never shorter (-EPIPE:
 * cut off); a header value is taken whole or refused, never cut, and
 * holds no line break. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http-answer.h"

/* A value is taken whole or refused: what fits one size fits every
 * larger one, with the same length. */
static void check_header(const char *headers, const char *name, size_t size) {
        char buf[64], big[65536];
        int r = http_header_get(headers, name, buf, size), whole;

        CHECK(r >= 0 || r == -ENOENT || r == -ENOBUFS);
        whole = http_header_get(headers, name, big, sizeof big);
        CHECK(r != -ENOENT || whole == -ENOENT);
        if (r < 0)
                return;
        CHECK(size > 0 && (size_t)r < size && strlen(buf) == (size_t)r);
        CHECK(whole == r && memcmp(buf, big, (size_t)r + 1) == 0);
        CHECK(!strpbrk(buf, "\r\n"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        HttpAnswer a = {};
        int r;

        if (!text)
                return 0;
        r = http_answer_parse(text, size, &a);
        CHECK(r == 0 || r == -EBADMSG || r == -EPIPE);
        if (r == 0) {
                char cl[32];
                int l;

                CHECK(a.status >= 200 && a.status <= 599);
                CHECK(strncmp(text, "HTTP/1.", 7) == 0);
                CHECK(a.headers > text && a.headers <= a.body && a.body <= text + size);
                CHECK(a.body + a.body_size <= text + size && a.body[a.body_size] == '\0');
                l = http_header_get(a.headers, "Content-Length", cl, sizeof cl);
                if (a.status == 204 || a.status == 304)
                        CHECK(a.body_size == 0);
                else if (l == -ENOENT)
                        CHECK(a.body + a.body_size == text + size);
                else
                        CHECK(l > 0 && strspn(cl, "0123456789") == (size_t)l &&
                              strtoull(cl, NULL, 10) == a.body_size);
                /* The rule a reader waiting for the end uses is the same. */
                uint64_t length;
                int b = http_answer_body_length(a.status, a.headers, &length);
                CHECK(b == -ENOENT ? l == -ENOENT : b == 0 && length == a.body_size);
                CHECK(strlen(a.headers) < (size_t)(a.body - a.headers));
                for (size_t n = 0; n <= 64; n += 7) {
                        check_header(a.headers, "Location", n);
                        check_header(a.headers, "Content-Type", n);
                        check_header(a.headers, "", n);
                }
        }
        free(text);
        return 0;
}
