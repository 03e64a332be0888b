/* Adapter tests of common/socket-util.c's unix_connect_start() against a
 * real listener in a scratch directory: connected by its path, also one
 * longer than sun_path; refused through a symlink in the socket's place
 * (the directory may be another user's, and the caller root); ENOENT
 * when nothing is there. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "socket-util.h"
#include "tests/adapter/test-dir.h"

/* A listening unix socket at path, made through a chdir() so that a path
 * longer than sun_path can be bound. */
static int listen_at(const char *dir, const char *name) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), cwd = open(".", O_PATH | O_CLOEXEC);

        assert_true(fd >= 0 && cwd >= 0);
        assert_int_equal(chdir(dir), 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", name);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(fchdir(cwd), 0);
        close(cwd);
        return fd;
}

static int connect_to(const char *path) {
        int fd = -1, r = unix_connect_start(path, &fd);

        if (fd >= 0)
                close(fd);
        return r;
}

static void test_unix_connect(void **state) {
        const char *dir = *state;
        char path[PATH_MAX], link[PATH_MAX], deep[PATH_MAX];
        int l1, l2;

        snprintf(path, sizeof path, "%s/s", dir);
        l1 = listen_at(dir, "s");
        assert_int_equal(connect_to(path), 0);
        /* A symlink in the socket's place is not followed. */
        snprintf(link, sizeof link, "%s/link", dir);
        assert_int_equal(symlink(path, link), 0);
        assert_int_equal(connect_to(link), -ECONNREFUSED);
        assert_int_equal(connect_to("/nonexistent/vmba/s"), -ENOENT);
        /* A path longer than sun_path holds. */
        snprintf(deep, sizeof deep, "%s/%0120d", dir, 0);
        assert_int_equal(mkdir(deep, 0700), 0);
        l2 = listen_at(deep, "s");
        assert_true((size_t)snprintf(path, sizeof path, "%s/s", deep) < sizeof path);
        assert_true(strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path));
        assert_int_equal(connect_to(path), 0);
        close(l1);
        close(l2);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(deep), 0);
        snprintf(path, sizeof path, "%s/s", dir);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(unlink(link), 0);
}

static int setup_dir(void **state) {
        return test_dir_setup(state, "/tmp/vmba-sockutil-XXXXXX");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_unix_connect, setup_dir, test_dir_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
