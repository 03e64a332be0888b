/* Unit tests for common/proc-util.c: /proc/PID/status as the kernel
 * writes it, and what is refused; mountinfo (a wrong "mounted" skips a
 * mount PID 1 needs, a wrong "missing" mounts over a container's /dev)
 * and whether proc's options hide other users' processes; the cgroup v2
 * line of /proc/PID/cgroup (a wrong one puts the services' cgroups into
 * someone else's); the search of
 * a process's environ for the entry that marks a login's processes (a
 * false match kills another's process, a miss leaves one running). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "proc-util.h"

static void test_parse(void **state) {
        ProcStatus s = {};

        assert_int_equal(proc_status_parse("Name:\tx11vnc\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\n"
                                           "Ngid:\t0\nPid:\t42\nPPid:\t1\nTracerPid:\t0\n"
                                           "Uid:\t101\t101\t101\t101\nGid:\t102\t102\t102\t102\n", &s), 0);
        assert_int_equal(s.state, 'S');
        assert_int_equal(s.ppid, 1);
        assert_int_equal(s.uid, 101);
        /* A zombie; a name that looks like a field does not count. */
        assert_int_equal(proc_status_parse("Name:\tUid: 0\nState:\tZ (zombie)\nPPid:\t7\n"
                                           "Uid:\t65534\t0\t0\t0\n", &s), 0);
        assert_int_equal(s.state, 'Z');
        assert_int_equal(s.ppid, 7);
        assert_int_equal(s.uid, 65534);
        assert_int_equal(s.threads, 1);
        assert_true(proc_status_exited(&s));
        /* A leader that exited alone (pthread_exit() in main()): 'Z', with
         * a thread still running, which a sweep must not pass over. */
        assert_int_equal(proc_status_parse("Name:\tx\nState:\tZ (zombie)\nPPid:\t7\nUid:\t101\t101\t101\t101\n"
                                           "Threads:\t2\n", &s), 0);
        assert_int_equal(s.threads, 2);
        assert_false(proc_status_exited(&s));
        assert_int_equal(proc_status_parse("State:\tS (sleeping)\nPPid:\t7\nUid:\t101\nThreads:\t1\n", &s), 0);
        assert_false(proc_status_exited(&s));
}

static void test_refused(void **state) {
        static const char *const bad[] = {
                "",
                "State:\tS\nPPid:\t1\n",                       /* no Uid */
                "State:\tS\nUid:\t1\t1\t1\t1\n",               /* no PPid */
                "PPid:\t1\nUid:\t1\t1\t1\t1\n",                /* no State */
                "State:\tS\nPPid:\t-1\nUid:\t1\t1\t1\t1\n",
                "State:\tS\nPPid:\t1\nUid:\tx\n",
                "State:\tS\nPPid:\t1\nUid:\t4294967295\t0\t0\t0\n",
                "State:\tS\nPPid:\t99999999999999999999\nUid:\t1\n",
                "State:\t\nPPid:\t1\nUid:\t1\n",
                "State:\tZ\nPPid:\t1\nUid:\t1\nThreads:\tx\n",
        };
        ProcStatus s = {};

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_int_equal(proc_status_parse(bad[i], &s), -EINVAL);
}

static const char mountinfo[] =
        "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
        "24 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,size=4096k\n"
        "25 24 0:22 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts rw,gid=5\n"
        "26 22 0:23 / /run/user/0 rw,nosuid,nodev shared:4 - tmpfs tmpfs rw\n"
        "28 23 0:31 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw,hidepid=invisible\n"
        "27 22 0:24 / /tmpdata rw shared:5 - tmpfs tmpfs rw";  /* no final newline */

static void assert_options(const char *text, const char *path, const char *want) {
        char *opts = NULL;

        assert_int_equal(proc_mountinfo_find(text, path, &opts), 0);
        assert_string_equal(opts, want);
        free(opts);
}

