/* Tests of agent/supervise/spawn.c: what a spawned child gets (exactly fds
 * 0-3, no blocked or ignored signals, its own process group, cwd, env,
 * argv), a failure in the child before or at its exec as a failed spawn
 * with what failed (the exec refused, as its user too, over its user's
 * task limit; the drop refused, from a helper that is not root) and no
 * child left, the bounded wait for the exec (a child stuck before it is
 * taken as started, and says on its stderr what failed later), dropping
 * to a user (as root), keeping a capability across
 * the drop, a private /tmp, /var/tmp, /dev/shm and IPC namespace
 * (private_tmp), and PATH lookup.  The child
 * is inspected from outside through /proc once it has exec'd. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/capability.h>
#include <linux/magic.h>

#include "agent/supervise/spawn.h"
#include "fileio.h"
#include "macro.h"
#include "tests/unit/test-util.h"
#include "time-util.h"

static char dir[] = "/tmp/test-spawn-XXXXXX";

/* A FIFO nobody reads: a child's open() of it for writing waits. */
static const char *fifo_path(void) {
        static char p[64];

        snprintf(p, sizeof p, "%s/fifo", dir);
        return p;
}

static void write_exe(const char *name, const char *text, mode_t mode) {
        char p[128];
        FILE *f;

        snprintf(p, sizeof p, "%s/%s", dir, name);
        assert_non_null(f = fopen(p, "w"));
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(p, mode), 0);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(dir));
        /* Other users pass through to what they may run (root-only may not). */
        assert_int_equal(chmod(dir, 0711), 0);
        write_exe("bad-interp", "#!/nonexistent/interpreter\n", 0755);
        write_exe("not-a-program", "\x7f" "ELF garbage", 0755);
        write_exe("no-x", "#!/bin/sh\n", 0644);
        write_exe("true-script", "#!/bin/sh\nexit 0\n", 0755);
        write_exe("root-only", "#!/bin/sh\nexit 0\n", 0700);
        assert_int_equal(mkfifo(fifo_path(), 0600), 0);
        return 0;
}

static int teardown(void **state) {
        char cmd[128];
        const char *names[] = { "bad-interp", "not-a-program", "no-x", "true-script", "root-only", "fifo" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(cmd, sizeof cmd, "%s/%s", dir, names[i]);
                unlink(cmd);
        }
        rmdir(dir);
        return 0;
}

/* Whether pid is blocked in (clock_)nanosleep: past the dynamic loader,
 * which briefly holds ld.so.cache and libc open as fd 4 after exec. */
static bool in_nanosleep(pid_t pid) {
        char p[64];
        long nr = -1;
        FILE *f;

        snprintf(p, sizeof p, "/proc/%d/syscall", (int)pid);
        f = fopen(p, "re");
        if (f) {
                if (fscanf(f, "%ld", &nr) != 1)
                        nr = -1;
                fclose(f);
        }
        return nr == SYS_clock_nanosleep || nr == SYS_nanosleep;
}

/* Test-side wait for the child to have exec'd sleep and be sleeping (we
 * inspect a process we do not control); bounded by 10 s, scaled
 * (test_deadline_usec()). */
static void wait_exec(pid_t pid, const char *comm) {
        usec_t end = now(CLOCK_MONOTONIC) + test_deadline_usec(10 * USEC_PER_SEC);
        char p[64], buf[64] = "";

        snprintf(p, sizeof p, "/proc/%d/comm", (int)pid);
        for (;;) {
                if (now(CLOCK_MONOTONIC) > end)
                        break;
                FILE *f = fopen(p, "re");
                if (f) {
                        if (fgets(buf, sizeof buf, f))
                                buf[strcspn(buf, "\n")] = '\0';
                        fclose(f);
                }
                if (streq(buf, comm) && in_nanosleep(pid))
                        return;
                nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
        }
        fail_msg("child %d never became %s (is %s)", (int)pid, comm, buf);
}

static char *status_field(pid_t pid, const char *field) {
        static char line[256];
        char p[64];
        FILE *f;

        snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
        assert_non_null(f = fopen(p, "re"));
        while (fgets(line, sizeof line, f))
                if (startswith(line, field)) {
                        fclose(f);
                        line[strcspn(line, "\n")] = '\0';
                        return line + strlen(field);
                }
        fclose(f);
        return NULL;
}

