/* tmpfs_options(), the pure part of common/mount-util.c, and
 * fd_is_mount_root() on this machine's "/" and a directory of its own,
 * what tmpfs_mount_fd() refuses before it mounts, and which paths a
 * private /tmp hides (private_tmp_hides(), pure; through symlinks,
 * private_tmp_hides_where(), on symlinks of its own in /var/lib and /tmp).
 * The mounts themselves are the netns tier's (tests/netns/test_login_homes.py,
 * test_browser.py). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "macro.h"
#include "mount-util.h"

static void test_options(void **state) {
        char buf[128];

        (void)state;
        assert_int_equal(tmpfs_options(buf, sizeof buf, 64, 0710, 0, 1004), 0);
        assert_string_equal(buf, "size=64m,nr_inodes=16384,mode=0710,uid=0,gid=1004");
        assert_int_equal(tmpfs_options(buf, sizeof buf, 1, 01777, 7, 8), 0);
        assert_string_equal(buf, "size=1m,nr_inodes=256,mode=1777,uid=7,gid=8");
        /* The largest: 1 TiB, 2^28 inodes. */
        assert_int_equal(tmpfs_options(buf, sizeof buf, 1u << 20, 0700, 4294967294u, 4294967294u), 0);
        assert_string_equal(buf, "size=1048576m,nr_inodes=268435456,mode=0700,uid=4294967294,gid=4294967294");
}

static void test_refused(void **state) {
        char buf[128] = "untouched";
        char small[16];

        (void)state;
        assert_int_equal(tmpfs_options(buf, sizeof buf, 0, 0710, 0, 0), -EINVAL);
        assert_int_equal(tmpfs_options(buf, sizeof buf, (1u << 20) + 1, 0710, 0, 0), -EINVAL);
        assert_int_equal(tmpfs_options(buf, sizeof buf, UINT32_MAX, 0710, 0, 0), -EINVAL);
        assert_int_equal(tmpfs_options(buf, sizeof buf, 64, 010000, 0, 0), -EINVAL);
        assert_string_equal(buf, "untouched");
        assert_int_equal(tmpfs_options(small, sizeof small, 64, 0710, 0, 0), -ENOBUFS);
        assert_int_equal(tmpfs_options(buf, 0, 64, 0710, 0, 0), -ENOBUFS);
}

static void test_mount_root(void **state) {
        char dir[] = "/tmp/test-mount-util-XXXXXX";
        int fd;

        (void)state;
        fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(fd_is_mount_root(fd), 1);
        close(fd);
        assert_non_null(mkdtemp(dir));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(fd_is_mount_root(fd), 0);
        /* Refused before any mount is tried (on the directory of its own,
         * should that ever fail). */
        assert_int_equal(tmpfs_mount_fd(fd, 0, 0700, 0, 0), -EINVAL);
        assert_int_equal(tmpfs_mount_fd(fd, (1u << 20) + 1, 0700, 0, 0), -EINVAL);
        assert_int_equal(fd_is_mount_root(fd), 0);
        close(fd);
        assert_int_equal(rmdir(dir), 0);
        assert_int_equal(fd_is_mount_root(-1), -EBADF);
        assert_int_equal(tmpfs_mount_fd(-1, 64, 0700, 0, 0), -EBADF);
}

/* What a private_tmp child cannot reach, by name. */
static void test_private_tmp_hides(void **state) {
        static const struct { const char *path; bool hidden; } cases[] = {
                { "/tmp", true }, { "/tmp/x", true }, { "/var/tmp/vmba-login-1/logins", true },
                { "/dev/shm", true }, { "/dev/shm/", true }, { "/run/lock/vmba", true },
                /* A symlink to /run/lock on Debian. */
                { "/var/lock", true }, { "/var/lock/x", true }, { "/run/locked", false }, { "/run", false },
                { "/tmpx", false }, { "/var/tmpfs", false }, { "/run/vm-browser-agent-cli/control.sock", false },
                { "/var/lib/vm-browser-agent/logins", false }, { "tmp", false }, { "", false }, { NULL, false },
                /* By name as the kernel walks it: "//", "." and "..". */
                { "//tmp/x", true }, { "/./tmp", true }, { "/var/../tmp/x", true }, { "/usr/../var/./tmp", true },
                { "/../tmp", true }, { "/tmp/../usr/bin/x", false }, { "/dev//shm", true }, { "/run/lock/..", false },
                { "/var/lib/../lock/x", true }, { "/tmp/..x", true }, { "/..", false },
        };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (private_tmp_hides(cases[i].path) != cases[i].hidden)
                        fail_msg("%s: %s", cases[i].path ?: "(null)", cases[i].hidden ? "not hidden" : "hidden");
}