static void test_mountinfo_find(void **state) {
        assert_options(mountinfo, "/", "rw");
        assert_options(mountinfo, "/dev", "rw,size=4096k");
        assert_options(mountinfo, "/dev/pts", "rw,gid=5");
        assert_options(mountinfo, "/tmpdata", "rw");
        /* Two mounts on /proc: the later one is what a lookup sees. */
        assert_options(mountinfo, "/proc", "rw,hidepid=invisible");
        assert_int_equal(proc_mountinfo_find(mountinfo, "/proc", NULL), 0);
        /* Prefixes of mount points are not mount points. */
        assert_int_equal(proc_mountinfo_find(mountinfo, "/run", NULL), -ENOENT);
        assert_int_equal(proc_mountinfo_find(mountinfo, "/tmp", NULL), -ENOENT);
        assert_int_equal(proc_mountinfo_find(mountinfo, "/dev/shm", NULL), -ENOENT);
        assert_int_equal(proc_mountinfo_find(mountinfo, "/sys", NULL), -ENOENT);
        assert_int_equal(proc_mountinfo_find("", "/proc", NULL), -ENOENT);
        /* The root (field 4) is not the mount point. */
        assert_int_equal(proc_mountinfo_find("30 1 0:1 /sys /x rw - sysfs sysfs rw\n", "/sys", NULL), -ENOENT);
        /* Optional fields (none, several) before the separator. */
        assert_options("30 1 0:1 / /x rw shared:1 master:2 - tmpfs none rw,mode=755\n", "/x", "rw,mode=755");
        /* A line with no separator, or one cut short after it. */
        assert_int_equal(proc_mountinfo_find("30 1 0:1 / /x rw shared:1 tmpfs none rw\n", "/x", NULL), -EINVAL);
        assert_int_equal(proc_mountinfo_find("30 1 0:1 / /x rw - tmpfs\n31 1 0:1 / /y rw - a b c\n", "/x", NULL),
                         -EINVAL);
        assert_int_equal(proc_mountinfo_find("30 1 0:1 / /x rw\n31 1 0:2 / /y rw - a b c\n", "/x", NULL), -EINVAL);
}

/* The mount's root: "/" for one made in this cgroup namespace, a path
 * from "/.." for a cgroup2 mount made outside it. */
static void test_mountinfo_root(void **state) {
        static const char text[] =
                "22 1 259:1 / / rw - ext4 /dev/vda rw\n"
                "30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"
                "31 22 0:26 /../../host.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
                "32 22 0:27 /sub/dir /srv rw - ext4 /dev/vdb rw";
        char *root = NULL;

        assert_int_equal(proc_mountinfo_root(text, "/", &root), 0);
        assert_string_equal(root, "/");
        free(root);
        /* The later of two mounts on one path. */
        assert_int_equal(proc_mountinfo_root(text, "/sys/fs/cgroup", &root), 0);
        assert_string_equal(root, "/../../host.slice");
        free(root);
        assert_int_equal(proc_mountinfo_root(text, "/srv", &root), 0);
        assert_string_equal(root, "/sub/dir");
        free(root);
        assert_int_equal(proc_mountinfo_root(text, "/sys", &root), -ENOENT);
        assert_int_equal(proc_mountinfo_root("", "/", &root), -ENOENT);
        assert_int_equal(proc_mountinfo_root("30 1 0:1 x /x rw - a b c\n", "/x", &root), -EINVAL);
}

/* memory.events as Linux 6.x writes it: the OOM kills in a cgroup (its
 * "oom_kill", never "oom" or "oom_group_kill", which count otherwise). */
