/* Tests of agent/supervise/children.c's sweep of a user's processes
 * (children_kill_uid(): what the provider CLIs or a network-facing server
 * left running): a descendant of that uid in a session or a group of its
 * own is killed, once (a zombie is not counted again), and gone when a
 * sweep that waits returns; one of another uid, and one of that uid that
 * is not a descendant (reparented away, as another agent's process) are
 * not; root never.  Real processes (sleep), each looked at only once it
 * has exec'd; as root (they change uid).
 *
 * And of its Launcher's cgroups (SpawnOptions.cgroup_name): a child's
 * descendant in a session of its own is in the child's cgroup, and is
 * killed, the cgroup removed, once the child is reaped or forgotten; a
 * start of the same name takes over one still emptying; a name in use by
 * a live child, or no file name, is refused; the CPU time its cgroup
 * counted is there while it runs and, read before the cgroup goes, for
 * its exit's callback, and so are the memory.max it asked for and the
 * OOM kills there (where the memory controller is).  In a cgroup2
 * directory the test makes below the hierarchy's root (skipped without
 * one, or without cgroup.kill).  And what a start writes to the memory
 * controller's files of a cgroup taken over from an agent before (a
 * limit, or none, which lifts the limit left there), in a directory of
 * plain files standing for a cgroup2 one. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <systemd/sd-event.h>

#include "agent/supervise/children.h"
#include "tests/adapter/cgroup-base.h"
#include "macro.h"
#include "tests/unit/test-util.h"
#include "time-util.h"

/* The bound on each wait for a process or a cgroup, before it is scaled
 * (test_deadline_usec()): not a timing expectation. */
#define WAIT_USEC (10 * USEC_PER_SEC)

/* nobody and daemon on Debian: any two users but root. */
#define UID_A 65534
#define UID_B 1

enum { OWN_SESSION, OWN_GROUP, ORPHAN };

/* Reads until the write ends are all closed: every process that held one
 * has exec'd (O_CLOEXEC) or exited. */
static void wait_exec(int fd) {
        char c;

        while (read(fd, &c, 1) > 0)
                ;
        close(fd);
}

/* Every process the test started, killed at the end whatever failed:
 * as a pidfd opened while it ran.  By the end its pid may be free, and
 * any process's on the machine (one the test reaped, a sleep the
 * cgroup's kill hit and init reaped): a kill by pid would hit that. */
static int started[16];
static size_t n_started;

static void track(pid_t pid) {
        int fd = pidfd_open(pid, 0);

        assert_true(fd >= 0);
        assert_true(n_started < sizeof started / sizeof started[0]);
        started[n_started++] = fd;
}

static void exec_sleep(uid_t uid) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        /* Not the test's output: a sleep left by a failed assertion would
         * keep a reader of it waiting. */
        for (int fd = 0; fd <= 2; fd++)
                (void)dup2(null, fd);
        if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
                _exit(126);
        char *const argv[] = { (char *)"sleep", (char *)"1000", NULL };
        char *const envp[] = { NULL };

        execve("/bin/sleep", argv, envp);
        _exit(127);
}

/* A sleep running as uid: a child in a session or a group of its own, or
 * an orphan (its parent exited: no longer a descendant). */
