/* Tests of agent/login/cli-runner.c's promise that its owner may free the
 * runner from a callback (the owner ends the login there): from on_url
 * and from on_failure, while the runner is in the middle of reading the
 * CLI's output, nothing of the freed runner is touched afterwards (ASan,
 * in the asan tier, tells) and nothing of it leaks.  A real child
 * (printf, without a shell) through the agent's own Launcher (spawn and
 * the child registry) on a private sd-event loop; as root (the CLI runs
 * as a user of its own, never root).
 *
 * And that a CLI's CPU time, as the Launcher has it when the CLI ends
 * (exits, or is killed with the runner), is added to the owner's totals,
 * or counted as unknown, never as 0; and that the CLI's end line names
 * its login as the login's other lines do ("Login <id>: "), whether it
 * exited or was killed with the runner; and that a CLI whose cgroup saw
 * the kernel's OOM killer at work ends "killed by the kernel: out of
 * memory (memory.max N MiB)" (or "(the VM's)" when it never reached that
 * limit), for its owner and in that line; and that one that kept
 * reaching its memory.max and reading back what was evicted says so
 * (none for a limit merely full of file cache). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <systemd/sd-event.h>

#include "agent/login/cli-runner.h"
#include "agent/supervise/children.h"
#include "tests/adapter/cgroup-plain.h"
#include "tests/unit/test-util.h"
#include "time-util.h"

/* nobody on Debian: any user but root. */
#define CLI_UID 65534
#define URL "https://login.example.test/authorize?state=secret-state"

typedef struct Fixture {
        sd_event *event;
        Children *children;
        Launcher launcher;
        CliRunner *runner;
        unsigned n_url, n_failure, n_exit;
        int exit_status; /* the wstatus on_exit came with */
        char *exit_output; /* the transcript when on_exit came */
        CliCpuTotals *totals;
        Launcher inner;    /* the agent's, which the CPU test wraps */
        int cpu_r;         /* what its launcher_cpu_usec() answers */
        uint64_t cpu_usec;
        int memory_r;      /* what its launcher_memory() answers */
        LaunchMemory memory;
        char exit_how[512]; /* the how on_exit came with */
        pid_t cpu_pid;     /* whose CPU time it was asked for last */
        const char *cgroup_name; /* the CLI's (CliRunnerOptions), NULL: none */
        uint64_t memory_max;
        char cg_base[64];  /* a cgroup base of plain files made, "": none */
        int log;           /* end_cli_logged()'s last log (a memfd), -1: none */
        int saved_stderr;  /* stderr while it is redirected there, -1: not */
} Fixture;

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Fixture *f = userdata;

        (void)children_reap(f->children);
        return 0;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        sigset_t mask;

        assert_non_null(f);
        /* Blocked before any child exists, as the agent does. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(sd_event_add_signal(f->event, NULL, SIGCHLD, on_sigchld, f), 0);
        assert_int_equal(children_new(&f->children), 0);
        f->launcher = children_launcher(f->children);
        f->log = f->saved_stderr = -1;
        *state = f;
        return 0;
}

/* stderr back from end_cli_logged()'s log, where a test that failed
 * midway left it: that log (cmocka's message last) copied to the test
 * log. */
static void stderr_restore(Fixture *f) {
        char buf[4096];
        ssize_t n;
        off_t at = 0;

        if (f->saved_stderr < 0)
                return;
        dup2(f->saved_stderr, STDERR_FILENO);
        f->saved_stderr = safe_close(f->saved_stderr);
        fprintf(stderr, "The failed test's log:\n");
        fflush(stderr);
        while ((n = pread(f->log, buf, sizeof buf, at)) > 0) {
                if (write(STDERR_FILENO, buf, (size_t)n) != n)
                        break;
                at += n;
        }
}