static void test_memory_events_oom_kill(void **state) {
        const char *events = "low 0\nhigh 0\nmax 412\noom 2\noom_kill 1\noom_group_kill 1\n";
        uint64_t n = 7;

        assert_int_equal(proc_keyed_value(events, "oom_kill", &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(proc_keyed_value(events, "oom", &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(proc_keyed_value("oom_group_kill 3\n", "oom_kill", &n), -ENOENT);
        assert_int_equal(proc_keyed_value("oom_kill_x 3\noom_kill 0", "oom_kill", &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(proc_keyed_value("oom_kill x\n", "oom_kill", &n), -EINVAL);
}

/* cgroup.controllers: blank-separated names, a name only as a whole word. */
static void test_controllers_have(void **state) {
        assert_true(proc_controllers_have("cpuset cpu io memory hugetlb pids rdma misc\n", "memory"));
        assert_true(proc_controllers_have("memory\n", "memory"));
        assert_true(proc_controllers_have("memory", "memory"));
        assert_false(proc_controllers_have("hugetlb\n", "memory"));
        assert_false(proc_controllers_have("\n", "memory"));
        assert_false(proc_controllers_have("", "memory"));
        assert_false(proc_controllers_have("memoryx cpu", "memory"));
        assert_false(proc_controllers_have("xmemory cpu", "memory"));
        assert_false(proc_controllers_have("cpu memor", "memory"));
}

/* A cgroup's CPU time: cpu.stat's usage_usec, wherever it is. */
static void test_cpu_stat_usage(void **state) {
        uint64_t n = 7;

        assert_int_equal(proc_cpu_stat_usage("usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n", &n), 0);
        assert_int_equal(n, 1234);
        assert_int_equal(proc_cpu_stat_usage("nr_periods 0\nusage_usec 0", &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(proc_cpu_stat_usage("user_usec 1\nx_usage_usec 5\n", &n), -ENOENT);
        assert_int_equal(proc_cpu_stat_usage("", &n), -ENOENT);
        assert_int_equal(proc_cpu_stat_usage("usage_usec -1\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("usage_usec 99999999999999999999999\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("usage_usec \n", &n), -EINVAL);
        /* The key is a line's start and ends at one blank. */
        assert_int_equal(proc_cpu_stat_usage(" usage_usec 5\n", &n), -ENOENT);
        assert_int_equal(proc_cpu_stat_usage("usage_usec\n", &n), -ENOENT);
        assert_int_equal(proc_cpu_stat_usage("usage_usec", &n), -ENOENT);
        assert_int_equal(proc_cpu_stat_usage("usage_usec\t5\n", &n), -ENOENT);
        assert_int_equal(proc_cpu_stat_usage("usage_usec  5\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("user_usec 1\nsystem_usec 2\n", &n), -ENOENT);
        /* The largest value there is, and one past it. */
        assert_int_equal(proc_cpu_stat_usage("usage_usec 18446744073709551615\n", &n), 0);
        assert_int_equal(n, UINT64_MAX);
        assert_int_equal(proc_cpu_stat_usage("usage_usec 18446744073709551616\n", &n), -EINVAL);
        /* Garbage and trailing data in the value: no number is guessed. */
        assert_int_equal(proc_cpu_stat_usage("usage_usec abc\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("usage_usec 0x10\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("usage_usec +5\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("usage_usec 12 34\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("usage_usec 12x\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("usage_usec 12\r\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("usage_usec 12 \n", &n), -EINVAL);
        /* Other lines after it, anything in them, and the last line
         * without its newline. */
        assert_int_equal(proc_cpu_stat_usage("usage_usec 12\nuser_usec x\n\0junk", &n), 0);
        assert_int_equal(n, 12);
        assert_int_equal(proc_cpu_stat_usage("\n\nusage_usec 9", &n), 0);
        assert_int_equal(n, 9);
        /* The first usage_usec line counts: the kernel writes one. */
        assert_int_equal(proc_cpu_stat_usage("usage_usec 1\nusage_usec 2\n", &n), 0);
        assert_int_equal(n, 1);
        /* A failure leaves *ret as it was. */
        n = 77;
        assert_int_equal(proc_cpu_stat_usage("usage_usec 1x\n", &n), -EINVAL);
        assert_int_equal(proc_cpu_stat_usage("", &n), -ENOENT);
        assert_int_equal(n, 77);
}

static void test_hide_pids(void **state) {
        static const char *const hide[] = {
                "rw,hidepid=invisible", "rw,hidepid=2", "hidepid=noaccess", "rw,hidepid=ptraceable,subset=pid",
                "hidepid=1,gid=4",
        };
        static const char *const show[] = {
                "rw", "", "rw,hidepid=off", "rw,hidepid=0", "rw,xhidepid=2", "rw,hidepid=", "rw,gid=4",
        };

        for (size_t i = 0; i < sizeof hide / sizeof hide[0]; i++)
                assert_true(proc_options_hide_pids(hide[i]));
        for (size_t i = 0; i < sizeof show / sizeof show[0]; i++)
                assert_false(proc_options_hide_pids(show[i]));
        assert_false(proc_options_hide_pids(NULL));
}

static void test_cgroup2_path(void **state) {
        static const struct {
                const char *text, *path;
                int r;
        } cases[] = {
                /* Unified only (the kernel's one line), under systemd. */
                { "0::/system.slice/vm-browser-agent.service\n", "/system.slice/vm-browser-agent.service", 0 },
                /* PID 1 of the machine, or at its cgroup namespace's root. */
                { "0::/\n", "/", 0 },
                /* Hybrid: v1 lines first, whose ids are not 0, and one named
                 * hierarchy whose path would pass for the unified one. */
                { "12:pids:/x\n1:name=systemd:/user.slice\n0::/user.slice/a.scope\n", "/user.slice/a.scope", 0 },
                /* No final newline. */
                { "0::/a b", "/a b", 0 },
                /* v1 only: no cgroup2 path at all. */
                { "4:memory:/\n1:name=systemd:/\n", NULL, -ENOENT },
                { "", NULL, -ENOENT },
                /* An id 10 is not 0. */
                { "10::/x\n", NULL, -ENOENT },
                { "0::x\n", NULL, -EINVAL },
                { "0::\n", NULL, -EINVAL },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char *path = NULL;

                assert_int_equal(proc_cgroup2_path(cases[i].text, &path), cases[i].r);
                if (cases[i].path)
                        assert_string_equal(path, cases[i].path);
                else
                        assert_null(path);
                free(path);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_mountinfo_find),
                cmocka_unit_test(test_mountinfo_root),
                cmocka_unit_test(test_hide_pids),
                cmocka_unit_test(test_cpu_stat_usage),
                cmocka_unit_test(test_memory_events_oom_kill),
                cmocka_unit_test(test_controllers_have),
                cmocka_unit_test(test_cgroup2_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
