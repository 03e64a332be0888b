/* A cgroup2 directory of a test's own, for the adapter tests that run
 * children in real cgroups. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where cgroup2 is mounted (/sys/fs/cgroup, or .../unified), into buf. */
static inline bool test_cgroup2_mount(char *buf, size_t size) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];
        bool found = false;

        if (!f)
                return false;
        while (!found && fgets(line, sizeof line, f)) {
                char mnt[PATH_MAX];
                if (strstr(line, " - cgroup2 ") && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1)
                        found = snprintf(buf, size, "%s", mnt) < (int)size;
        }
        fclose(f);
        return found;
}

/* Makes <cgroup2 mount>/vmba-test-<tag>-<pid> into buf; false, with buf
 * empty, where the test cannot have one (not root, no cgroup2, no
 * cgroup.kill: a kernel before 5.14), and its cgroup cases skip. */
static inline bool test_cgroup_base_make(char *buf, size_t size, const char *tag) {
        char mnt[PATH_MAX], kill_file[PATH_MAX + 16];

        buf[0] = '\0';
        if (getuid() != 0 || !test_cgroup2_mount(mnt, sizeof mnt) ||
            snprintf(buf, size, "%.3000s/vmba-test-%s-%d", mnt, tag, (int)getpid()) >= (int)size) {
                buf[0] = '\0';
                return false;
        }
        snprintf(kill_file, sizeof kill_file, "%s/cgroup.kill", buf);
        if (mkdir(buf, 0755) < 0 || access(kill_file, F_OK) < 0) {
                (void)rmdir(buf);
                buf[0] = '\0';
                return false;
        }
        return true;
}