static void test_child_environment(void **state) {
        char *argv[] = { (char *)"sleep", (char *)"100", NULL };
        char *envp[] = { (char *)"FOO=bar", NULL };
        int p[2], leak, r;
        char path[64], link[256], fds[64] = "";
        _cleanup_(freep) char *env = NULL;
        size_t n;
        pid_t pid;
        sigset_t ss;

        /* What the agent does before spawning: block and ignore signals,
         * hold fds without O_CLOEXEC by mistake. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigaddset(&ss, SIGTERM);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        signal(SIGPIPE, SIG_IGN);
        leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);

        r = spawn_process(&(SpawnOptions){ .argv = argv, .envp = envp, .cwd = dir, .stdin_fd = -1,
                                           .stdout_fd = p[1], .stderr_fd = -1, .extra_fd = p[1] },
                          &pid);
        assert_int_equal(r, 0);
        wait_exec(pid, "sleep");

        assert_int_equal(getpgid(pid), pid);
        assert_string_equal(status_field(pid, "SigBlk:\t"), "0000000000000000");
        assert_string_equal(status_field(pid, "SigIgn:\t"), "0000000000000000");
        snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
        n = (size_t)readlink(path, link, sizeof link - 1);
        link[n] = '\0';
        assert_string_equal(link, dir);
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        assert_int_equal(read_full_file(path, 4096, &env, &n), 0);
        assert_int_equal(n, strlen("FOO=bar") + 1);
        assert_string_equal(env, "FOO=bar");
        /* Exactly 0-3; 0 is /dev/null; 1, 2 and 3 the pipe. */
        for (int fd = 0; fd < 64; fd++) {
                snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
                if (access(path, F_OK) == 0)
                        snprintf(fds + strlen(fds), sizeof fds - strlen(fds), "%d ", fd);
        }
        assert_string_equal(fds, "0 1 2 3 ");
        snprintf(path, sizeof path, "/proc/%d/fd/0", (int)pid);
        n = (size_t)readlink(path, link, sizeof link - 1);
        link[n] = '\0';
        assert_string_equal(link, "/dev/null");

        assert_int_equal(kill(-pid, SIGKILL), 0); /* the group */
        assert_int_equal(waitpid(pid, &r, 0), pid);
        assert_true(WIFSIGNALED(r) && WTERMSIG(r) == SIGKILL);
        close(p[0]);
        close(p[1]);
        close(leak);
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_UNBLOCK, &ss, NULL);
}

static bool endswith(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && streq(s + n - m, suffix);
}

/* No child of ours is left, running or to reap: a spawn that failed in
 * the child reaped it. */
