/* Unit tests for agent/supervisor.c (the adapter) without root and without
 * the rest of the agent: a hand-made Manager (sd-event loop, Config,
 * children.c reaping on SIGCHLD) and small /bin/sh services from a
 * services file.  Covers start in dependency order, a dependency's restart
 * taking its dependents down and up again, the start budget, a missing
 * binary, on-demand start/stop, stop_all in reverse order with its done
 * callback, and the ready timeout extended only while a start is busy.  Also what the status accessors report.  The loop runs
 * until a condition holds, with a deadline that fails the test. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "agent/children.h"
#include "agent/config.h"
#include "agent/manager.h"
#include "agent/supervisor.h"
#include "fileio.h"
#include "macro.h"

static char dir[] = "/tmp/test-supervisor-XXXXXX";
static unsigned changed;

/* The Manager's hook (manager.c is not linked here). */
void manager_services_changed(Manager *m) {
        changed++;
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        children_reap(userdata);
        return 0;
}

static Manager *manager_make(const char *services_json, const char *const *sets) {
        static Manager m;
        char path[128], err[256];
        sigset_t ss;

        m = (Manager){};
        config_init(&m.config);
        snprintf(path, sizeof path, "%s/services.json", dir);
        assert_int_equal(write_file_atomic(path, services_json, strlen(services_json), 0644), 0);
        assert_int_equal(config_set(&m.config, "services_file", path, err, sizeof err), 0);
        assert_int_equal(config_set(&m.config, "backoff_initial_ms", "2", err, sizeof err), 0);
        assert_int_equal(config_set(&m.config, "backoff_max_ms", "4", err, sizeof err), 0);
        for (; sets && *sets; sets += 2)
                assert_int_equal(config_set(&m.config, sets[0], sets[1], err, sizeof err), 0);
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        assert_int_equal(sd_event_new(&m.event), 0);
        assert_int_equal(sd_event_add_signal(m.event, NULL, SIGCHLD, on_sigchld, &m), 0);
        return &m;
}

static void manager_drop(Manager *m) {
        m->supervisor = supervisor_free(m->supervisor);
        /* Reap what supervisor_free() killed. */
        while (m->children && sd_event_run(m->event, 100 * 1000) >= 0)
                ;
        children_done(m);
        m->event = sd_event_unref(m->event);
        config_done(&m->config);
}

static ServiceStatus status(Manager *m, size_t i) {
        ServiceStatus st;

        assert_int_equal(supervisor_get_status(m->supervisor, i, &st), 0);
        return st;
}

typedef bool (*Pred)(Manager *m, const void *arg);

static void run_until(Manager *m, Pred pred, const void *arg, const char *what) {
        for (int i = 0; i < 1000; i++) { /* ≤ 10 s */
                if (pred(m, arg))
                        return;
                assert_true(sd_event_run(m->event, 10 * 1000) >= 0);
        }
        fail_msg("timed out waiting for %s", what);
}

static bool all_ready(Manager *m, const void *arg) {
        char reason[128];
        return supervisor_chain_ready(m->supervisor, reason, sizeof reason);
}

static bool state_is(Manager *m, const void *arg) {
        const struct { size_t i; ServiceState s; } *a = arg;
        return status(m, a->i).state == a->s;
}

static bool restarted(Manager *m, const void *arg) {
        return status(m, *(const size_t *)arg).restarts > 0;
}

static bool flag_set(Manager *m, const void *arg) {
        return *(const bool *)arg;
}

static bool lines_in(Manager *m, const void *arg) {
        _cleanup_(freep) char *text = NULL;
        size_t n = 0;

        if (read_full_file(arg, 4096, &text, NULL) < 0)
                return false;
        for (char *c = text; *c; c++)
                n += *c == '\n';
        return n == 3;
}

static void on_done(void *userdata) {
        *(bool *)userdata = true;
}

/* A service that appends its name to dir/log when it gets SIGTERM. */
static char *logs_on_term(const char *name) {
        static char buf[8][512];
        static int k;
        char *b = buf[k++ % 8];

        snprintf(b, 512,
                 "{\"name\": \"%s\", \"argv\": [\"/bin/sh\", \"-c\", "
                 "\"trap 'echo %s >> %s/log; exit 0' TERM; echo %s >> %s/armed; while :; do sleep 1; done\"]",
                 name, name, dir, name, dir);
        return b;
}

