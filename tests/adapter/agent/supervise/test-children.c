/* Tests of agent/supervise/children.c's sweep of a user's processes
 * (children_kill_uid(): what the provider CLIs or a network-facing server
 * left running): a descendant of that uid in a session or a group of its
 * own is killed, once (a zombie is not counted again), and gone when a
 * sweep that waits returns; one of another uid, and one of that uid that
 * is not a descendant (reparented away, as another agent's process) are
 * not; root never.  Real processes (sleep), each looked at only once it
 * has exec'd; as root (they change uid). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/supervise/children.h"

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

/* Every sleep started, killed at the end whatever failed. */
static pid_t started[16];
static size_t n_started;

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
        assert_true(n_started < sizeof started / sizeof started[0]);
        started[n_started++] = pid;
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
                (void)kill(started[i], SIGKILL);
                (void)waitpid(started[i], NULL, 0); /* ECHILD for the orphan */
        }
        n_started = 0;
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_kill_uid_descendants, kill_started),
                cmocka_unit_test_teardown(test_zombie_not_counted, kill_started),
                cmocka_unit_test(test_never_root),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