static bool no_child_left(void) {
        return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/* What spawn_process() returned, and in said what the child wrote to its
 * stderr; once it spawned, its exit code instead. */
static int spawn_result(const char *name, char *error, size_t error_size, char *said, size_t size) {
        char exe[128];
        char *argv[] = { exe, NULL };
        int p[2], r, ws;
        ssize_t n;
        pid_t pid;

        snprintf(exe, sizeof exe, "%s/%s", dir, name);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        r = spawn_process(&(SpawnOptions){ .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = p[1],
                                           .extra_fd = -1, .error = error, .error_size = error_size },
                          &pid);
        close(p[1]);
        n = read(p[0], said, size - 1);
        close(p[0]);
        said[n > 0 ? n : 0] = '\0';
        if (r < 0) {
                assert_true(no_child_left());
                return r;
        }
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_true(WIFEXITED(ws));
        return WEXITSTATUS(ws);
}

/* An exec that fails in the child (a script's interpreter missing, not a
 * program) is a failed spawn, with what failed, the child gone and
 * nothing on its stderr, not an exit 127 or 126; a binary missing or not
 * executable is refused before the fork, with no message to add. */
static void test_exec_failures(void **state) {
        char error[512], said[512], want[512];

        assert_int_equal(spawn_result("bad-interp", error, sizeof error, said, sizeof said), -ENOENT);
        snprintf(want, sizeof want, "execute %s/bad-interp: %s", dir, strerror(ENOENT));
        assert_string_equal(error, want);
        assert_string_equal(said, "");
        assert_int_equal(spawn_result("not-a-program", error, sizeof error, said, sizeof said), -ENOEXEC);
        snprintf(want, sizeof want, "execute %s/not-a-program: %s", dir, strerror(ENOEXEC));
        assert_string_equal(error, want);
        assert_string_equal(said, "");
        /* A small buffer gets what fits. */
        assert_int_equal(spawn_result("not-a-program", error, 8, said, sizeof said), -ENOEXEC);
        assert_string_equal(error, "execute");
        snprintf(error, sizeof error, "stale");
        assert_int_equal(spawn_result("no-x", error, sizeof error, said, sizeof said), -EACCES);
        assert_string_equal(error, "");
        assert_int_equal(spawn_result("missing", error, sizeof error, said, sizeof said), -ENOENT);
        assert_string_equal(error, "");
        /* Without a buffer: the same error. */
        assert_int_equal(spawn_result("bad-interp", NULL, 0, said, sizeof said), -ENOENT);
        assert_string_equal(said, "");
        assert_int_equal(spawn_result("true-script", error, sizeof error, said, sizeof said), 0);
        assert_string_equal(error, "");
}

/* As a process that is not root: a child asked to run as another uid
 * cannot drop to it: the spawn fails with why, the child gone, never
 * running as us.  0, or the line number of the check that failed (for a
 * forked helper, which cannot use cmocka's asserts). */
static int drop_refused(void) {
        char *argv_true[] = { (char *)"true", NULL };
        char error[512] = "";
        pid_t pid;

        if (spawn_process(&(SpawnOptions){ .argv = argv_true, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
                                           .extra_fd = -1, .uid = 65533, .gid = 65533, .error = error,
                                           .error_size = sizeof error },
                          &pid) != -EPERM)
                return __LINE__;
        if (!startswith(error, "drop privileges to run ") ||
            !endswith(error, "/true as uid 65533: Operation not permitted"))
                return __LINE__;
        if (!no_child_left())
                return __LINE__;
        return 0;
}

/* The refusal above, from a helper that dropped to 65534 first when we
 * are root (as tests/run runs this suite), so it is always exercised. */
static void test_drop_refused(void **state) {
        pid_t pid;
        int ws;

        if (geteuid() != 0) {
                assert_int_equal(drop_refused(), 0);
                return;
        }
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(255);
                _exit(drop_refused() & 0xff);
        }
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_true(WIFEXITED(ws));
        if (WEXITSTATUS(ws) != 0)
                fail_msg("the refusal check failed at line %d (255: cannot drop)", WEXITSTATUS(ws));
}

/* As root: the child runs as 65534 with its gid and no supplementary
 * group, every id of the three (real, effective, saved) dropped. */