static pid_t start(uid_t uid, int how) {
        int fds[2], pids[2];
        pid_t pid, orphan = 0;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        assert_int_equal(pipe2(pids, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                close(pids[0]);
                if (how == ORPHAN) {
                        pid_t g = fork();
                        if (g != 0)
                                _exit(g < 0);
                        g = getpid();
                        if (write(pids[1], &g, sizeof g) != sizeof g)
                                _exit(1);
                }
                if (how == OWN_GROUP)
                        (void)setpgid(0, 0);
                else
                        (void)setsid();
                exec_sleep(uid);
        }
        close(fds[1]);
        close(pids[1]);
        if (how == ORPHAN) {
                int st;

                assert_int_equal(read(pids[0], &orphan, sizeof orphan), (ssize_t)sizeof orphan);
                assert_int_equal(waitpid(pid, &st, 0), pid);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
                pid = orphan;
        }
        close(pids[0]);
        wait_exec(fds[0]);
        track(pid);
        return pid;
}

static bool running(pid_t child) {
        return waitpid(child, NULL, WNOHANG) == 0;
}

static bool killed(pid_t child) {
        int st;

        return waitpid(child, &st, 0) == child && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static void test_kill_uid_descendants(void **state) {
        if (getuid() != 0)
                skip();
        pid_t helper = start(UID_A, OWN_SESSION);
        pid_t grouped = start(UID_A, OWN_GROUP);
        pid_t other = start(UID_B, OWN_SESSION);
        pid_t orphan = start(UID_A, ORPHAN);

        assert_int_equal(children_kill_uid(UID_A, false), 2);
        assert_true(killed(helper));
        assert_true(killed(grouped));
        assert_true(running(other));
        assert_int_equal(kill(orphan, 0), 0);
}

static void test_zombie_not_counted(void **state) {
        if (getuid() != 0)
                skip();
        pid_t helper = start(UID_A, OWN_SESSION);
        siginfo_t si;

        assert_int_equal(children_kill_uid(UID_A, true), 1);
        /* Gone when the sweep returns (not reaped yet): no waiting here. */
        si.si_pid = 0;
        assert_int_equal(waitid(P_PID, helper, &si, WEXITED | WNOWAIT | WNOHANG), 0);
        assert_int_equal(si.si_pid, helper);
        assert_int_equal(children_kill_uid(UID_A, true), 0);
}

static void test_never_root(void **state) {
        assert_int_equal(children_kill_uid(0, true), -EPERM);
}

static int kill_started(void **state) {
        for (size_t i = 0; i < n_started; i++) {
                (void)pidfd_send_signal(started[i], SIGKILL, NULL, 0);
                /* ECHILD for one reaped already, and for one not the
                 * test's child (the orphan, the escaped sleeps). */
                (void)waitid(P_PIDFD, (id_t)started[i], &(siginfo_t){}, WEXITED);
                close(started[i]);
        }
        n_started = 0;
        return 0;
}

/* The sleep the test holds at its exit (ptrace), once a kill reached it:
 * let go at the latest by the teardown. */
static pid_t held;

/* Holds pid, once killed, at its exit (PTRACE_EVENT_EXIT; this process
 * its tracer): a process the cgroup's kill hit but that is not gone yet,
 * for as long as the test wants.  False where ptrace is not permitted. */
static bool hold_at_exit(pid_t pid) {
        if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)PTRACE_O_TRACEEXIT) < 0)
                return false;
        held = pid;
        return true;
}

/* Waits until the held process stopped at its exit. */
static void wait_held_at_exit(void) {
        int st;

        assert_int_equal(waitpid(held, &st, __WALL), held);
        assert_true(WIFSTOPPED(st) && st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8)));
}

/* Lets the held process go (stopped at its exit, or made to stop first:
 * a failure before the kill), to end its exit. */
static void release_held(void) {
        if (held <= 0)
                return;
        if (ptrace(PTRACE_DETACH, held, NULL, NULL) < 0 && ptrace(PTRACE_INTERRUPT, held, NULL, NULL) >= 0) {
                (void)waitpid(held, NULL, __WALL);
                (void)ptrace(PTRACE_DETACH, held, NULL, NULL);
        }
        held = 0;
}

/* The Launcher's cgroups: a Children with its base in a cgroup of the
 * test's own, the exits of its children reaped as the agent does. */
typedef struct ScopeTest {
        char base[PATH_MAX];
        sd_event *event;
        Children *children;
        Launcher launcher;
        int wstatus;       /* of the last exit reported, -1: none yet */
        int cpu_r;         /* launcher_cpu_usec() from that exit's callback */
        uint64_t cpu_usec;
} ScopeTest;

/* The Children under test, with t->base as their cgroups' base. */
static void scope_children_make(ScopeTest *t) {
        assert_int_equal(sd_event_new(&t->event), 0);
        assert_int_equal(children_new(&t->children), 0);
        assert_int_equal(children_set_cgroup_base(t->children, t->event, t->base), 0);
        t->launcher = children_launcher(t->children);
        t->wstatus = -1;
}

static int scope_setup(void **state) {
        ScopeTest *t = calloc(1, sizeof *t);

        assert_non_null(t);
        *state = t;
        if (test_cgroup_base_make(t->base, sizeof t->base, "children"))
                scope_children_make(t);
        return 0;
}

static int scope_teardown(void **state) {
        ScopeTest *t = *state;

        release_held();
        kill_started(NULL);
        /* What is left is killed, its cgroup removed. */
        t->children = children_free(t->children);
        t->event = sd_event_unref(t->event);
        if (t->base[0])
                assert_int_equal(rmdir(t->base), 0);
        free(t);
        return 0;
}

