/* libFuzzer target for common/env-file.c: the rootfs's /etc/environment
 * as the host wrote it.  Beyond "no crash": a value found is one line's
 * text (no newline, no longer than the input, found in it), and a key that
 * cannot be in the text is never found. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "env-file.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const keys[] = { "HTTP_PROXY", "no_proxy", "A" };
        char *text = fuzz_text(data, size);

        if (!text)
                return 0;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                char *v = NULL;
                int r = env_file_get(text, keys[i], &v);

                CHECK(r == 0 || r == -ENOENT || r == -ENOMEM);
                if (r == 0) {
                        CHECK(strstr(text, keys[i]));
                        CHECK(!strchr(v, '\n'));
                        CHECK(strlen(v) <= strlen(text));
                        CHECK(strstr(text, v));
                        free(v);
                } else
                        CHECK(!v);
        }
        CHECK(env_file_get(text, "", &(char *){ NULL }) == -EINVAL);
        free(text);
        return 0;
}