static void test_drop_user(void **state) {
        char *argv[] = { (char *)"sleep", (char *)"100", NULL };
        pid_t pid;
        int ws;

        if (geteuid() != 0)
                skip();
        assert_int_equal(setgroups(1, (gid_t[]){ 4 }), 0); /* something to drop */
        assert_int_equal(spawn_process(&(SpawnOptions){ .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                                                        .stderr_fd = -1, .extra_fd = -1,
                                                        .uid = 65534, .gid = 65533 },
                                       &pid), 0);
        wait_exec(pid, "sleep");
        assert_string_equal(status_field(pid, "Uid:\t"), "65534\t65534\t65534\t65534");
        assert_string_equal(status_field(pid, "Gid:\t"), "65533\t65533\t65533\t65533");
        assert_int_equal(strspn(status_field(pid, "Groups:"), " \t"), strlen(status_field(pid, "Groups:")));
        assert_int_equal(kill(-pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_int_equal(setgroups(0, NULL), 0);
}

/* As root: extra_gid is the child's one supplementary group, whatever
 * groups the agent has. */
static void test_extra_group(void **state) {
        char *argv[] = { (char *)"sleep", (char *)"100", NULL };
        pid_t pid;
        int ws;

        if (geteuid() != 0)
                skip();
        assert_int_equal(setgroups(2, (gid_t[]){ 4, 5 }), 0);
        assert_int_equal(spawn_process(&(SpawnOptions){ .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                                                        .stderr_fd = -1, .extra_fd = -1,
                                                        .uid = 65534, .gid = 65533, .extra_gid = 65532 },
                                       &pid), 0);
        wait_exec(pid, "sleep");
        assert_string_equal(status_field(pid, "Gid:\t"), "65533\t65533\t65533\t65533");
        assert_string_equal(status_field(pid, "Groups:\t"), "65532 ");
        assert_int_equal(kill(-pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_int_equal(setgroups(0, NULL), 0);
}

static const uint64_t ipc_owner = UINT64_C(1) << 15; /* CAP_IPC_OWNER */

/* As root: a child that keeps CAP_IPC_OWNER has it as its only
 * permitted, effective, inheritable, ambient and bounding capability, with
 * no_new_privs, as its user. */
static void test_keep_caps(void **state) {
        char *argv[] = { (char *)"sleep", (char *)"100", NULL };
        pid_t pid;
        int ws;

        if (geteuid() != 0)
                skip();
        assert_true(spawn_can_keep_caps(ipc_owner));
        assert_int_equal(spawn_process(&(SpawnOptions){ .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                                                        .stderr_fd = -1, .extra_fd = -1, .uid = 65534,
                                                        .gid = 65534, .ambient_caps = ipc_owner },
                                       &pid), 0);
        wait_exec(pid, "sleep");
        assert_string_equal(status_field(pid, "Uid:\t"), "65534\t65534\t65534\t65534");
        for (size_t i = 0; i < 5; i++) {
                static const char *const fields[] = { "CapInh:\t", "CapPrm:\t", "CapEff:\t", "CapBnd:\t", "CapAmb:\t" };
                assert_string_equal(status_field(pid, fields[i]), "0000000000008000");
        }
        assert_string_equal(status_field(pid, "NoNewPrivs:\t"), "1");
        assert_int_equal(kill(-pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &ws, 0), pid);
}

/* As root: where the agent's bounding set lacks CAP_IPC_OWNER (a
 * container), spawn_can_keep_caps() says so (and a child asked to keep it
 * anyway exits 126, never running with less than asked or more). */
static void test_keep_caps_not_possible(void **state) {
        pid_t pid;
        int ws;

        if (geteuid() != 0)
                skip();
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char error[512] = "", *argv_true[] = { (char *)"true", NULL };
                pid_t c;

                if (prctl(PR_CAPBSET_DROP, 15, 0, 0, 0) < 0)
                        _exit(10);
                if (spawn_can_keep_caps(ipc_owner))
                        _exit(11);
                if (spawn_process(&(SpawnOptions){ .argv = argv_true, .stdin_fd = -1, .stdout_fd = -1,
                                                   .stderr_fd = -1, .extra_fd = -1, .uid = 65534, .gid = 65534,
                                                   .ambient_caps = ipc_owner, .error = error,
                                                   .error_size = sizeof error },
                                  &c) != -EPERM)
                        _exit(12);
                if (!endswith(error, " as uid 65534: Operation not permitted"))
                        _exit(13);
                if (!no_child_left())
                        _exit(14);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_true(WIFEXITED(ws));
        if (WEXITSTATUS(ws) != 0)
                fail_msg("the check without the capability failed at step %d", WEXITSTATUS(ws));

        /* Without CAP_SETPCAP effective the child could not cut its
         * bounding set: not possible either. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
                struct __user_cap_data_struct d[2] = {};

                if (syscall(SYS_capget, &h, d) < 0)
                        _exit(20);
                d[0].effective &= ~(UINT32_C(1) << CAP_SETPCAP);
                if (syscall(SYS_capset, &h, d) < 0)
                        _exit(21);
                _exit(spawn_can_keep_caps(ipc_owner) ? 22 : 0);
        }
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_true(WIFEXITED(ws));
        if (WEXITSTATUS(ws) != 0)
                fail_msg("the check without CAP_SETPCAP failed at step %d", WEXITSTATUS(ws));
}

/* A uid no account of this machine has, so that the processes it runs
 * are the test's alone. */
#define NPROC_UID 64987

/* As root: what the child's exec refuses as its user is a failed spawn,
 * with the user named: a file only root may run (EACCES), and the user
 * over its task limit (max_procs, RLIMIT_NPROC: the exec fails with
 * EAGAIN, as Firefox's does for a browser user whose processes are left
 * over), the child gone either way. */
static void test_exec_refused_as_user(void **state) {
        char exe[128], want[256], error[256], *argv[] = { exe, NULL };
        char *argv_sleep[] = { (char *)"sleep", (char *)"100", NULL };
        pid_t pid, sleepers[2];
        int ws;

        if (geteuid() != 0)
                skip();
        snprintf(exe, sizeof exe, "%s/root-only", dir);
        assert_int_equal(spawn_process(&(SpawnOptions){ .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                                                        .stderr_fd = -1, .extra_fd = -1, .uid = 65534,
                                                        .gid = 65534, .error = error, .error_size = sizeof error },
                                       &pid), -EACCES);
        snprintf(want, sizeof want, "execute %s as uid 65534: %s", exe, strerror(EACCES));
        assert_string_equal(error, want);
        assert_true(no_child_left());

        /* Over a limit of one already: the kernel marks the child at its
         * setresuid() when its user has more tasks than the limit (the
         * child not counted yet), and the exec fails while it still has. */
        for (size_t i = 0; i < ELEMENTSOF(sleepers); i++) {
                assert_int_equal(spawn_process(&(SpawnOptions){ .argv = argv_sleep, .stdin_fd = -1,
                                                                .stdout_fd = -1, .stderr_fd = -1, .extra_fd = -1,
                                                                .uid = NPROC_UID, .gid = NPROC_UID },
                                               &sleepers[i]), 0);
                wait_exec(sleepers[i], "sleep");
        }
        snprintf(exe, sizeof exe, "%s/true-script", dir);
        assert_int_equal(access(exe, X_OK), 0);
        assert_int_equal(spawn_process(&(SpawnOptions){ .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                                                        .stderr_fd = -1, .extra_fd = -1, .uid = NPROC_UID,
                                                        .gid = NPROC_UID, .max_procs = 1, .error = error,
                                                        .error_size = sizeof error },
                                       &pid), -EAGAIN);
        snprintf(want, sizeof want, "execute %s as uid %u: %s", exe, NPROC_UID, strerror(EAGAIN));
        assert_string_equal(error, want);
        for (size_t i = 0; i < ELEMENTSOF(sleepers); i++) {
                assert_int_equal(kill(-sleepers[i], SIGKILL), 0);
                assert_int_equal(waitpid(sleepers[i], &ws, 0), sleepers[i]);
        }
        assert_true(no_child_left());
}

/* A child stuck before its exec (its cgroup.procs a FIFO nobody reads:
 * the open() for writing waits) does not hold the spawn: after
 * SPAWN_EXEC_WAIT_USEC it is taken as started, and what fails after
 * (its cwd missing) is its exit 126 with why on its stderr, as the
 * parent no longer listens. */
static void test_exec_wait_bounded(void **state) {
        char *argv[] = { (char *)"true", NULL }, error[256] = "stale", said[256], moved[8];
        int p[2], fifo, ws;
        ssize_t n;
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(spawn_process(&(SpawnOptions){ .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                                                        .stderr_fd = p[1], .extra_fd = -1,
                                                        .cgroup_procs = fifo_path(), .cwd = "/nonexistent-vmba",
                                                        .error = error, .error_size = sizeof error },
                                       &pid), 0);
        assert_string_equal(error, "");
        close(p[1]);
        /* Meets the child's open(): it goes on. */
        assert_true((fifo = open(fifo_path(), O_RDONLY | O_CLOEXEC)) >= 0);
        assert_int_equal(read(fifo, moved, sizeof moved), 1);
        assert_int_equal(moved[0], '0');
        close(fifo);
        n = read(p[0], said, sizeof said - 1);
        close(p[0]);
        said[n > 0 ? n : 0] = '\0';
        assert_string_equal(said, "cannot enter /nonexistent-vmba: No such file or directory\n");
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_true(WIFEXITED(ws));
        assert_int_equal(WEXITSTATUS(ws), 126);
}

static bool same_ns(pid_t pid, const char *ns) {
        char a[64], b[64], p[64];
        ssize_t n, m;

        snprintf(p, sizeof p, "/proc/%d/ns/%s", (int)pid, ns);
        assert_true((n = readlink(p, a, sizeof a - 1)) > 0);
        snprintf(p, sizeof p, "/proc/self/ns/%s", ns);
        assert_true((m = readlink(p, b, sizeof b - 1)) > 0);
        return n == m && memcmp(a, b, (size_t)n) == 0;
}

/* An empty tmpfs, 1777, in the child's own mount namespace (through
 * /proc/<pid>/root), holding name there. */
static void assert_private(pid_t pid, const char *where, const char *name) {
        char p[128];
        struct statfs sf;
        struct stat st;

        snprintf(p, sizeof p, "/proc/%d/root%s", (int)pid, where);
        assert_int_equal(statfs(p, &sf), 0);
        assert_true(sf.f_type == TMPFS_MAGIC);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 01777);
        snprintf(p, sizeof p, "/proc/%d/root%s/%s", (int)pid, where, name);
        assert_int_equal(access(p, F_OK), 0);
        snprintf(p, sizeof p, "%s/%s", where, name);
        if (access(p, F_OK) == 0)
                fail_msg("%s, written by the private_tmp child, is in its parent's %s", p, where);
}

/* As root: a child with private_tmp, as its user, writes to /tmp,
 * /var/tmp, /dev/shm and /run/lock (where there is one: Debian's systemd
 * makes it 1777) by name; none of it reaches our namespace, even where
 * our / is shared (its mounts would come back along), and its IPC and
 * mount namespaces are not ours. */
static void test_private_tmp(void **state) {
        char name[64], lock[128] = "", script[512], *argv[] = { (char *)"sh", (char *)"-c", script, NULL };
        bool run_lock = access("/run/lock", F_OK) == 0;
        pid_t pid;
        int ws;

        if (geteuid() != 0)
                skip();
        /* Our own namespace, cut from this machine's, then shared, as a
         * systemd machine's / is. */
        assert_int_equal(unshare(CLONE_NEWNS), 0);
        assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL), 0);
        assert_int_equal(spawn_private_tmp_check(), 0);
        snprintf(name, sizeof name, "vmba-private-tmp-%d", (int)getpid());
        if (run_lock)
                snprintf(lock, sizeof lock, "echo x >/run/lock/%s && ", name);
        snprintf(script, sizeof script, "echo x >/tmp/%1$s && echo x >/var/tmp/%1$s && echo x >/dev/shm/%1$s && "
                 "%2$sexec sleep 100", name, lock);
        assert_int_equal(spawn_process(&(SpawnOptions){ .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                                                        .stderr_fd = -1, .extra_fd = -1, .uid = 65534,
                                                        .gid = 65534, .no_new_privs = true, .private_tmp = true },
                                       &pid), 0);
        wait_exec(pid, "sleep");
        assert_private(pid, "/tmp", name);
        assert_private(pid, "/var/tmp", name);
        assert_private(pid, "/dev/shm", name);
        if (run_lock)
                assert_private(pid, "/run/lock", name);
        assert_false(same_ns(pid, "ipc"));
        assert_false(same_ns(pid, "mnt"));
        assert_int_equal(kill(-pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &ws, 0), pid);
}

/* Without the privilege (a helper as 65534): the check says so, and a
 * child asked for private_tmp exits 126 with why, never running without. */
static void test_private_tmp_refused(void **state) {
        pid_t pid;
        int ws;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char error[512] = "", *argv_true[] = { (char *)"true", NULL };
                pid_t c;

                if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                                       setresuid(65534, 65534, 65534) < 0))
                        _exit(10);
                if (spawn_private_tmp_check() != -EPERM)
                        _exit(11);
                if (spawn_process(&(SpawnOptions){ .argv = argv_true, .stdin_fd = -1, .stdout_fd = -1,
                                                   .stderr_fd = -1, .extra_fd = -1, .private_tmp = true,
                                                   .error = error, .error_size = sizeof error },
                                  &c) != -EPERM)
                        _exit(12);
                if (!startswith(error, "make a private /tmp, /var/tmp, /dev/shm and /run/lock to run ") ||
                    !endswith(error, "/true: Operation not permitted"))
                        _exit(13);
                if (!no_child_left())
                        _exit(14);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_true(WIFEXITED(ws));
        if (WEXITSTATUS(ws) != 0)
                fail_msg("the refusal of private_tmp failed at step %d", WEXITSTATUS(ws));
}