static int teardown(void **state) {
        Fixture *f = *state;
        int r = 0;

        stderr_restore(f);
        safe_close(f->log);
        cli_runner_free(f->runner);
        free(f->exit_output);
        children_free(f->children);
        sd_event_unref(f->event);
        /* Also when the test failed midway (not when its mkdtemp() did:
         * the template then names nothing). */
        if (f->cg_base[0] && access(f->cg_base, F_OK) == 0 && test_plain_remove(f->cg_base) != 0) {
                fprintf(stderr, "cannot remove %s\n", f->cg_base);
                r = -1;
        }
        free(f);
        return r;
}

static void on_url_free(CliRunner *r, const char *url, void *userdata) {
        Fixture *f = userdata;

        assert_ptr_equal(r, f->runner);
        assert_string_equal(url, URL);
        f->n_url++;
        f->runner = cli_runner_free(r);
        (void)sd_event_exit(f->event, 0);
}

static void on_url_keep(CliRunner *r, const char *url, void *userdata) {
        Fixture *f = userdata;

        f->n_url++;
}

static void on_failure_free(CliRunner *r, const char *line, void *userdata) {
        Fixture *f = userdata;

        assert_ptr_equal(r, f->runner);
        assert_string_equal(line, "Error: sign-in failed");
        f->n_failure++;
        f->runner = cli_runner_free(r);
        (void)sd_event_exit(f->event, 0);
}

/* The CLI exited before its failure was reported: without this the loop
 * would wait for ever; the test fails naming what the CLI showed. */
static void on_exit_unreported(CliRunner *r, int wstatus, const char *how, void *userdata) {
        Fixture *f = userdata;

        f->n_exit++;
        f->exit_status = wstatus;
        free(f->exit_output);
        f->exit_output = cli_runner_output(r);
        (void)sd_event_exit(f->event, 0);
}

/* Runs the loop until a callback ends it (sd_event_exit()), as
 * sd_event_loop() does, but by a deadline (10 s, scaled:
 * test_deadline_usec()): a runner that never calls back fails the test
 * naming what it waited for, not at the suite's timeout. */
static void run_until_exit(Fixture *f, const char *what) {
        TestWait w = test_wait_start(10 * USEC_PER_SEC);
        int code;

        while (sd_event_get_state(f->event) != SD_EVENT_FINISHED) {
                uint64_t left = test_wait_left(&w);

                if (left == 0)
                        fail_msg("timed out after %llu s waiting for %s", w.s, what);
                assert_true(sd_event_run(f->event, left) >= 0);
        }
        assert_int_equal(sd_event_get_exit_code(f->event, &code), 0);
        assert_int_equal(code, 0);
}

static void start(Fixture *f, ProviderDef *p, const CliRunnerCallbacks *cb) {
        CliRunnerOptions o = {
                .provider = p,
                .home = "/",
                .browser = "/nonexistent/browser",
                .control_socket = "/nonexistent/control.sock",
                .login_id = "test-login",
                .uid = CLI_UID,
                .gid = CLI_UID,
                .path = "/usr/bin:/bin",
                .cpu_totals = f->totals,
                .memory_max = f->memory_max,
                .memory_max_key = "login_memory_max_mb",
                .cgroup_name = f->cgroup_name,
        };

        assert_int_equal(cli_runner_start(f->event, &f->launcher, &o, cb, f, &f->runner), 0);
}

/* The whole output (the URL, then more) comes in one read: the runner
 * must not go on reading into the runner the callback freed. */
static void test_free_from_on_url(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *)"printf", (char *)URL "\\nmore output\\n", NULL };
        char *patterns[] = { (char *)"https://login.example.test/authorize", NULL };
        ProviderDef p = { .id = (char *)"fake", .argv = argv, .url_patterns = patterns };

        if (geteuid() != 0)
                skip();
        start(f, &p, &(CliRunnerCallbacks){ .on_url = on_url_free });
        run_until_exit(f, "the CLI's URL");
        assert_int_equal(f->n_url, 1);
        assert_null(f->runner);
}

