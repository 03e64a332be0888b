/* Implementation of launch.h's helpers. */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"
#include "macro.h"

char *self_exe_path(void) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

        exe[n > 0 ? n : 0] = '\0';
        return strdup(n > 0 ? exe : DEFAULT_SELF_EXE);
}

int find_executable(const char *name, const char *path, char **ret) {
        if (isempty(name))
                return -EINVAL;
        if (strchr(name, '/')) {
                if (access(name, X_OK) < 0)
                        return -errno;
                char *c = strdup(name);
                if (!c)
                        return -ENOMEM;
                *ret = c;
                return 0;
        }
        if (!path)
                path = getenv("PATH") ?: DEFAULT_PATH;

        for (const char *p = path; *p;) {
                size_t l = strcspn(p, ":");
                struct stat st;
                char *full;

                if (l > 0 && asprintf(&full, "%.*s/%s", (int)l, p, name) < 0)
                        return -ENOMEM;
                if (l > 0) {
                        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
                                *ret = full;
                                return 0;
                        }
                        free(full);
                }
                p += l;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}

const char *wstatus_to_string(int wstatus, char *buf, size_t size) {
        if (WIFEXITED(wstatus))
                snprintf(buf, size, "exited %d", WEXITSTATUS(wstatus));
        else if (WIFSIGNALED(wstatus))
                snprintf(buf, size, "%s by SIG%s", WCOREDUMP(wstatus) ? "dumped core, killed" : "killed",
                         sigabbrev_np(WTERMSIG(wstatus)) ?: "?");
        else
                snprintf(buf, size, "status 0x%x", (unsigned)wstatus);
        return buf;
}

const char *memory_pressure_to_string(const LaunchMemory *mem, const char *key, char *buf, size_t size) {
        if (size > 0)
                buf[0] = '\0';
        if (!mem || mem->max == 0 || mem->reclaims == 0 || mem->refaults == 0)
                return buf;
        snprintf(buf, size,
                 "at its memory.max %" PRIu64 " MiB: the kernel reclaimed its memory %" PRIu64 " time%s since it "
                 "started and read back %" PRIu64 " page%s it had evicted, its code too, as it runs; raise %s",
                 mem->max >> 20, mem->reclaims, mem->reclaims == 1 ? "" : "s", mem->refaults,
                 mem->refaults == 1 ? "" : "s", key);
        return buf;
}

const char *exit_to_string(int wstatus, const LaunchMemory *mem, char *buf, size_t size) {
        if (!mem || mem->oom_kills == 0)
                return wstatus_to_string(wstatus, buf, size);
        if (mem->at_max > 0)
                snprintf(buf, size, "killed by the kernel: out of memory (memory.max %" PRIu64 " MiB)",
                         mem->max >> 20);
        else
                snprintf(buf, size, "killed by the kernel: out of memory (the VM's)");
        return buf;
}
