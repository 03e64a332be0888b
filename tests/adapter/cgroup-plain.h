/* A cgroup2 base of plain files in a directory, laid out as the kernel's:
 * for adapter tests that count what the kernel would (memory.events,
 * memory.stat, cpu.stat) where no memory controller is there to count it.
 * The functions return 0 or -errno, for the tests to assert. */
#pragma once

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* <in>/<file> holds text, written in place (truncated, then written; the
 * inode kept, as the kernel changes a cgroup file, which inotify tells
 * of); made when missing. */
static inline int test_plain_put(const char *in, const char *file, const char *text) {
        char path[PATH_MAX];
        FILE *fp;
        int r = 0;

        if (snprintf(path, sizeof path, "%s/%s", in, file) >= (int)sizeof path)
                return -ENAMETOOLONG;
        fp = fopen(path, "we");
        if (!fp)
                return -errno;
        if (fputs(text, fp) < 0)
                r = -EIO;
        if (fclose(fp) != 0 && r == 0)
                r = -errno;
        return r;
}

/* base, a mkdtemp() template, made a cgroup base with the cpu, memory and
 * pids controllers. */
static inline int test_plain_base_make(char *base) {
        int r;

        if (!mkdtemp(base))
                return -errno;
        r = test_plain_put(base, "cgroup.controllers", "cpu memory pids\n");
        return r < 0 ? r : test_plain_put(base, "cgroup.subtree_control", "");
}

/* <dir>/ holds the empty files a cgroup with the memory controller has
 * (made, or emptied). */
static inline int test_plain_memory_files(const char *dir) {
        static const char *const files[] = { "cgroup.procs", "cgroup.kill", "memory.max", "memory.swap.max",
                                             "memory.oom.group" };
        int r = 0;

        for (size_t i = 0; r == 0 && i < sizeof files / sizeof files[0]; i++)
                r = test_plain_put(dir, files[i], "");
        return r;
}

/* <dir>/memory.events with max, oom and oom_kill counted, and memory.stat
 * with refaults pages read back after eviction (as Linux 5.9 and later
 * have it: anon and file apart). */
static inline int test_plain_memory_counts(const char *dir, int max, int oom, int refaults) {
        char text[256];
        int r;

        snprintf(text, sizeof text, "low 0\nhigh 0\nmax %d\noom %d\noom_kill %d\noom_group_kill 0\n", max, oom,
                 oom);
        r = test_plain_put(dir, "memory.events", text);
        snprintf(text, sizeof text, "anon 1048576\nfile 33030144\nworkingset_refault_anon 3\n"
                 "workingset_refault_file %d\nworkingset_activate_anon 0\n", refaults - 3);
        return r < 0 ? r : test_plain_put(dir, "memory.stat", text);
}

static inline int test_plain_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

/* base and all beneath it removed. */
static inline int test_plain_remove(const char *base) {
        return nftw(base, test_plain_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