/* Waits for the CLI (pid) to make the file name in its /tmp (its own:
 * seen here through its /proc/<pid>/root), looking every 10 ms, as no
 * event says so.  Bounded (test_deadline_usec()), and failing at once
 * when the CLI exits first: a CLI gone has no root to look into, and the
 * wait would last to the suite's timeout. */
static void wait_cli_file(pid_t pid, const char *name) {
        usec_t end = now(CLOCK_MONOTONIC) + test_deadline_usec(10 * USEC_PER_SEC);
        int pidfd = pidfd_open(pid, 0);
        char path[PATH_MAX];

        assert_true(pidfd >= 0);
        snprintf(path, sizeof path, "/proc/%d/root/tmp/%s", (int)pid, name);
        while (access(path, F_OK) < 0) {
                /* Readable once the CLI exited; else a 10 ms pause. */
                if (poll(&(struct pollfd){ .fd = pidfd, .events = POLLIN }, 1, 10) > 0)
                        fail_msg("the CLI exited without writing /tmp/%s", name);
                if (now(CLOCK_MONOTONIC) >= end)
                        fail_msg("the CLI did not write /tmp/%s", name);
        }
        close(pidfd);
}

/* Runs `sh -c script` on a PTY as a CLI whose failures start "Error:"
 * and whose "Continue?" gets Enter, until the owner frees it from
 * on_failure ("Error: sign-in failed" expected).  With url_known the URL
 * comes the other way first: once the file wait_for exists (the script
 * makes it) when that is not NULL, in the CLI's /tmp, which is its own
 * (seen here through its /proc/<pid>/root). */
static void run_failing_cli(Fixture *f, const char *script, const char *wait_for, bool url_known) {
        char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };
        char *patterns[] = { (char *)"https://login.example.test/authorize", NULL };
        char *failures[] = { (char *)"Error:", NULL };
        ProviderPrompt prompts[] = { { (char *)"Continue?", (char *)"\r", false } };
        ProviderDef p = { .id = (char *)"fake", .argv = argv, .url_patterns = patterns, .failures = failures,
                          .pty = true, .prompts = prompts, .n_prompts = 1 };

        start(f, &p, &(CliRunnerCallbacks){ .on_url = on_url_keep, .on_failure = on_failure_free,
                                            .on_exit = on_exit_unreported });
        /* Written (in the terminal, unread: the loop has not run). */
        if (wait_for)
                wait_cli_file(cli_runner_pid(f->runner), wait_for);
        if (url_known)
                cli_runner_url_known(f->runner);
        run_until_exit(f, "the CLI's failure (or its exit)");
        if (f->n_exit > 0)
                fail_msg("the CLI exited (wait status %#x) before its failure was reported; it showed: %s",
                         (unsigned)f->exit_status, f->exit_output ?: "(nothing)");
        assert_int_equal(f->n_failure, 1);
        assert_null(f->runner);
}

/* The URL came another way (the CLI's $BROWSER) and the CLI, asked to
 * go on, shows a failure: the owner ends the login from on_failure.  The
 * question may be read before the URL is known or after. */
static void test_free_from_on_failure(void **state) {
        Fixture *f = *state;

        if (geteuid() != 0)
                skip();
        run_failing_cli(f, "printf 'Continue?\\r\\n'; read x; printf 'Error: sign-in failed\\r\\nmore output\\r\\n'",
                        NULL, true);
        assert_int_equal(f->n_url, 0);
}

/* A failure the CLI wrote before it handed the URL over, still unread
 * when the URL arrives the other way, predates the sign-in: only the one
 * after counts. */
static void test_failure_unread_when_the_url_arrives(void **state) {
        Fixture *f = *state;

        if (geteuid() != 0)
                skip();
        run_failing_cli(f, "printf 'Error: an earlier attempt\\r\\nContinue?\\r\\n'; : > /tmp/written; read x; "
                           "printf 'Error: sign-in failed\\r\\n'; sleep 100", "written", true);
}

