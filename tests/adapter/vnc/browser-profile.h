/* The browser of the adapter tests that need one without Firefox: its
 * profile in a temporary directory of its own, and the path of a bus
 * socket that does not exist there (so an open asks the browser's start
 * hook at once).  Included by a test after cmocka.h. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct TestProfile {
        char dir[32], profile[64], bus[64];
} TestProfile;

/* name: what the temporary directory's name in /tmp starts with.  0, or
 * -errno with nothing made and p->dir empty: without an assertion, for a
 * setup to fail cleanly (cmocka runs no teardown after that). */
static inline int test_profile_make(TestProfile *p, const char *name) {
        snprintf(p->dir, sizeof p->dir, "/tmp/%s-XXXXXX", name);
        if (!mkdtemp(p->dir)) {
                p->dir[0] = '\0';
                return -errno;
        }
        snprintf(p->profile, sizeof p->profile, "%s/profile", p->dir);
        snprintf(p->bus, sizeof p->bus, "%s/no-bus", p->dir);
        if (mkdir(p->profile, 0700) < 0) {
                int r = -errno;

                (void)rmdir(p->dir);
                p->dir[0] = '\0';
                return r;
        }
        return 0;
}

/* The directories removed, empty or not, for a setup that fails after
 * test_profile_make(). */
static inline void test_profile_drop(TestProfile *p) {
        (void)rmdir(p->profile);
        (void)rmdir(p->dir);
        p->dir[0] = '\0';
}

/* Removes the directories, and the user.js a browser wrote into the
 * profile (if it did): anything else left there fails the test. */
static inline void test_profile_remove(TestProfile *p) {
        char path[96];

        snprintf(path, sizeof path, "%s/user.js", p->profile);
        (void)unlink(path);
        assert_int_equal(rmdir(p->profile), 0);
        assert_int_equal(rmdir(p->dir), 0);
}
