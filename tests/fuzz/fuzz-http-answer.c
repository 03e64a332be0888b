/* libFuzzer target for common/http-answer.c: a whole HTTP answer as a
 * provider CLI's listener or the metadata service sends it.  Beyond "no
 * crash": an answer is taken only with a final status (200..599), its
 * header block and body lie inside the text and the body runs to its end;
 * a header value fits its buffer and holds no line break. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http-answer.h"

static void check_header(const char *headers, const char *name, size_t size) {
        char buf[64];
        const char *v = http_header_get(headers, name, buf, size);

        if (!v)
                return;
        CHECK(v == buf && size > 0 && strlen(v) < size);
        CHECK(!strpbrk(v, "\r\n"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        HttpAnswer a = {};
        int r;

        if (!text)
                return 0;
        r = http_answer_parse(text, size, &a);
        CHECK(r == 0 || r == -EBADMSG);
        if (r == 0) {
                CHECK(a.status >= 200 && a.status <= 599);
                CHECK(strncmp(text, "HTTP/1.", 7) == 0);
                CHECK(a.headers > text && a.headers <= a.body && a.body <= text + size);
                CHECK(a.body + a.body_size == text + size && a.body[a.body_size] == '\0');
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