/* The oom_score_adj a child runs with (/proc/<pid>/oom_score_adj). */
static int child_oom_score_adj(pid_t pid) {
        _cleanup_(freep) char *text = NULL;
        char path[64];

        snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
        assert_int_equal(read_full_file(path, 64, &text, NULL), 0);
        return (int)strtol(text, NULL, 10);
}

/* A child runs with at least SpawnOptions.oom_score_adj (a provider
 * CLI's +500), and keeps a higher one it inherits: the agent's, here a
 * helper's that raised its own (as any process may; this test's own is
 * left as it is).  The reset of a negative one needs CAP_SYS_RESOURCE to
 * set up: tests/netns/test_login_memory.py, where it can be had. */
static void test_oom_score_adj(void **state) {
        static const struct {
                int agent, asked, child;
        } cases[] = {
                { 0, 0, 0 },
                { 0, 500, 500 },
                { 700, 0, 700 },
                { 700, 500, 700 },
        };
        char *argv[] = { (char *)"sleep", (char *)"100", NULL };
        int ws;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                pid_t helper, pid;
                int p[2];

                /* A helper of the agent's score spawns the child. */
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                helper = fork();
                assert_true(helper >= 0);
                if (helper == 0) {
                        char v[16];
                        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

                        snprintf(v, sizeof v, "%d", cases[i].agent);
                        if (fd < 0 || write(fd, v, strlen(v)) < 0 ||
                            spawn_process(&(SpawnOptions){ .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                                                           .stderr_fd = -1, .extra_fd = -1,
                                                           .oom_score_adj = cases[i].asked },
                                          &pid) < 0 ||
                            write(p[1], &pid, sizeof pid) != sizeof pid)
                                _exit(1);
                        _exit(0);
                }
                close(p[1]);
                assert_int_equal(read(p[0], &pid, sizeof pid), (ssize_t)sizeof pid);
                close(p[0]);
                assert_int_equal(waitpid(helper, &ws, 0), helper);
                assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
                wait_exec(pid, "sleep");
                assert_int_equal(child_oom_score_adj(pid), cases[i].child);
                assert_int_equal(kill(pid, SIGKILL), 0);
        }
}