/* A failure drawn in the same read as the URL (a TUI draws a frame at
 * once) predates the sign-in: only the one after counts. */
static void test_failure_drawn_with_the_url(void **state) {
        Fixture *f = *state;

        if (geteuid() != 0)
                skip();
        run_failing_cli(f, "printf 'Error: an earlier attempt\\r\\n" URL "\\r\\nContinue?\\r\\n'; read x; "
                           "printf 'Error: sign-in failed\\r\\n'; sleep 100", NULL, false);
        assert_int_equal(f->n_url, 1);
}

static void on_exit_keep_output(CliRunner *r, int wstatus, const char *how, void *userdata) {
        Fixture *f = userdata;

        f->n_exit++;
        f->exit_output = cli_runner_output(r);
}

/* A CLI that prints its error and exits: the exit can be dispatched
 * before the output (both ready in one wakeup).  Here it is, for sure:
 * the child is reaped before the loop ever runs.  What it wrote is read
 * before the owner hears of the exit (the host gets it as cliOutput). */
static void test_output_read_before_the_exit(void **state) {
        Fixture *f = *state;
        char *argv[] = { (char *)"sh", (char *)"-c",
                         (char *)"printf 'cannot reach the auth server\\r\\n'; exit 3", NULL };
        char *patterns[] = { (char *)"https://login.example.test/authorize", NULL };
        ProviderDef p = { .id = (char *)"fake", .argv = argv, .url_patterns = patterns, .pty = true };
        pid_t pid;

        if (geteuid() != 0)
                skip();
        start(f, &p, &(CliRunnerCallbacks){ .on_exit = on_exit_keep_output });
        pid = cli_runner_pid(f->runner);
        /* Until it has exited, left unreaped (WNOWAIT): the reap is ours. */
        assert_int_equal(waitid(P_PID, (id_t)pid, &(siginfo_t){}, WEXITED | WNOWAIT), 0);
        assert_true(children_reap(f->children) >= 1);
        assert_int_equal(f->n_exit, 1);
        assert_non_null(f->exit_output);
        assert_non_null(strstr(f->exit_output, "cannot reach the auth server"));
}

static int wrap_start(void *ctx, const SpawnOptions *o, LaunchExitFn on_exit, void *userdata, pid_t *ret_pid) {
        Fixture *f = ctx;

        return launcher_start(&f->inner, o, on_exit, userdata, ret_pid);
}

static void wrap_forget(void *ctx, pid_t pid) {
        Fixture *f = ctx;

        launcher_forget(&f->inner, pid);
}

static int fake_cpu_usec(void *ctx, pid_t pid, uint64_t *ret) {
        Fixture *f = ctx;

        f->cpu_pid = pid;
        if (f->cpu_r >= 0)
                *ret = f->cpu_usec;
        return f->cpu_r;
}

static void on_exit_count(CliRunner *r, int wstatus, const char *how, void *userdata) {
        Fixture *f = userdata;

        f->n_exit++;
        snprintf(f->exit_how, sizeof f->exit_how, "%s", how);
}

static int fake_memory(void *ctx, pid_t pid, LaunchMemory *ret) {
        Fixture *f = ctx;

        if (f->memory_r >= 0)
                *ret = f->memory;
        return f->memory_r;
}

/* Whether the log (fd, from its start) holds line, a whole line after
 * its "<N>ident: " prefix. */
static bool log_has_line(int fd, const char *line) {
        char buf[16384], want[512];
        ssize_t n;

        n = pread(fd, buf, sizeof buf - 1, 0);
        assert_true(n >= 0 && (size_t)n < sizeof buf - 1);
        buf[n] = '\0';
        snprintf(want, sizeof want, ": %s\n", line);
        if (strstr(buf, want))
                return true;
        fprintf(stderr, "no line \"%s\" in the log:\n%s", line, buf);
        return false;
}