static void on_exit_cb(pid_t pid, int wstatus, void *userdata) {
        ScopeTest *t = userdata;

        t->wstatus = wstatus;
        t->cpu_r = launcher_cpu_usec(&t->launcher, pid, &t->cpu_usec);
}

#define ESCAPER "setsid sh -c 'echo $$; exec sleep 1000 >/dev/null 2>&1' </dev/null & read x"

/* start_escaper()'s shell, running script (which ends as ESCAPER). */
static pid_t start_script(ScopeTest *t, const char *name, const char *script, int *ret_in, pid_t *ret_sleep) {
        char *const argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)script, NULL };
        char *const envp[] = { (char *)"PATH=/usr/bin:/bin", NULL };
        int in[2], out[2];
        char buf[32] = {};
        pid_t pid;

        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        SpawnOptions o = { .argv = argv, .envp = envp, .stdin_fd = in[0], .stdout_fd = out[1], .stderr_fd = -1,
                           .extra_fd = -1, .cgroup_name = name };
        assert_int_equal(launcher_start(&t->launcher, &o, on_exit_cb, t, &pid), 0);
        close(in[0]);
        close(out[1]);
        assert_true(read(out[0], buf, sizeof buf - 1) > 0);
        close(out[0]);
        *ret_sleep = (pid_t)strtol(buf, NULL, 10);
        assert_true(*ret_sleep > 0);
        track(*ret_sleep);
        *ret_in = in[1];
        return pid;
}

/* A shell in the cgroup name, which starts a sleep in a session of its
 * own (setsid(1) in its background child execs a shell there, which
 * says its pid once in that session, then execs the sleep); it exits
 * once its stdin (*ret_in) is closed. */
static pid_t start_escaper(ScopeTest *t, const char *name, int *ret_in, pid_t *ret_sleep) {
        return start_script(t, name, ESCAPER, ret_in, ret_sleep);
}

/* Whether pid is listed in dir/cgroup.procs. */
static bool in_cgroup(const char *dir, pid_t pid) {
        char path[PATH_MAX + 16];
        FILE *f;
        int p;
        bool found = false;

        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (!found && fscanf(f, "%d", &p) == 1)
                found = p == pid;
        fclose(f);
        return found;
}

/* What is left of the wait that ends at end, for poll(): at least 1 ms
 * while any is, 0 once it is over. */
static int ms_left(usec_t end) {
        usec_t n = now(CLOCK_MONOTONIC);

        return n >= end ? 0 : (int)MIN(usec_to_msec_up(end - n), (uint64_t)INT_MAX);
}

/* Runs the event loop until path is gone (its removal is the loop's,
 * on the cgroup's event): false if it is not by the deadline.  A clock,
 * not a count of turns: each turn ends at the next event. */
static bool loop_until_gone(ScopeTest *t, const char *path) {
        usec_t end = now(CLOCK_MONOTONIC) + test_deadline_usec(WAIT_USEC);

        while (access(path, F_OK) == 0) {
                int ms = ms_left(end);

                if (ms == 0)
                        return false;
                assert_true(sd_event_run(t->event, (uint64_t)ms * USEC_PER_MSEC) >= 0);
        }
        return true;
}

/* Waits for pidfd to say its process exited (a zombie has), by the
 * deadline; closes it. */
static bool exits(int pidfd) {
        usec_t end = now(CLOCK_MONOTONIC) + test_deadline_usec(WAIT_USEC);
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int r;

        assert_true(pidfd >= 0);
        do
                r = poll(&p, 1, ms_left(end));
        while (r < 0 && errno == EINTR);
        close(pidfd);
        return r == 1;
}

static void test_scope_killed_when_reaped(void **state) {
        ScopeTest *t = *state;
        char dir[PATH_MAX + 32];
        int in, pidfd;
        pid_t pid, sleeper;

        if (!t->base[0])
                skip();
        pid = start_escaper(t, "login-a", &in, &sleeper);
        snprintf(dir, sizeof dir, "%s/login-a.scope", t->base);
        assert_true(in_cgroup(dir, pid));
        assert_true(in_cgroup(dir, sleeper));
        assert_int_equal(getsid(sleeper), sleeper);
        pidfd = pidfd_open(sleeper, 0);
        assert_true(pidfd >= 0);
        close(in); /* the shell exits */
        assert_true(exits(pidfd_open(pid, 0)));
        assert_true(children_reap(t->children) >= 1);
        assert_true(WIFEXITED(t->wstatus));
        assert_true(exits(pidfd));
        assert_true(loop_until_gone(t, dir));
}

