/* Tests of agent/login/login.c's note on a login whose CLI kept reaching
 * its memory.max (login_memory_max_mb) and reading back what the kernel
 * evicted: such a CLI is not OOM-killed but crawls, and its login times
 * out rather than fails, so the expiry's error (and its log line) says
 * why and which setting to raise; "max" rising alone (a limit full of
 * file cache, given back cheaply) says nothing.  A real
 * CLI (sh, through the agent's Launcher, as user nobody) in a session on
 * a private sd-event loop, started through the runner as
 * login_session_start_cli() starts it (without a HOME or a pool user:
 * nothing here is on disk but the cgroups); those are plain files in a
 * directory, as the kernel's look, the test counting what the kernel
 * would while the CLI runs.  As root. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <systemd/sd-event.h>

#include "agent/login/login.h"
#include "agent/supervise/children.h"
#include "host-logins.h"
#include "tests/adapter/cgroup-plain.h"
#include "tests/unit/test-util.h"

#define CLI_UID 65534 /* nobody on Debian: any user but root */
#define ID "crawl-1"


typedef struct Fixture {
        sd_event *event;
        Children *children;
        Launcher launcher;
        LoginManager *lm;
        char base[64];          /* the cgroups' base, plain files */
        char scope[PATH_MAX];   /* the CLI's: <base>/login-<ID>.scope */
} Fixture;

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void)children_reap(userdata);
        return 0;
}

/* f's cgroup base of plain files made, the children's, with the CLI's
 * scope in it: 0 or -errno, without an assertion, for setup() to remove
 * a base half made (cmocka runs no teardown after a failed setup). */
static int cgroups_make(Fixture *f) {
        char why[256];
        int r;

        snprintf(f->base, sizeof f->base, "/tmp/test-login-memory-XXXXXX");
        r = test_plain_base_make(f->base);
        if (r == 0)
                r = children_set_cgroup_base(f->children, f->event, f->base);
        if (r == 0)
                r = children_memory_setup(f->children, why, sizeof why);
        if (r < 0)
                return r;
        snprintf(f->scope, sizeof f->scope, "%s/login-" ID ".scope", f->base);
        if (mkdir(f->scope, 0755) < 0)
                return -errno;
        r = test_plain_memory_files(f->scope);
        if (r == 0)
                r = test_plain_put(f->scope, "cpu.stat", "");
        /* What a CLI before counted there is not this one's. */
        return r < 0 ? r : test_plain_memory_counts(f->scope, 7, 0, 40);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        sigset_t mask;
        int r;

        assert_non_null(f);
        if (geteuid() != 0) {
                free(f);
                skip(); /* the CLI runs as a user of its own */
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, NULL), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(children_new(&f->children), 0);
        assert_int_equal(sd_event_add_signal(f->event, NULL, SIGCHLD, on_sigchld, f->children), 0);
        f->launcher = children_launcher(f->children);
        LoginOptions o = host_login_options(f->event, NULL);
        o.session_ttl_s = 1;
        assert_int_equal(login_manager_new(&o, &f->lm), 0);
        /* Last: nothing after it fails with the base left behind. */
        r = cgroups_make(f);
        if (r < 0 && access(f->base, F_OK) == 0)
                (void)test_plain_remove(f->base);
        assert_int_equal(r, 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        if (!f)
                return 0;
        /* Its CLI killed with it (the reaper collects it). */
        f->lm = login_manager_free(f->lm);
        children_free(f->children);
        sd_event_unref(f->event);
        assert_int_equal(test_plain_remove(f->base), 0);
        free(f);
        return 0;
}

static void on_exit_ignored(CliRunner *r, int wstatus, const char *how, void *userdata) {
}

/* A CLI that waits on its terminal; borrowed by the runner, which may
 * outlive a test's frame until its teardown. */
static char *cli_argv[] = { (char *)"sh", (char *)"-c", (char *)"read x", NULL };
static char *cli_patterns[] = { (char *)"https://login.example.test/authorize", NULL };
static const ProviderDef cli = { .id = (char *)"fake", .argv = cli_argv, .url_patterns = cli_patterns, .pty = true };

/* s's CLI (sh waiting on its terminal), in the cgroup login-<ID>.scope
 * with memory.max 64 MiB, as login_session_start_cli() runs it. */
static void cli_start(Fixture *f, LoginSession *s) {
        CliRunnerOptions o = {
                .provider = &cli, .home = "/", .browser = "/nonexistent/browser",
                .control_socket = "/nonexistent/control.sock", .login_id = s->id, .uid = CLI_UID,
                .gid = CLI_UID, .path = "/usr/bin:/bin", .memory_max = UINT64_C(64) << 20,
                .memory_max_key = "login_memory_max_mb", .cgroup_name = "login-" ID,
        };

        assert_int_equal(cli_runner_start(f->event, &f->launcher, &o,
                                          &(CliRunnerCallbacks){ .on_exit = on_exit_ignored }, s, &s->runner), 0);
}

static void run_until_state(Fixture *f, LoginSession *s, SessionState st, const char *what) {
        TestWait w = test_wait_start(20 * USEC_PER_SEC);

        while (s->state != st) {
                if (test_wait_left(&w) == 0)
                        fail_msg("timed out after %llu s waiting for %s", w.s, what);
                assert_true(sd_event_run(f->event, 100 * USEC_PER_MSEC) >= 0);
        }
}

/* The login expires (session_ttl_s 1) while its CLI runs at its
 * memory.max, "max" risen by 120 since the CLI started and the refaults
 * by 9005 (or not at all: noted false): its error is "Session expired"
 * and the note naming login_memory_max_mb (or nothing more). */
static void expired_at_memory_max(Fixture *f, int refaults, bool noted) {
        static const char note[] = "CLI fake at its memory.max 64 MiB: the kernel reclaimed its memory 120 times "
                                   "since it started and read back 9005 pages it had evicted, its code too, as it "
                                   "runs; raise login_memory_max_mb";
        char buf[LOGIN_MEMORY_NOTE_MAX], want[512];
        LoginSession *s;

        assert_int_equal(login_session_new(f->lm, ID, "fake", &s), 0);
        cli_start(f, s);
        assert_string_equal(login_session_memory_note(s, buf, sizeof buf), "");
        assert_int_equal(test_plain_memory_counts(f->scope, 127, 0, refaults), 0);
        assert_string_equal(login_session_memory_note(s, buf, sizeof buf), noted ? note : "");
        run_until_state(f, s, SESSION_EXPIRED, "the login's expiry");
        snprintf(want, sizeof want, "Session expired%s%s", noted ? "; " : "", noted ? note : "");
        assert_string_equal(s->error, want);
}

static void test_expired_at_memory_max(void **state) {
        expired_at_memory_max(*state, 9045, true);
}

/* Its limit full of file cache: "max" as high, the refaults as they were
 * when it started (40, an earlier CLI's). */
static void test_expired_at_memory_max_cache(void **state) {
        expired_at_memory_max(*state, 40, false);
}

/* Without a rise the expiry says no more than it did. */
static void test_expired_not_at_memory_max(void **state) {
        Fixture *f = *state;
        LoginSession *s;

        assert_int_equal(login_session_new(f->lm, ID, "fake", &s), 0);
        cli_start(f, s);
        run_until_state(f, s, SESSION_EXPIRED, "the login's expiry");
        assert_string_equal(s->error, "Session expired");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_expired_at_memory_max, setup, teardown),
                cmocka_unit_test_setup_teardown(test_expired_at_memory_max_cache, setup, teardown),
                cmocka_unit_test_setup_teardown(test_expired_not_at_memory_max, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