/* Ends the CLI (pid) that f->runner runs: killed with the runner, or
 * killed and reaped before the runner goes; the log (stderr) meanwhile
 * into a memfd, which is returned, borrowed: f keeps it until the next
 * call or the teardown, so that an assertion failing on it leaks none. */
static int end_cli_logged(Fixture *f, pid_t pid, bool killed) {
        f->log = safe_close(f->log);
        f->log = memfd_create("log", MFD_CLOEXEC);
        assert_true(f->log >= 0);
        f->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        assert_true(f->saved_stderr >= 0);
        assert_int_equal(dup2(f->log, STDERR_FILENO), STDERR_FILENO);
        if (!killed) {
                assert_int_equal(kill(pid, SIGKILL), 0);
                assert_int_equal(waitid(P_PID, (id_t)pid, &(siginfo_t){}, WEXITED | WNOWAIT), 0);
                assert_true(children_reap(f->children) >= 1);
                assert_int_equal(f->n_exit, 1);
        }
        f->runner = cli_runner_free(f->runner);
        assert_int_equal(dup2(f->saved_stderr, STDERR_FILENO), STDERR_FILENO);
        f->saved_stderr = safe_close(f->saved_stderr);
        return f->log;
}

/* The CPU time the Launcher has for the CLI as it ends is added up;
 * without one (no cgroup, its cpu.stat unreadable, a launcher without
 * cgroups) the CLI counts as unknown, adding nothing.  Each end is one
 * line of the log, its login's id first. */
static void test_cpu_counted(void **state) {
        static const struct {
                int r;
                bool killed;      /* freed while it runs, else it exits */
                uint64_t usec, total, unknown;
                const char *how, *cpu; /* the end line's */
        } cases[] = {
                { 0, false, 1500, 1500, 0, "killed by SIGKILL", "CPU 1 ms." },
                { 0, true, 250, 1750, 0, "killed", "CPU 0 ms." },
                { -ENOENT, false, 0, 1750, 1, "killed by SIGKILL", "CPU unknown (no cgroup of its own)." },
                { -EIO, true, 0, 1750, 2, "killed", "CPU unknown (its cgroup's cpu.stat: Input/output error)." },
                { -EOPNOTSUPP, false, 0, 1750, 3, "killed by SIGKILL", "CPU unknown (no cgroup of its own)." },
                { 0, false, 0, 1750, 3, "killed by SIGKILL", "CPU 0 ms." }, /* known, and 0: no unknown */
        };
        Fixture *f = *state;
        CliCpuTotals totals = {};
        char *argv[] = { (char *)"sh", (char *)"-c", (char *)"read x", NULL };
        char *patterns[] = { (char *)"https://login.example.test/authorize", NULL };
        ProviderDef p = { .id = (char *)"fake", .argv = argv, .url_patterns = patterns, .pty = true };
        int log;

        if (geteuid() != 0)
                skip();
        f->inner = f->launcher;
        f->launcher = (Launcher){ .start = wrap_start, .forget = wrap_forget, .cpu_usec = fake_cpu_usec, .ctx = f };
        f->totals = &totals;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char line[256];
                pid_t pid;

                f->cpu_r = cases[i].r;
                f->cpu_usec = cases[i].usec;
                f->n_exit = 0;
                start(f, &p, &(CliRunnerCallbacks){ .on_exit = on_exit_count });
                pid = cli_runner_pid(f->runner);
                log = end_cli_logged(f, pid, cases[i].killed);
                snprintf(line, sizeof line, "Login test-login: Provider CLI fake (pid %d) %s, %s", (int)pid,
                         cases[i].how, cases[i].cpu);
                assert_true(log_has_line(log, line));
                assert_int_equal(f->cpu_pid, pid);
                assert_int_equal(totals.usec, cases[i].total);
                assert_int_equal(totals.unknown, cases[i].unknown);
        }
        /* The killed ones, reaped without their owner. */
        while (waitid(P_ALL, 0, &(siginfo_t){}, WEXITED | WNOWAIT) == 0 && children_reap(f->children) > 0)
                ;
}

