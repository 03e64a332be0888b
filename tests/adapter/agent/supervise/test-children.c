/* Tests of agent/supervise/children.c's search of the process tree for
 * processes marked by an entry in their environment (what a login's CLI
 * left outside its process group): a descendant in a session of its own
 * with the entry is signalled, once (a zombie is not counted again); one
 * in the group the caller leaves out, one without the entry, one whose
 * value only starts like it, and one that has the entry but is not a
 * descendant (reparented away, as another agent's process) are not.
 * Real processes (sleep), each looked at only once it has exec'd. */
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

#define ENTRY "VMBA_LOGIN_SESSION=abc"

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

static void exec_sleep(const char *entry) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        /* Not the test's output: a sleep left by a failed assertion would
         * keep a reader of it waiting. */
        for (int fd = 0; fd <= 2; fd++)
                (void)dup2(null, fd);
        char *const argv[] = { (char *)"sleep", (char *)"1000", NULL };
        char *const envp[] = { (char *)"A=1", (char *)entry, (char *)"Z=2", NULL };

        execve("/bin/sleep", argv, envp);
        _exit(127);
}

/* A sleep with entry in its environment: a child in a session or a group
 * of its own, or an orphan (its parent exited: no longer a descendant). */
static pid_t start(const char *entry, int how) {
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
                exec_sleep(entry);
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

static void test_marked_descendants(void **state) {
        pid_t helper = start(ENTRY, OWN_SESSION);
        pid_t grouped = start(ENTRY, OWN_GROUP);
        pid_t other = start("VMBA_LOGIN_SESSION=other", OWN_SESSION);
        pid_t longer = start(ENTRY "d", OWN_SESSION);
        pid_t orphan = start(ENTRY, ORPHAN);
        int st;

        assert_int_equal(children_signal_marked(ENTRY, grouped, SIGKILL), 1);
        assert_int_equal(waitpid(helper, &st, 0), helper);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        assert_true(running(grouped));
        assert_true(running(other));
        assert_true(running(longer));
        assert_int_equal(kill(orphan, 0), 0);
        /* Without the group left out, that one too. */
        assert_int_equal(children_signal_marked(ENTRY, 0, SIGTERM), 1);
        assert_int_equal(waitpid(grouped, &st, 0), grouped);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
        assert_int_equal(kill(orphan, 0), 0);

}

static void test_zombie_not_counted(void **state) {
        pid_t helper = start(ENTRY, OWN_SESSION);
        siginfo_t si;

        assert_int_equal(children_signal_marked(ENTRY, 0, SIGKILL), 1);
        /* Dead, not reaped yet. */
        assert_int_equal(waitid(P_PID, helper, &si, WEXITED | WNOWAIT), 0);
        assert_int_equal(children_signal_marked(ENTRY, 0, SIGKILL), 0);
}

static void test_not_an_entry(void **state) {
        assert_int_equal(children_signal_marked("VMBA_LOGIN_SESSION", 0, SIGKILL), -EINVAL);
        assert_int_equal(children_signal_marked(NULL, 0, SIGKILL), -EINVAL);
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
                cmocka_unit_test_teardown(test_marked_descendants, kill_started),
                cmocka_unit_test_teardown(test_zombie_not_counted, kill_started),
                cmocka_unit_test(test_not_an_entry),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