static void test_find_binary(void **state) {
        char *p = NULL, path[160];

        assert_int_equal(find_executable("sh", "/nonexistent::/bin", &p), 0);
        assert_string_equal(p, "/bin/sh");
        free(p);
        assert_int_equal(find_executable("/bin/sh", "/nonexistent", &p), 0);
        assert_string_equal(p, "/bin/sh");
        free(p);
        snprintf(path, sizeof path, "/nonexistent:%s:/bin", dir);
        assert_int_equal(find_executable("bad-interp", path, &p), 0);
        assert_true(startswith(p, dir) && streq(p + strlen(dir), "/bad-interp"));
        free(p);
        p = NULL;
        /* Not executable: skipped in PATH. */
        assert_int_equal(find_executable("no-x", path, &p), -ENOENT);
        assert_int_equal(find_executable("sh", "", &p), -ENOENT);
        assert_int_equal(find_executable("vmba-no-such-binary", "/bin:/usr/bin", &p), -ENOENT);
        /* A directory is not a binary. */
        assert_int_equal(find_executable("tmp", "/", &p), -ENOENT);
        assert_int_equal(find_executable("", "/bin", &p), -EINVAL);
        assert_null(p);
}

static void record_forget(void *ctx, pid_t pid) {
        *(pid_t *)ctx = pid;
}