/* A CLI killed while the kernel's OOM killer killed in its cgroup ends
 * "killed by the kernel: out of memory (memory.max N MiB)", for its
 * owner (the login's status) and in its end line; with no OOM kill there,
 * or no memory.max at all, as its wait status says. */
static void test_oom_kill_named(void **state) {
        static const struct {
                int r;
                LaunchMemory memory;
                const char *how;
        } cases[] = {
                { 0, { .max = UINT64_C(64) << 20, .oom_kills = 1, .at_max = 1 },
                  "killed by the kernel: out of memory (memory.max 64 MiB)" },
                { 0, { .max = UINT64_C(1024) << 20, .oom_kills = 3, .at_max = 2 },
                  "killed by the kernel: out of memory (memory.max 1024 MiB)" },
                /* Killed without reaching its limit: the VM's memory ran out. */
                { 0, { .max = UINT64_C(1024) << 20, .oom_kills = 1 }, "killed by the kernel: out of memory (the VM's)" },
                { 0, { .max = UINT64_C(64) << 20 }, "killed by SIGKILL" },
                { -ENOENT, {}, "killed by SIGKILL" },
        };
        Fixture *f = *state;
        char *argv[] = { (char *)"sh", (char *)"-c", (char *)"read x", NULL };
        char *patterns[] = { (char *)"https://login.example.test/authorize", NULL };
        ProviderDef p = { .id = (char *)"fake", .argv = argv, .url_patterns = patterns, .pty = true };

        if (geteuid() != 0)
                skip();
        f->inner = f->launcher;
        f->launcher = (Launcher){ .start = wrap_start, .forget = wrap_forget, .cpu_usec = fake_cpu_usec,
                                  .memory = fake_memory, .ctx = f };
        f->cpu_r = -ENOENT;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char line[256];
                pid_t pid;
                int log;

                f->memory_r = cases[i].r;
                f->memory = cases[i].memory;
                f->n_exit = 0;
                start(f, &p, &(CliRunnerCallbacks){ .on_exit = on_exit_count });
                pid = cli_runner_pid(f->runner);
                log = end_cli_logged(f, pid, false);
                assert_string_equal(f->exit_how, cases[i].how);
                snprintf(line, sizeof line, "Login test-login: Provider CLI fake (pid %d) %s, CPU unknown (no cgroup "
                         "of its own).", (int)pid, cases[i].how);
                assert_true(log_has_line(log, line));
        }
}

/* f->cg_base made a cgroup2 base of plain files with the memory
 * controller, the runner's (removed by teardown()); scope its
 * login-test.scope, made. */
static void memory_cgroup_base(Fixture *f, char *scope, size_t size) {
        char why[256], *base = f->cg_base;

        snprintf(base, sizeof f->cg_base, "/tmp/test-cli-runner-cg-XXXXXX");
        assert_int_equal(test_plain_base_make(base), 0);
        assert_int_equal(children_set_cgroup_base(f->children, f->event, base), 0);
        assert_int_equal(children_memory_setup(f->children, why, sizeof why), 0);
        f->cgroup_name = "login-test";
        f->memory_max = UINT64_C(64) << 20;
        snprintf(scope, size, "%s/login-test.scope", base);
        assert_int_equal(mkdir(scope, 0755), 0);
}

/* A case of test_memory_max_reached_noted(): what its cgroup counts
 * while the CLI runs, and the note then and at its exit. */
typedef struct MemoryCase {
        int refaults;          /* memory.stat's refaults while it runs (40 when it started) */
        int oom;               /* OOM kills counted at its exit */
        const char *how;       /* its exit's words, before the note */
        bool noted;            /* the note while it runs, and at its exit without OOM kills */
} MemoryCase;