static void test_scope_killed_when_forgotten(void **state) {
        ScopeTest *t = *state;
        char dir[PATH_MAX + 32];
        int in, pidfd;
        pid_t pid, sleeper;

        if (!t->base[0])
                skip();
        pid = start_escaper(t, "login-b", &in, &sleeper);
        track(pid);
        snprintf(dir, sizeof dir, "%s/login-b.scope", t->base);
        pidfd = pidfd_open(sleeper, 0);
        assert_true(pidfd >= 0);
        launcher_kill_forget(&t->launcher, pid);
        assert_true(exits(pidfd));
        assert_true(loop_until_gone(t, dir));
        close(in);
        assert_int_equal(t->wstatus, -1); /* forgotten: not reported */
}

/* Waits until the cgroup.events at events_fd says the cgroup emptied:
 * the kernel has then told every reader of that file, the event loop's
 * too.  False if it did not by the deadline.  Each read marks what this
 * reader has seen, so a change after it wakes the poll (POLLPRI) even
 * when it came before the poll began. */
static bool emptied(int events_fd) {
        usec_t end = now(CLOCK_MONOTONIC) + test_deadline_usec(WAIT_USEC);

        for (;;) {
                char buf[256] = {};
                int ms;

                assert_true(pread(events_fd, buf, sizeof buf - 1, 0) > 0);
                if (strstr(buf, "populated 0"))
                        return true;
                ms = ms_left(end);
                if (ms == 0)
                        return false;
                if (poll(&(struct pollfd){ .fd = events_fd, .events = POLLPRI }, 1, ms) < 0)
                        assert_int_equal(errno, EINTR);
        }
}

/* A start of the same name while the cgroup of the one before is still
 * emptying (a login started again with the same id) gets that cgroup:
 * it runs there, and the removal that was waiting does not take it away,
 * even once the cgroup empties while its new child is not reaped yet.
 * What the kill hit is held at its exit meanwhile, so the cgroup is
 * still emptying when the start comes. */
static void test_scope_taken_over(void **state) {
        ScopeTest *t = *state;
        char dir[PATH_MAX + 32], events[PATH_MAX + 64];
        int in, again_in, pidfd, events_fd;
        pid_t pid, again, sleeper, again_sleeper;

        if (!t->base[0])
                skip();
        pid = start_escaper(t, "login-d", &in, &sleeper);
        track(pid);
        snprintf(dir, sizeof dir, "%s/login-d.scope", t->base);
        if (!hold_at_exit(sleeper))
                skip();
        launcher_kill_forget(&t->launcher, pid);
        wait_held_at_exit();
        assert_true(in_cgroup(dir, sleeper)); /* still emptying */
        again = start_escaper(t, "login-d", &again_in, &again_sleeper);
        assert_true(in_cgroup(dir, again));
        assert_true(in_cgroup(dir, again_sleeper));
        pidfd = pidfd_open(sleeper, 0);
        assert_true(pidfd >= 0);
        release_held();
        assert_true(exits(pidfd));
        /* Empty now, its child not reaped yet: nothing may remove it. */
        snprintf(events, sizeof events, "%s/cgroup.events", dir);
        events_fd = open(events, O_RDONLY | O_CLOEXEC);
        assert_true(events_fd >= 0);
        assert_int_equal(kill(again_sleeper, SIGKILL), 0);
        close(again_in);
        close(in);
        assert_true(emptied(events_fd));
        close(events_fd);
        /* Every event already there handled (the cgroup's, emptied). */
        while (sd_event_run(t->event, 0) > 0)
                ;
        assert_int_equal(access(dir, F_OK), 0);
        /* Once it is reaped, it goes. */
        assert_true(exits(pidfd_open(again, 0)));
        assert_true(children_reap(t->children) >= 1);
        assert_true(loop_until_gone(t, dir));
}

/* A child's CPU time, its cgroup's (cpu.stat: there on cgroup2 without
 * the cpu controller too): while it runs, and from its exit's callback,
 * its cgroup gone by then or not (read before it was removed), at least
 * what it was while it ran; until the next child's end: then it is not
 * the launcher's any more.  A child without a cgroup has none. */
