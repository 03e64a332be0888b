/* Unit tests for agent/pid1.c's last step, pid1_reboot_with(), its system
 * calls faked (a real reboot() cannot fail in a test, and a test's PID 1
 * must never remount the machine's root): which calls it makes in which
 * order, what it returns, what it says the root was left as, and the
 * lines it logs, for every outcome of each call. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/pid1.h"
#include "log.h"
#include "macro.h"
#include "tests/unit/test-util.h"

/* One case's outcomes (0: the call succeeds, else the errno it fails
 * with) and what the fakes recorded. */
static struct {
        bool machine_init, was_read_only;
        int statvfs_errno, read_only_errno, reboot_errno, writable_errno;
        char calls[256];
} fake;

static void called(const char *what) {
        size_t n = strlen(fake.calls);

        snprintf(fake.calls + n, sizeof fake.calls - n, "%s%s", n ? " " : "", what);
}

static int fail_with(int e) {
        errno = e;
        return e ? -1 : 0;
}

static void fake_sync(void) {
        called("sync");
}

static bool fake_is_machine_init(void) {
        return fake.machine_init;
}

static int fake_statvfs(const char *path, struct statvfs *ret) {
        assert_string_equal(path, "/");
        called("statvfs");
        if (fake.statvfs_errno)
                return fail_with(fake.statvfs_errno);
        *ret = (struct statvfs) { .f_flag = fake.was_read_only ? ST_RDONLY : 0 };
        return 0;
}

/* Only superblock remounts of "/": read-only, or writable again. */
static int fake_mount(const char *source, const char *target, const char *type, unsigned long flags,
                      const void *data) {
        assert_null(source);
        assert_string_equal(target, "/");
        assert_null(type);
        assert_null(data);
        if (flags == (MS_REMOUNT | MS_RDONLY)) {
                called("remount-ro");
                return fail_with(fake.read_only_errno);
        }
        assert_int_equal(flags, MS_REMOUNT);
        called("remount-rw");
        return fail_with(fake.writable_errno);
}

static int fake_reboot(int cmd) {
        assert_true(cmd == RB_AUTOBOOT || cmd == RB_POWER_OFF);
        called(cmd == RB_AUTOBOOT ? "reboot" : "poweroff");
        return fail_with(fake.reboot_errno);
}

static const Pid1RebootOps fake_ops = {
        .sync = fake_sync,
        .is_machine_init = fake_is_machine_init,
        .statvfs = fake_statvfs,
        .mount = fake_mount,
        .reboot = fake_reboot,
};

/* pid1_reboot_with() on the fakes, what it logs captured through a pipe
 * on stderr (a few short lines: the pipe holds them). */
static int run(ShutdownAction action, Pid1Root *ret_root, char *log, size_t size) {
        TestStderr c;
        int r;

        fake.calls[0] = '\0';
        assert_int_equal(test_stderr_begin(&c), 0);
        log_set_ident("tst");
        r = pid1_reboot_with(&fake_ops, action, ret_root);
        log_set_ident("vm-browser-agent");
        assert_true(test_stderr_end(&c, log, size) >= 0);
        return r;
}

#define NOT_INIT "<6>tst: Not the machine's own init (PID 1 of a PID namespace): its file systems are left as they are.\n"
#define RO_OK "<6>tst: Remounted / read-only.\n"