static void test_order_restart_and_stop_all(void **state) {
        char json[2048], path[128], armed[128];
        _cleanup_(freep) char *log = NULL;
        Manager *m;
        ServiceStatus st;
        bool done = false;
        char reason[128];

        snprintf(json, sizeof json, "[%s}, %s, \"depends_on\": [\"base\"]}, %s, \"depends_on\": [\"mid\"]}]",
                 logs_on_term("base"), logs_on_term("mid"), logs_on_term("top"));
        m = manager_make(json, NULL);
        assert_int_equal(supervisor_new(m, &m->supervisor), 0);
        assert_int_equal(supervisor_n_services(m->supervisor), 3);
        assert_false(supervisor_chain_ready(m->supervisor, reason, sizeof reason));
        assert_string_equal(reason, "base: inactive");

        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        run_until(m, all_ready, NULL, "all ready");
        assert_true(changed > 0);
        st = status(m, 2);
        assert_string_equal(st.name, "top");
        assert_int_equal(st.state, SERVICE_READY);
        assert_true(st.pid > 0 && st.ready_boottime > 0);
        assert_int_equal(st.restarts, 0);
        assert_null(st.last_exit);
        assert_int_equal(supervisor_get_status(m->supervisor, 3, &st), -ERANGE);

        /* base dies: mid and top go down, then all come back, once. */
        pid_t old_top = status(m, 2).pid;
        snprintf(armed, sizeof armed, "%s/armed", dir);
        run_until(m, lines_in, armed, "three traps set");
        unlink(armed);
        assert_int_equal(kill(status(m, 0).pid, SIGKILL), 0);
        /* Not "top is WAITING": when top's shell exits after base and mid
         * are ready again, it goes from STOPPING straight to STARTING. */
        run_until(m, restarted, &(size_t){ 2 }, "top restarted");
        run_until(m, all_ready, NULL, "all ready again");
        assert_true(status(m, 0).ready_boottime <= status(m, 1).ready_boottime);
        assert_true(status(m, 1).ready_boottime <= status(m, 2).ready_boottime);
        assert_string_equal(status(m, 0).last_exit, "killed by SIGKILL");
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(status(m, i).restarts, 1);
        assert_true(status(m, 2).pid != old_top);
        assert_string_equal(status(m, 2).last_exit, "exited 0"); /* its trap ran */

        /* The new shells' traps are set; the log then only gets stop_all's order. */
        run_until(m, lines_in, armed, "three traps set again");
        snprintf(path, sizeof path, "%s/log", dir);
        unlink(path);

        assert_int_equal(supervisor_stop_all(m->supervisor, on_done, &done), 0);
        assert_int_equal(supervisor_stop_all(m->supervisor, on_done, &done), -EALREADY);
        run_until(m, flag_set, &done, "stop_all done");
        assert_int_equal(read_full_file(path, 4096, &log, NULL), 0);
        assert_string_equal(log, "top\nmid\nbase\n");
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(status(m, i).state, SERVICE_INACTIVE);
                assert_int_equal(status(m, i).pid, 0);
        }
        assert_int_equal(supervisor_start_all(m->supervisor), -ESHUTDOWN);
        manager_drop(m);
        unlink(path);
        unlink(armed);
}