/* A CLI run in scope as c says, its note checked while it runs and at
 * its exit (for its owner and in its end line). */
static void memory_case(Fixture *f, const char *scope, ProviderDef *p, const MemoryCase *c) {
        static const char note[] = "at its memory.max 64 MiB: the kernel reclaimed its memory 120 times since it "
                                   "started and read back 9005 pages it had evicted, its code too, as it runs; "
                                   "raise login_memory_max_mb";
        const char *end = c->noted && c->oom == 0 ? note : "";
        char how[512], line[1024], buf[512];
        pid_t pid;
        int log;

        assert_int_equal(test_plain_memory_files(scope), 0);
        /* What a CLI before counted there is not this one's. */
        assert_int_equal(test_plain_memory_counts(scope, 7, 0, 40), 0);
        assert_int_equal(test_plain_put(scope, "cpu.stat", "usage_usec 1500\n"), 0);
        f->n_exit = 0;
        start(f, p, &(CliRunnerCallbacks){ .on_exit = on_exit_count });
        pid = cli_runner_pid(f->runner);
        assert_string_equal(cli_runner_memory_note(f->runner, buf, sizeof buf), "");
        assert_int_equal(test_plain_memory_counts(scope, 127, 0, c->refaults), 0);
        assert_string_equal(cli_runner_memory_note(f->runner, buf, sizeof buf), c->noted ? note : "");
        assert_int_equal(test_plain_memory_counts(scope, 127, c->oom, c->refaults), 0);
        log = end_cli_logged(f, pid, false);
        snprintf(how, sizeof how, "%s%s%s", c->how, *end ? "; " : "", end);
        assert_string_equal(f->exit_how, how);
        snprintf(line, sizeof line, "Login test-login: Provider CLI fake (pid %d) %s, CPU 0 ms%s%s.", (int)pid,
                 c->how, *end ? "; " : "", end);
        assert_true(log_has_line(log, line));
}

/* A CLI that kept reaching its memory.max and reading back what the
 * kernel evicted (its cgroup's memory.events "max" and memory.stat's
 * refaults rising since it started: it crawls rather than fails) says so
 * while it runs (cli_runner_memory_note(), for its login's timeouts), and
 * at its exit, for its owner (the login's error) and in its end line,
 * naming login_memory_max_mb; not when the OOM killer killed in its
 * cgroup (its exit names that), nor when "max" rose without refaults (a
 * limit full of file cache, given back cheaply).  The cgroups are plain
 * files in a directory, as the kernel's look: the test counts what the
 * kernel would, the CLI running. */
static void test_memory_max_reached_noted(void **state) {
        static const MemoryCase cases[] = {
                { 9045, 0, "killed by SIGKILL", true },
                { 9045, 1, "killed by the kernel: out of memory (memory.max 64 MiB)", true },
                /* Refaults from before it started (40) are not its. */
                { 40, 0, "killed by SIGKILL", false },
        };
        Fixture *f = *state;
        char *argv[] = { (char *)"sh", (char *)"-c", (char *)"read x", NULL };
        char *patterns[] = { (char *)"https://login.example.test/authorize", NULL };
        ProviderDef p = { .id = (char *)"fake", .argv = argv, .url_patterns = patterns, .pty = true };
        char scope[PATH_MAX], buf[512];

        if (geteuid() != 0)
                skip();
        memory_cgroup_base(f, scope, sizeof scope);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                memory_case(f, scope, &p, &cases[i]);
        assert_string_equal(cli_runner_memory_note(NULL, buf, sizeof buf), "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_free_from_on_url, setup, teardown),
                cmocka_unit_test_setup_teardown(test_output_read_before_the_exit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cpu_counted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oom_kill_named, setup, teardown),
                cmocka_unit_test_setup_teardown(test_memory_max_reached_noted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_from_on_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failure_unread_when_the_url_arrives, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failure_drawn_with_the_url, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