static void test_reboot(void **state) {
        static const struct {
                const char *what;
                bool machine_init, was_read_only;
                int statvfs_errno, read_only_errno, reboot_errno, writable_errno;
                ShutdownAction action;
                int ret;
                Pid1Root root;
                const char *calls, *log;
        } t[] = {
                { "a PID namespace's init: no remount either way", false, false, 0, 0, EPERM, 0, SHUTDOWN_REBOOT,
                  -EPERM, PID1_ROOT_UNTOUCHED, "sync reboot", NOT_INIT },
                { "the machine's init, reboot() refused: / writable again", true, false, 0, 0, EPERM, 0,
                  SHUTDOWN_REBOOT, -EPERM, PID1_ROOT_WRITABLE_AGAIN, "sync statvfs remount-ro reboot remount-rw",
                  RO_OK },
                { "poweroff refused (a seccomp filter's errno): the same", true, false, 0, 0, ENOSYS, 0,
                  SHUTDOWN_POWEROFF, -ENOSYS, PID1_ROOT_WRITABLE_AGAIN,
                  "sync statvfs remount-ro poweroff remount-rw", RO_OK },
                { "writable again fails: said, with why", true, false, 0, 0, EPERM, EIO, SHUTDOWN_REBOOT, -EPERM,
                  PID1_ROOT_READ_ONLY, "sync statvfs remount-ro reboot remount-rw",
                  RO_OK "<3>tst: Failed to remount / writable again, it stays read-only (every write to it fails "
                        "with EROFS): Input/output error\n" },
                /* A file still open for writing on it. */
                { "the read-only remount fails: nothing to undo", true, false, 0, EBUSY, EPERM, 0, SHUTDOWN_REBOOT,
                  -EPERM, PID1_ROOT_WRITABLE, "sync statvfs remount-ro reboot",
                  "<3>tst: Failed to remount / read-only, going on with it writable (its journal is replayed at "
                  "the next mount): Device or resource busy\n" },
                /* Booted "ro": a failed reboot() must not make it writable. */
                { "read-only before: stays so", true, true, 0, 0, EPERM, 0, SHUTDOWN_REBOOT, -EPERM,
                  PID1_ROOT_WAS_READ_ONLY, "sync statvfs remount-ro reboot", RO_OK },
                { "read-only before, the remount fails: said as it is", true, true, 0, EBUSY, EPERM, 0,
                  SHUTDOWN_REBOOT, -EPERM, PID1_ROOT_WAS_READ_ONLY, "sync statvfs remount-ro reboot",
                  "<3>tst: Failed to remount / read-only, going on with it read-only as it was: Device or "
                  "resource busy\n" },
                /* statvfs() of "/" failing is not seen in practice. */
                { "cannot tell whether it was read-only: taken as writable", true, false, ENOSYS, 0, EPERM, 0,
                  SHUTDOWN_REBOOT, -EPERM, PID1_ROOT_WRITABLE_AGAIN, "sync statvfs remount-ro reboot remount-rw",
                  RO_OK },
                /* Only a fake's reboot() returns 0: nothing is undone then. */
                { "reboot() returns", true, false, 0, 0, 0, 0, SHUTDOWN_REBOOT, 0, PID1_ROOT_READ_ONLY,
                  "sync statvfs remount-ro reboot", RO_OK },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                Pid1Root root = _PID1_ROOT_INVALID;
                char log[1024];
                int r;

                fake.machine_init = t[i].machine_init;
                fake.was_read_only = t[i].was_read_only;
                fake.statvfs_errno = t[i].statvfs_errno;
                fake.read_only_errno = t[i].read_only_errno;
                fake.reboot_errno = t[i].reboot_errno;
                fake.writable_errno = t[i].writable_errno;
                r = run(t[i].action, &root, log, sizeof log);
                if (r != t[i].ret || root != t[i].root || !streq(fake.calls, t[i].calls) || !streq(log, t[i].log))
                        fail_msg("%s: returned %d, root %d, calls \"%s\", logged \"%s\"; expected %d, %d, \"%s\", "
                                 "\"%s\"", t[i].what, r, root, fake.calls, log, t[i].ret, t[i].root, t[i].calls,
                                 t[i].log);
        }
}

/* Each state reads after "staying up with " in the caller's line. */
static void test_root_to_string(void **state) {
        assert_string_equal(pid1_root_to_string(PID1_ROOT_UNTOUCHED),
                            "the file systems as they were (not the machine's own init)");
        assert_string_equal(pid1_root_to_string(PID1_ROOT_WRITABLE), "/ writable (its read-only remount had failed)");
        assert_string_equal(pid1_root_to_string(PID1_ROOT_READ_ONLY),
                            "/ read-only (remounting it writable again failed)");
        assert_string_equal(pid1_root_to_string(PID1_ROOT_WRITABLE_AGAIN), "/ remounted writable again");
        assert_string_equal(pid1_root_to_string(PID1_ROOT_WAS_READ_ONLY),
                            "/ read-only, as it was before the shutdown");
        assert_int_equal(_PID1_ROOT_MAX, 5); /* a new state gets its line above */
        assert_null(pid1_root_to_string(_PID1_ROOT_MAX));
        assert_null(pid1_root_to_string(_PID1_ROOT_INVALID));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reboot),
                cmocka_unit_test(test_root_to_string),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