static void test_scope_cpu(void **state) {
        ScopeTest *t = *state;
        char *const argv[] = { (char *)"/bin/true", NULL };
        SpawnOptions o = { .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .extra_fd = -1 };
        uint64_t running = 0, usec;
        int in;
        pid_t pid, other, sleeper;

        if (!t->base[0])
                skip();
        pid = start_escaper(t, "login-d", &in, &sleeper);
        assert_int_equal(launcher_cpu_usec(&t->launcher, pid, &running), 0);
        assert_true(running > 0); /* a shell that forked */
        close(in); /* the shell exits */
        assert_true(exits(pidfd_open(pid, 0)));
        t->cpu_r = -1;
        assert_true(children_reap(t->children) >= 1);
        assert_int_equal(t->cpu_r, 0);
        assert_true(t->cpu_usec >= running);
        assert_int_equal(launcher_cpu_usec(&t->launcher, pid, &usec), 0);
        assert_true(usec == t->cpu_usec);
        /* Another child's end, one without a cgroup. */
        assert_int_equal(launcher_start(&t->launcher, &o, on_exit_cb, t, &other), 0);
        assert_int_equal(launcher_cpu_usec(&t->launcher, other, &usec), -ENOENT);
        assert_true(exits(pidfd_open(other, 0)));
        t->cpu_r = 0;
        assert_true(children_reap(t->children) >= 1);
        assert_int_equal(t->cpu_r, -ENOENT);
        assert_int_equal(launcher_cpu_usec(&t->launcher, pid, &usec), -ENOENT);
        assert_int_equal(launcher_cpu_usec(&t->launcher, 0, &usec), -ENOENT);
}

/* A child that asks for a memory.max (SpawnOptions.memory_max) gets it
 * in its cgroup where the memory controller is there below the base
 * (children_memory_setup()); one that then holds more (dd's one 64 MiB
 * buffer, each page of it read into, under 32 MiB) is OOM-killed with
 * all of its cgroup, and its exit's callback still has the limit and the
 * kill (memory.events).  Without the controller (a hybrid layout: the
 * v1 hierarchy holds it) the setup says why and no child has a limit. */
static void test_scope_memory(void **state) {
        ScopeTest *t = *state;
        char *const argv[] = { (char *)"/bin/sh", (char *)"-c",
                               (char *)"dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null", NULL };
        char *const envp[] = { (char *)"PATH=/usr/bin:/bin", NULL };
        SpawnOptions o = { .argv = argv, .envp = envp, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
                           .extra_fd = -1, .cgroup_name = "login-m", .memory_max = UINT64_C(32) << 20 };
        char why[512], want[PATH_MAX + 64];
        LaunchMemory mem;
        int r;
        pid_t pid;

        if (!t->base[0])
                skip();
        r = children_memory_setup(t->children, why, sizeof why);
        if (r < 0) {
                assert_int_equal(r, -EOPNOTSUPP);
                snprintf(want, sizeof want, "the memory controller is not available in %s (", t->base);
                assert_non_null(strstr(why, want));
                o.argv = (char *const[]){ (char *)"/bin/true", NULL }; /* no limit: nothing to exceed */
                assert_int_equal(launcher_start(&t->launcher, &o, on_exit_cb, t, &pid), 0);
                assert_int_equal(launcher_memory(&t->launcher, pid, &mem), -ENOENT);
                assert_true(exits(pidfd_open(pid, 0)));
                assert_true(children_reap(t->children) >= 1);
                assert_int_equal(launcher_memory(&t->launcher, pid, &mem), -ENOENT);
                return;
        }
        assert_int_equal(launcher_start(&t->launcher, &o, on_exit_cb, t, &pid), 0);
        assert_true(exits(pidfd_open(pid, 0)));
        assert_true(children_reap(t->children) >= 1);
        assert_true(WIFSIGNALED(t->wstatus) && WTERMSIG(t->wstatus) == SIGKILL);
        assert_int_equal(launcher_memory(&t->launcher, pid, &mem), 0);
        assert_int_equal(mem.max, UINT64_C(32) << 20);
        assert_true(mem.oom_kills >= 1 && mem.at_max >= 1);
}

/* A child that takes over a cgroup still emptying (a login started
 * again with the same id) has the CPU time it used, not the time the
 * child before it used there too: that one's was counted at its end.
 * The one before spins first (a count, not a time), so it used far
 * more than a shell that only starts the escaper; the cgroup's
 * cpu.stat goes on counting from what it had. */
