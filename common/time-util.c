/* Time helpers that need the file system. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "time-util.h"

usec_t process_start_boottime(void) {
        _cleanup_(freep) char *buf = NULL;
        unsigned long long ticks;
        long hz = sysconf(_SC_CLK_TCK);

        if (read_full_file("/proc/self/stat", 4096, &buf, NULL) < 0 || hz <= 0)
                return 0;
        /* Field 2 (comm) may hold spaces and parentheses: skip past the last ')'. */
        const char *p = strrchr(buf, ')');
        if (!p)
                return 0;
        /* Each step lands on the space before field N; stop before field 22 (starttime). */
        for (int field = 3; field <= 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return 0;
        }
        if (sscanf(p + 1, "%llu", &ticks) != 1)
                return 0;
        return (usec_t)ticks * USEC_PER_SEC / (usec_t)hz;
}
