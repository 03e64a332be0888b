/* libFuzzer target for common/proc-util.c's mountinfo reading: the first
 * line of the input is the path asked about, the rest the mountinfo text.
 * Beyond "no crash": the answer is the same with or without the options
 * asked for, options found are one line of the text, and a mount found is
 * named in it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size), *nl, *opts = NULL;
        const char *path, *mountinfo;
        int r;

        if (!text)
                return 0;
        nl = strchr(text, '\n');
        if (!nl || nl == text) {
                free(text);
                return 0;
        }
        *nl = '\0';
        path = text;
        mountinfo = nl + 1;
        r = proc_mountinfo_find(mountinfo, path, &opts);
        CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
        CHECK(proc_mountinfo_find(mountinfo, path, NULL) == r);
        if (r != -ENOENT)
                CHECK(strstr(mountinfo, path));
        if (r == 0) {
                CHECK(opts && !strchr(opts, '\n') && strstr(mountinfo, opts));
                (void)proc_options_hide_pids(opts);
        } else
                CHECK(!opts);
        free(opts);
        free(text);
        return 0;
}