static void test_scope_cpu_taken_over(void **state) {
        ScopeTest *t = *state;
        int in, again_in;
        uint64_t before, usec;
        pid_t pid, again, sleeper, again_sleeper;

        if (!t->base[0])
                skip();
        pid = start_script(t, "login-e", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; " ESCAPER, &in,
                           &sleeper);
        started[n_started++] = pid;
        if (!hold_at_exit(sleeper))
                skip();
        assert_int_equal(launcher_cpu_usec(&t->launcher, pid, &before), 0);
        launcher_kill_forget(&t->launcher, pid);
        wait_held_at_exit();
        again = start_escaper(t, "login-e", &again_in, &again_sleeper);
        assert_int_equal(launcher_cpu_usec(&t->launcher, again, &usec), 0);
        assert_true(usec < before);
        release_held();
        close(in);
        close(again_in);
        assert_int_equal(kill(again_sleeper, SIGKILL), 0);
        assert_true(exits(pidfd_open(again, 0)));
        t->cpu_r = -1;
        assert_true(children_reap(t->children) >= 1);
        assert_int_equal(t->cpu_r, 0);
        assert_true(t->cpu_usec >= usec && t->cpu_usec < before);
}

static void test_scope_name_refused(void **state) {
        ScopeTest *t = *state;
        char *const argv[] = { (char *)"/bin/true", NULL };
        SpawnOptions o = { .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .extra_fd = -1 };
        int in;
        pid_t pid, other, sleeper;

        if (!t->base[0])
                skip();
        o.cgroup_name = "a/b";
        assert_int_equal(launcher_start(&t->launcher, &o, on_exit_cb, t, &pid), -EINVAL);
        o.cgroup_name = "..";
        assert_int_equal(launcher_start(&t->launcher, &o, on_exit_cb, t, &pid), -EINVAL);
        pid = start_escaper(t, "login-c", &in, &sleeper);
        track(pid);
        o.cgroup_name = "login-c";
        assert_int_equal(launcher_start(&t->launcher, &o, on_exit_cb, t, &other), -EBUSY);
        close(in);
}

/* The memory.* files a child's start writes in its cgroup, in a
 * directory of plain files standing for a cgroup2 one (this machine's
 * cgroup2 may lack the memory controller: a hybrid layout keeps it in
 * v1; the kernel's own files take a write as a whole, as an empty plain
 * file written once does).  Each scope is there before the start, as
 * one an agent before left is taken over. */
