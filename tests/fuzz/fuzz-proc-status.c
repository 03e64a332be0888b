/* libFuzzer target for common/proc-util.c: /proc/PID/status text.  Beyond
 * "no crash": a parse succeeds only when the text has State:, PPid: and
 * Uid: lines, and never yields a uid of -1 or a negative parent. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        ProcStatus st = {};
        int r;

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