/* A child that makes its own session is killed before its setsid(): no
 * group of its pid exists yet, and the process itself goes (here one that
 * stays in the test's group).  The alarm ends it if it is missed. */
static void test_kill_forget_before_its_group(void **state) {
        pid_t forgotten = 0, pid = fork();
        Launcher l = { .forget = record_forget, .ctx = &forgotten };
        int ws;

        assert_true(pid >= 0);
        if (pid == 0) {
                alarm(30);
                for (;;)
                        pause();
        }
        launcher_kill_forget(&l, pid);
        assert_int_equal(forgotten, pid);
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_true(WIFSIGNALED(ws));
        assert_int_equal(WTERMSIG(ws), SIGKILL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_child_environment),
                cmocka_unit_test(test_exec_failures),
                cmocka_unit_test(test_exec_refused_as_user),
                cmocka_unit_test(test_exec_wait_bounded),
                cmocka_unit_test(test_drop_user),
                cmocka_unit_test(test_extra_group),
                cmocka_unit_test(test_drop_refused),
                cmocka_unit_test(test_keep_caps),
                cmocka_unit_test(test_keep_caps_not_possible),
                cmocka_unit_test(test_private_tmp_refused),
                cmocka_unit_test(test_private_tmp),
                cmocka_unit_test(test_oom_score_adj),
                cmocka_unit_test(test_find_binary),
                cmocka_unit_test(test_kill_forget_before_its_group),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