static int fake_setup(void **state) {
        ScopeTest *t = calloc(1, sizeof *t);

        assert_non_null(t);
        *state = t;
        snprintf(t->base, sizeof t->base, "/tmp/vmba-test-fake-cgroup-XXXXXX");
        assert_non_null(mkdtemp(t->base));
        scope_children_make(t);
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int fake_teardown(void **state) {
        ScopeTest *t = *state;

        t->children = children_free(t->children);
        t->event = sd_event_unref(t->event);
        assert_int_equal(nftw(t->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
        free(t);
        return 0;
}

/* A new <base>/<dir>/<file> holding text. */
static void fake_file(const ScopeTest *t, const char *dir, const char *file, const char *text) {
        char path[PATH_MAX + 128];
        int fd;

        snprintf(path, sizeof path, "%s/%s/%s", t->base, dir, file);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

/* <base>/<name>.scope, with the memory controller's files or not. */
static void fake_scope(const ScopeTest *t, const char *name, bool memory) {
        static const char *const files[] = { "cgroup.procs", "cgroup.kill", "memory.max", "memory.swap.max",
                                             "memory.oom.group" };
        char dir[NAME_MAX + 1], path[PATH_MAX + NAME_MAX + 2];

        snprintf(dir, sizeof dir, "%s.scope", name);
        snprintf(path, sizeof path, "%s/%s", t->base, dir);
        assert_int_equal(mkdir(path, 0755), 0);
        for (size_t i = 0; i < (memory ? 5 : 2); i++)
                fake_file(t, dir, files[i], "");
}

/* What <base>/<dir>/<file> holds ("-": no such file), in buf. */
static const char *fake_read(const ScopeTest *t, const char *dir, const char *file, char *buf, size_t size) {
        char path[PATH_MAX + 128];
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "%s/%s/%s", t->base, dir, file);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return "-";
        assert_true(fd >= 0);
        n = read(fd, buf, size - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        close(fd);
        return buf;
}

/* Starts /bin/true in <name>.scope with memory_max, and reaps it:
 * whether it had a memory.max (launcher_memory()) while it ran. */
static bool fake_run(ScopeTest *t, const char *name, uint64_t memory_max) {
        char *const argv[] = { (char *)"/bin/true", NULL };
        SpawnOptions o = { .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .extra_fd = -1,
                           .cgroup_name = name, .memory_max = memory_max };
        LaunchMemory mem;
        bool limited;
        pid_t pid;

        assert_int_equal(launcher_start(&t->launcher, &o, on_exit_cb, t, &pid), 0);
        limited = launcher_memory(&t->launcher, pid, &mem) == 0;
        assert_true(exits(pidfd_open(pid, 0)));
        assert_true(children_reap(t->children) >= 1);
        assert_true(WIFEXITED(t->wstatus) && WEXITSTATUS(t->wstatus) == 0);
        return limited;
}

/* Asserts <name>.scope's memory.max, memory.swap.max, memory.oom.group. */
static void assert_memory(const ScopeTest *t, const char *name, const char *max, const char *swap,
                          const char *group) {
        char dir[NAME_MAX + 1], buf[64];

        snprintf(dir, sizeof dir, "%s.scope", name);
        assert_string_equal(fake_read(t, dir, "memory.max", buf, sizeof buf), max);
        assert_string_equal(fake_read(t, dir, "memory.swap.max", buf, sizeof buf), swap);
        assert_string_equal(fake_read(t, dir, "memory.oom.group", buf, sizeof buf), group);
}

/* No memory.max asked (login_memory_max_mb=0), or the controller not set
 * up this time: a cgroup taken over from an agent before that had one
 * gets none ("max", as a new cgroup has it), so the limit it left does
 * not stay; without the controller's files nothing is written.  With it
 * set up, a child that asks gets its limit, not swapped, OOM-killed as a
 * group. */
static void test_scope_memory_taken_over(void **state) {
        ScopeTest *t = *state;
        char why[512], buf[64];

        fake_scope(t, "login-none", true);
        assert_false(fake_run(t, "login-none", 0));
        assert_memory(t, "login-none", "max", "max", "0");
        fake_scope(t, "login-unset", true);
        assert_false(fake_run(t, "login-unset", UINT64_C(32) << 20));
        assert_memory(t, "login-unset", "max", "max", "0");
        fake_scope(t, "login-nofiles", false);
        assert_false(fake_run(t, "login-nofiles", 0));
        assert_memory(t, "login-nofiles", "-", "-", "-");

        fake_file(t, ".", "cgroup.controllers", "cpu memory pids\n");
        fake_file(t, ".", "cgroup.subtree_control", "");
        assert_int_equal(children_memory_setup(t->children, why, sizeof why), 0);
        assert_string_equal(fake_read(t, ".", "cgroup.subtree_control", buf, sizeof buf), "+memory");
        fake_scope(t, "login-limited", true);
        assert_true(fake_run(t, "login-limited", UINT64_C(32) << 20));
        assert_memory(t, "login-limited", "33554432", "0", "1");
        fake_scope(t, "login-zero", true);
        assert_false(fake_run(t, "login-zero", 0));
        assert_memory(t, "login-zero", "max", "max", "0");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_kill_uid_descendants, kill_started),
                cmocka_unit_test_teardown(test_zombie_not_counted, kill_started),
                cmocka_unit_test(test_never_root),
                cmocka_unit_test_setup_teardown(test_scope_killed_when_reaped, scope_setup, scope_teardown),
                cmocka_unit_test_setup_teardown(test_scope_killed_when_forgotten, scope_setup, scope_teardown),
                cmocka_unit_test_setup_teardown(test_scope_taken_over, scope_setup, scope_teardown),
                cmocka_unit_test_setup_teardown(test_scope_name_refused, scope_setup, scope_teardown),
                cmocka_unit_test_setup_teardown(test_scope_cpu, scope_setup, scope_teardown),
                cmocka_unit_test_setup_teardown(test_scope_memory, scope_setup, scope_teardown),
                cmocka_unit_test_setup_teardown(test_scope_cpu_taken_over, scope_setup, scope_teardown),
                cmocka_unit_test_setup_teardown(test_scope_memory_taken_over, fake_setup, fake_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
