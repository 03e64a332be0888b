/* A test's own directory in /tmp, for adapter tests that put files or
 * sockets there: made by the test's cmocka setup and removed, with all
 * beneath it, by its teardown, so that a test failing midway (cmocka
 * jumps out of it, past its own unlink()s) leaves nothing in /tmp.
 * Included by a test after cmocka.h. */
#pragma once

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline int test_dir_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -errno : 0;
}

/* path and all beneath it removed: 0, or non-zero when some of it was
 * not. */
static inline int test_dir_remove(const char *path) {
        return nftw(path, test_dir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* *state: a directory made from template (a mkdtemp() one), its path
 * owned; -1 with nothing made when it cannot be. */
static inline int test_dir_setup(void **state, const char *template) {
        char *dir = strdup(template);

        if (!dir)
                return -1;
        if (!mkdtemp(dir)) {
                fprintf(stderr, "cannot make %s: %s\n", template, strerror(errno));
                free(dir);
                return -1;
        }
        *state = dir;
        return 0;
}

static inline int test_dir_teardown(void **state) {
        char *dir = *state;
        int r = test_dir_remove(dir);

        if (r < 0)
                fprintf(stderr, "cannot remove %s\n", dir);
        free(dir);
        return r < 0 ? -1 : 0;
}
