/* libFuzzer target for common/proc-util.c: /proc/PID/status text.  Beyond
 * "no crash": a parse succeeds only when the text has State:, PPid: and
 * Uid: lines, and never yields a uid of -1 or a negative parent.  The same
 * bytes as a /proc/PID/environ: the streaming search for an entry, fed in
 * pieces of a size the first byte picks, finds it exactly when a
 * NUL-terminated entry equals it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc-util.h"

static bool has_entry(const char *entry, const uint8_t *data, size_t size) {
        size_t len = strlen(entry);

        for (size_t start = 0, i = 0; i < size; i++)
                if (data[i] == 0) {
                        if (i - start == len && memcmp(data + start, entry, len) == 0)
                                return true;
                        start = i + 1;
                }
        return false;
}

static void environ_search(const uint8_t *data, size_t size) {
        static const char entry[] = "VMBA_LOGIN_SESSION=a";
        size_t piece, state = 0;
        bool found = false;

        if (size == 0)
                return;
        piece = data[0] % 16 + 1;
        data++, size--;
        for (size_t i = 0; i < size; i += piece)
                found = proc_environ_feed(entry, &state, (const char *)data + i, size - i < piece ? size - i : piece);
        CHECK(found == has_entry(entry, data, size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        ProcStatus st = {};
        int r;

        environ_search(data, size);
        if (!text)
                return 0;
        r = proc_status_parse(text, &st);
        CHECK(r == 0 || r == -EINVAL);
        if (r == 0) {
                CHECK(strstr(text, "State:") && strstr(text, "PPid:") && strstr(text, "Uid:"));
                CHECK(st.ppid >= 0);
                CHECK(st.uid != (uid_t)-1);
                CHECK(st.state != '\0' && st.state != '\n');
        }
        free(text);
        return 0;
}
