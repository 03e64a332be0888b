/* Unit tests for agent/ctl/ctl-out.c on a temporary directory: the
 * credentials land whole, 0600, with no temporary file left, and none
 * seen while they are pulled; a login that ends without them leaves
 * nothing; a rename that fails keeps the synced file and names it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/ctl/ctl-out.h"
#include "fileio.h"

static char dir[64], path[96];

static int setup(void **state) {
        snprintf(dir, sizeof dir, "/tmp/test-ctl-out-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/creds.json", dir);
        return 0;
}

static int teardown(void **state) {
        int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_int_equal(rm_rf_at(fd, dir + strlen("/tmp/")), 0);
        close(fd);
        return 0;
}

/* The directory's entries but "." and "..". */
static unsigned entries(void) {
        unsigned n = 0;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fdopendir(fd);

        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(d);
        return n;
}

/* The credentials at path, 0600, and nothing else in the directory. */
static void assert_written(const char *want) {
        char *text = NULL;
        struct stat st;

        assert_int_equal(read_full_file(path, 4096, &text, NULL), 0);
        assert_string_equal(text, want); /* the room made is cut to the data */
        free(text);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(entries(), 1);
}

/* While ctl pulls, the file it made room in has no name: a ctl killed
 * then (SIGKILL) leaves nothing beside --out.  Once written it is
 * linked at --out. */
static void test_commit(void **state) {
        CtlOut o = CTL_OUT_NULL;

        assert_int_equal(ctl_out_open(&o, path), 0);
        assert_false(o.named);
        assert_int_equal(entries(), 0); /* the check's file is gone again */
        assert_int_equal(ctl_out_reserve(&o), 0);
        assert_int_equal(entries(), 0);
        assert_int_equal(ctl_out_commit(&o, "{\"a\":1}", 7), 0);
        assert_true(o.renamed);
        ctl_out_done(&o);
        assert_written("{\"a\":1}");
}

/* An --out that is there (a login before's) is replaced whole. */
static void test_commit_replaces(void **state) {
        CtlOut o = CTL_OUT_NULL;
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "{\"old\":true,\"longer\":1}", 23), 23);
        close(fd);
        assert_int_equal(ctl_out_open(&o, path), 0);
        assert_int_equal(ctl_out_reserve(&o), 0);
        assert_int_equal(entries(), 1);
        assert_int_equal(ctl_out_commit(&o, "{\"a\":2}", 7), 0);
        ctl_out_done(&o);
        assert_written("{\"a\":2}");
}

/* A file system without unnamed files (named, as ctl_out_open() sets
 * on EOPNOTSUPP): a named temporary file beside --out, renamed. */
static void test_commit_named(void **state) {
        CtlOut o = CTL_OUT_NULL;

        o.named = true;
        assert_int_equal(ctl_out_open(&o, path), 0);
        assert_int_equal(entries(), 0);
        assert_int_equal(ctl_out_reserve(&o), 0);
        assert_int_equal(entries(), 1);
        assert_int_equal(ctl_out_commit(&o, "{\"a\":3}", 7), 0);
        ctl_out_done(&o);
        assert_written("{\"a\":3}");
}

/* A login that ends without credentials (failed, cut off) leaves no
 * file behind; a directory at --out is refused before the login. */
static void test_done_without_commit(void **state) {
        CtlOut o = CTL_OUT_NULL, d = CTL_OUT_NULL;

        assert_int_equal(ctl_out_open(&o, path), 0);
        assert_int_equal(ctl_out_reserve(&o), 0);
        ctl_out_done(&o);
        assert_int_equal(entries(), 0);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_int_equal(ctl_out_open(&d, path), -EISDIR);
        ctl_out_done(&d);
}

/* A directory took --out's place during the login: the rename fails,
 * the synced file stays where o->tmp says, with the data (linked there
 * first when it was unnamed). */
static void rename_fails_keeps_the_file(bool named) {
        CtlOut o = CTL_OUT_NULL;
        char sub[160], kept[PATH_MAX], *text = NULL;

        o.named = named;
        assert_int_equal(ctl_out_open(&o, path), 0);
        assert_int_equal(ctl_out_reserve(&o), 0);
        assert_int_equal(mkdir(path, 0700), 0);
        snprintf(sub, sizeof sub, "%s/x", path);
        assert_int_equal(mkdir(sub, 0700), 0);
        assert_true(ctl_out_commit(&o, "{\"a\":1}", 7) < 0);
        assert_true(o.kept);
        assert_false(o.renamed);
        snprintf(kept, sizeof kept, "%s/%s", o.dir, o.tmp);
        ctl_out_done(&o);
        assert_int_equal(read_full_file(kept, 4096, &text, NULL), 0);
        assert_string_equal(text, "{\"a\":1}");
        free(text);
}

static void test_rename_fails_keeps_the_file(void **state) {
        rename_fails_keeps_the_file(false);
}

static void test_rename_fails_keeps_the_named_file(void **state) {
        rename_fails_keeps_the_file(true);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_commit_replaces, setup, teardown),
                cmocka_unit_test_setup_teardown(test_commit_named, setup, teardown),
                cmocka_unit_test_setup_teardown(test_done_without_commit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rename_fails_keeps_the_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rename_fails_keeps_the_named_file, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