static void test_budget_missing_and_on_demand(void **state) {
        static const char *const sets[] = { "restart_burst", "3", NULL };
        static const char json[] =
                "[{\"name\": \"crash\", \"argv\": [\"/bin/sh\", \"-c\", \"exit 4\"]},"
                " {\"name\": \"ghost\", \"argv\": [\"vmba-no-such-binary\"]},"
                " {\"name\": \"later\", \"argv\": [\"sleep\"], \"on_demand\": true}]";
        struct { size_t i; ServiceState s; } crash_failed = { 0, SERVICE_FAILED }, later_ready = { 2, SERVICE_READY },
                                               later_inactive = { 2, SERVICE_INACTIVE };
        char *extra[] = { (char *)"1000", NULL };
        char reason[128];
        bool done = false;
        Manager *m;

        m = manager_make(json, sets);
        assert_int_equal(supervisor_new(m, &m->supervisor), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        /* Not found: failed at once, synchronously, no retry. */
        assert_int_equal(status(m, 1).state, SERVICE_FAILED);
        assert_string_equal(status(m, 1).last_error, "vmba-no-such-binary: not found");
        run_until(m, state_is, &crash_failed, "crash failed");
        assert_int_equal(status(m, 0).restarts, 2);
        assert_string_equal(status(m, 0).last_exit, "exited 4");
        assert_string_equal(status(m, 0).last_error, "exited 4; gave up after 3 starts in 60 s");
        assert_false(supervisor_chain_ready(m->supervisor, reason, sizeof reason));
        assert_string_equal(reason, "crash: failed (exited 4; gave up after 3 starts in 60 s)");

        /* On demand: not started by start_all, started with extra argv. */
        assert_int_equal(status(m, 2).state, SERVICE_INACTIVE);
        assert_true(status(m, 2).on_demand);
        assert_int_equal(supervisor_start_service(m->supervisor, "nope", NULL), -ENOENT);
        assert_int_equal(supervisor_start_service(m->supervisor, "later", extra), 0);
        run_until(m, state_is, &later_ready, "later ready");
        assert_int_equal(supervisor_start_service(m->supervisor, "later", extra), -EALREADY);
        assert_int_equal(supervisor_stop_service(m->supervisor, "later"), 0);
        run_until(m, state_is, &later_inactive, "later stopped");
        assert_string_equal(status(m, 2).last_exit, "killed by SIGTERM");

        /* An explicit start of a failed service gets a fresh budget. */
        assert_int_equal(supervisor_start_service(m->supervisor, "crash", NULL), 0);
        assert_null(status(m, 0).last_error);
        run_until(m, state_is, &crash_failed, "crash failed again");
        assert_int_equal(status(m, 0).restarts, 5);

        assert_int_equal(supervisor_stop_all(m->supervisor, on_done, &done), 0);
        assert_true(done); /* nothing was running: done at once */
        assert_int_equal(status(m, 0).state, SERVICE_FAILED); /* keeps its reason */
        manager_drop(m);
}

/* The ready timeout counts time without progress: a start that keeps the
 * CPU busy gets the period again (up to 3 times), a blocked one fails at
 * the first expiry.  Nothing listens on the probed port, so neither is
 * ever ready. */
static void test_ready_timeout_extended_while_busy(void **state) {
        static const char *const sets[] = { "restart_burst", "1", "ready_timeout_ms", "300", NULL };
        static const char json[] =
                "[{\"name\": \"busy\", \"argv\": [\"/bin/sh\", \"-c\", \"while :; do :; done\"],"
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 1, \"expect\": \"RFB \"}},"
                " {\"name\": \"blocked\", \"argv\": [\"sleep\", \"100\"],"
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 1, \"expect\": \"RFB \"}}]";
        struct { size_t i; ServiceState s; } busy_failed = { 0, SERVICE_FAILED },
                                               blocked_failed = { 1, SERVICE_FAILED };
        Manager *m;

        m = manager_make(json, sets);
        assert_int_equal(supervisor_new(m, &m->supervisor), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        run_until(m, state_is, &blocked_failed, "blocked failed");
        assert_string_equal(status(m, 1).last_error,
                            "not ready after 300 ms: Connection refused; gave up after 1 starts in 60 s");
        run_until(m, state_is, &busy_failed, "busy failed");
        assert_string_equal(status(m, 0).last_error,
                            "not ready after 1200 ms (extended while busy): Connection refused; "
                            "gave up after 1 starts in 60 s");
        manager_drop(m);
}

static void test_bad_services_file(void **state) {
        Manager *m = manager_make("[{\"name\": \"a\", \"argv\": [\"x\"], \"oops\": 1}]", NULL);
        Supervisor *s = NULL;

        assert_int_equal(supervisor_new(m, &s), -EINVAL);
        assert_null(s);
        manager_drop(m);
        assert_null(supervisor_free(NULL));
}

static int setup(void **state) {
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state) {
        char p[128];

        snprintf(p, sizeof p, "%s/services.json", dir);
        unlink(p);
        rmdir(dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_restart_and_stop_all),
                cmocka_unit_test(test_budget_missing_and_on_demand),
                cmocka_unit_test(test_ready_timeout_extended_while_busy),
                cmocka_unit_test(test_bad_services_file),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