/* And where a symlink leads. */
static void test_private_tmp_hides_resolved(void **state) {
        char dir[] = "/var/lib/vmba-tests/hides-XXXXXX", link[PATH_MAX], to_tmp[PATH_MAX], later[PATH_MAX];

        (void)state;
        if (!mkdtemp(dir)) {
                assert_int_equal(mkdir("/var/lib/vmba-tests", 0755) < 0 && errno != EEXIST, 0);
                assert_non_null(mkdtemp(dir));
        }
        snprintf(link, sizeof link, "%s/program", dir);
        snprintf(to_tmp, sizeof to_tmp, "%s/bin", dir);
        assert_int_equal(symlink("/tmp", to_tmp), 0);
        assert_int_equal(symlink("/usr/bin/env", link), 0);
        assert_false(private_tmp_hides_resolved(link));
        assert_int_equal(unlink(link), 0);
        assert_int_equal(symlink("/tmp/vmba-no-such-program", link), 0);
        /* Dangling: named as it is; a directory through it resolved. */
        assert_false(private_tmp_hides_resolved(link));
        assert_true(private_tmp_hides_resolved(to_tmp));
        /* Not made yet (login_home, the control socket: the agent makes
         * them after the check), below a directory that leads there. */
        assert_true(snprintf(later, sizeof later, "%s/vmba-not-made-%d/logins", to_tmp, (int)getpid()) <
                    (int)sizeof later);
        assert_true(private_tmp_hides_resolved(later));
        assert_true(snprintf(later, sizeof later, "%s/vmba-not-made-%d/logins", dir, (int)getpid()) <
                    (int)sizeof later);
        assert_false(private_tmp_hides_resolved(later));
        assert_true(private_tmp_hides_resolved("/var/../tmp"));
        assert_false(private_tmp_hides_resolved(NULL));
        assert_int_equal(unlink(link), 0);
        assert_int_equal(unlink(to_tmp), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* Through every name on the way (each CLI's /tmp is empty: it cannot
 * pass through a symlink there to anywhere), and which name the
 * refusal shows.  D is a directory outside /tmp, T one below it. */
static void test_private_tmp_hides_where(void **state) {
        static const struct {
                char in_base; /* 'D', 'T' or 0 (as is) */
                const char *in;
                bool hidden;
                char where_base;
                const char *where;
        } cases[] = {
                { 'D', "/plain", false, 0, "" },
                /* realpath() says /usr/bin/env: the link on the way is
                 * what each CLI misses. */
                { 'D', "/chain", true, 'T', "/env" },
                { 'D', "/chain2", true, 'T', "/env" },
                { 'D', "/bin/env", true, 'T', "/env" },
                { 'D', "/out/bin/env", true, 'T', "/up" },
                /* Not made yet: by where its parent leads, with the rest. */
                { 'D', "/bin/later/x", true, 'T', "/later/x" },
                { 'T', "/env", true, 'T', "/env" },
                { 0, "/var/../tmp/x", true, 0, "/tmp/x" },
                /* Back out before any lookup inside: the kernel goes from
                 * the tmpfs's root to /'s. */
                { 0, "/tmp/../usr/bin/env", false, 0, "" },
                /* Dangling: by its own name, as private_tmp_hides_resolved(). */
                { 'D', "/dangling", false, 0, "" },
                { 'D', "/loop", false, 0, "" },
        };
        char d[] = "/var/lib/vmba-tests/where-XXXXXX", t[] = "/tmp/vmba-where-XXXXXX", a[PATH_MAX], b[PATH_MAX];
        const struct { const char *at, *to; } links[] = {
                { "T/env", "/usr/bin/env" }, { "T/up", "/usr" }, { "D/plain", "/usr/bin/env" },
                { "D/chain", "T/env" }, { "D/chain2", "D/chain" }, { "D/bin", "T" }, { "D/out", "T/up" },
                { "D/dangling", "T/vmba-no-such-program" }, { "D/loop", "D/loop" },
        };

        (void)state;
        if (!mkdtemp(d)) {
                assert_int_equal(mkdir("/var/lib/vmba-tests", 0755) < 0 && errno != EEXIST, 0);
                assert_non_null(mkdtemp(d));
        }
        assert_non_null(mkdtemp(t));
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(a, sizeof a, "%s%s", links[i].at[0] == 'D' ? d : t, links[i].at + 1);
                snprintf(b, sizeof b, "%s%s", links[i].to[0] == 'D' ? d : links[i].to[0] == 'T' ? t : "",
                         links[i].to + (links[i].to[0] != '/'));
                assert_int_equal(symlink(b, a), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char where[PATH_MAX] = "x";

                snprintf(a, sizeof a, "%s%s", cases[i].in_base == 'D' ? d : cases[i].in_base == 'T' ? t : "",
                         cases[i].in);
                snprintf(b, sizeof b, "%s%s", cases[i].where_base == 'T' ? t : "", cases[i].where);
                if (private_tmp_hides_where(a, where, sizeof where) != cases[i].hidden || !streq(where, b))
                        fail_msg("%s: %s, \"%s\"", a, cases[i].hidden ? "not hidden" : "hidden", where);
                assert_int_equal(private_tmp_hides_resolved(a), cases[i].hidden);
        }
        assert_false(private_tmp_hides_where(NULL, NULL, 0));
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(a, sizeof a, "%s%s", links[i].at[0] == 'D' ? d : t, links[i].at + 1);
                assert_int_equal(unlink(a), 0);
        }
        assert_int_equal(rmdir(d) | rmdir(t), 0); /* both removed, whichever fails */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_options),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_mount_root),
                cmocka_unit_test(test_private_tmp_hides),
                cmocka_unit_test(test_private_tmp_hides_resolved),
                cmocka_unit_test(test_private_tmp_hides_where),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
