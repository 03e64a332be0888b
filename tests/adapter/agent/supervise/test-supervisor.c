/* Tests of agent/supervise/supervisor.c (the adapter) without root and
 * without the rest of the agent: a hand-made harness (sd-event loop, the
 * child registry reaping on SIGCHLD, options) and small /bin/sh services
 * from a services file.  Covers start in dependency order, a dependency's restart
 * taking its dependents down and up again, the start budget, a missing
 * binary, on-demand start/stop, stop_all in reverse order with its done
 * callback, a failed service retried after its recovery delay (not once
 * its user is gone), an exit 127 retried as any exit, an exec that
 * fails in the child (a missing interpreter) retried as a failed spawn
 * and named in last_error, the ready
 * timeout extended only while a start is busy and then decided by the
 * restart policy as a failed start, a ready timeout that says the start
 * kept reaching its memory.max and reading back what was evicted (plain
 * files for its cgroup), and a READY service's line when it keeps doing
 * so (neither for a file cache given back), and its kill when it
 * thrashes so with its processes all stalled (PSI), restarts
 * counting processes (not
 * starts that found no binary), a service's last lines
 * logged when it starts again at once or everything is freed, closes
 * (quit_restarts) at once while it is used and backed off when it quits
 * by itself, and what a start answers while the service stops or backs
 * off after a failed spawn.  Also what the status accessors report.  The loop runs
 * until a condition holds, with a deadline that fails the test.
 *
 * Over 800 lines: every case drives the same hand-made harness, and a
 * split would copy it or hand it out through a header. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "agent/supervise/children.h"
#include "agent/supervise/supervisor.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "socket-util.h"
#include "tests/adapter/cgroup-plain.h"
#include "tests/unit/test-util.h"

/* The bound on each wait for the supervisor's children and services,
 * before it is scaled (test_deadline_usec()): 60 s at the default scale.
 * It only turns a hang into a failure naming the wait: not a timing
 * expectation. */
#define WAIT_USEC (20 * USEC_PER_SEC)

/* The running test's own directory: setup_test() makes it, teardown_test()
 * removes it. */
static char dir[sizeof "/tmp/test-supervisor-XXXXXX"];
static unsigned changed;

/* What the agent hands the supervisor, made by hand: a loop, the child
 * registry reaping on SIGCHLD, the options and the hooks. */
typedef struct Harness {
        sd_event *event;
        Children *children;
        SupervisorOptions o;
        Supervisor *supervisor;
} Harness;

/* The one harness (harness_make()); its event NULL once dropped. */
static Harness harness;

static void on_change(void *userdata) {
        changed++;
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        children_reap(userdata);
        return 0;
}

/* sets: option name, value, ... for the few options the tests change. */
static void harness_set(Harness *h, const char *key, const char *value) {
        uint32_t v = (uint32_t)strtoul(value, NULL, 10);

        if (streq(key, "restart_burst"))
                h->o.restart_burst = v;
        else if (streq(key, "ready_timeout_ms"))
                h->o.ready_timeout_ms = v;
        else if (streq(key, "backoff_ms"))
                h->o.backoff_initial_ms = h->o.backoff_max_ms = v;
        else if (streq(key, "failed_retry_s"))
                h->o.failed_retry_s = v;
        else if (streq(key, "memory_period_ms"))
                h->o.memory_period_ms = v;
        else if (streq(key, "memory_thrash_kill_ms"))
                h->o.memory_thrash_kill_ms = v;
        else
                fail_msg("unknown option %s", key);
}

static Harness *harness_make(const char *const *sets) {
        Harness *h = &harness;
        sigset_t ss;

        *h = (Harness){};
        h->o = (SupervisorOptions){
                .bin_path = "/usr/local/bin:/usr/bin:/bin", .restart_burst = 5, .restart_window_s = 60,
                .backoff_initial_ms = 2, .backoff_max_ms = 4, .ready_timeout_ms = 20000,
                .stop_timeout_ms = 5000,
        };
        for (; sets && *sets; sets += 2)
                harness_set(h, sets[0], sets[1]);
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        assert_int_equal(sd_event_new(&h->event), 0);
        assert_int_equal(children_new(&h->children), 0);
        assert_int_equal(sd_event_add_signal(h->event, NULL, SIGCHLD, on_sigchld, h->children), 0);
        h->o.event = h->event;
        h->o.children = h->children;
        return h;
}

static const char *const *test_secrets(void *userdata) {
        static const char *const secrets[] = { "s3cret-desktop-value", "s3cret-d", NULL };
        return secrets;
}

static int harness_start(Harness *h, const char *services_json) {
        _cleanup_(service_defs_done) ServiceDefs defs = {};
        SupervisorHooks hooks = { .on_change = on_change, .secrets = test_secrets };
        char err[256];
        int r;

        r = service_defs_from_json(services_json, &defs, err, sizeof err);
        if (r < 0)
                return r;
        return supervisor_new(&h->o, &defs, &hooks, &h->supervisor);
}

/* A harness with sets, its services (json) set up and all started. */
static Harness *harness_running(const char *const *sets, const char *json) {
        Harness *m = harness_make(sets);

        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        return m;
}

/* Every child reaped, then everything freed. */
static bool no_children(void) {
        siginfo_t si = {};
        return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

/* The pids of this process's children still there (running or not yet
 * reaped), for a failure's message; "?" where /proc does not say. */
static const char *children_left(void) {
        static char buf[256];
        char path[64];
        FILE *f;

        snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
        f = fopen(path, "re");
        if (!f || !fgets(buf, sizeof buf, f))
                snprintf(buf, sizeof buf, "?");
        if (f)
                fclose(f);
        return buf;
}

static void harness_drop(Harness *h) {
        TestWait w = test_wait_start(WAIT_USEC);

        h->supervisor = supervisor_free(h->supervisor);
        /* Reap what supervisor_free() killed: SIGCHLD arrives for each.  A
         * child it left running sends none, and the loop would wait for it
         * to the suite's timeout: the deadline names it instead. */
        while (!no_children()) {
                if (test_wait_left(&w) == 0)
                        fail_msg("children left running %llu s after supervisor_free(): %s", w.s,
                                 children_left());
                assert_true(sd_event_run(h->event, USEC_PER_SEC) >= 0);
        }
        h->children = children_free(h->children);
        h->event = sd_event_unref(h->event);
}

/* The harness a failed test left, dropped by its teardown.  cmocka's jump
 * out of the test restores the signal mask it saved as the test began:
 * for the first test that made a harness, with SIGCHLD unblocked, so the
 * exits since went by the signalfd (ignored) and harness_drop() would
 * wait for them to its deadline.  So SIGCHLD is blocked again and those
 * already exited reaped first. */
static void harness_unwind(Harness *h) {
        sigset_t ss;

        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        if (h->children)
                (void)children_reap(h->children);
        harness_drop(h);
}

static ServiceStatus status(Harness *m, size_t i) {
        ServiceStatus st;

        assert_int_equal(supervisor_get_status(m->supervisor, i, &st), 0);
        return st;
}

typedef bool (*Pred)(Harness *m, const void *arg);

/* Runs the loop until pred holds.  Most predicates follow loop events; the
 * file-based ones (a child's trap wrote its line) are checked every 10 ms.
 * The bound (WAIT_USEC, scaled) only keeps a broken build from hanging. */
static void run_until(Harness *m, Pred pred, const void *arg, const char *what) {
        /* A clock, not a count of turns: each turn ends at the next event,
         * and a busy loop (a child's output) would use turns up early. */
        TestWait w = test_wait_start(WAIT_USEC);

        while (!pred(m, arg)) {
                if (test_wait_left(&w) == 0)
                        fail_msg("timed out after %llu s waiting for %s", w.s, what);
                assert_true(sd_event_run(m->event, 10 * 1000) >= 0);
        }
}

static bool all_ready(Harness *m, const void *arg) {
        char reason[128];
        return supervisor_chain_ready(m->supervisor, reason, sizeof reason);
}

static bool state_is(Harness *m, const void *arg) {
        const struct { size_t i; ServiceState s; } *a = arg;
        return status(m, a->i).state == a->s;
}

static bool restarted(Harness *m, const void *arg) {
        return status(m, *(const size_t *)arg).restarts > 0;
}

static bool flag_set(Harness *m, const void *arg) {
        return *(const bool *)arg;
}

static size_t count_lines(const char *path) {
        _cleanup_(freep) char *text = NULL;
        size_t n = 0;

        if (read_full_file(path, 4096, &text, NULL) < 0)
                return 0;
        for (char *c = text; *c; c++)
                n += *c == '\n';
        return n;
}

static bool lines_in(Harness *m, const void *arg) {
        return count_lines(arg) == 3;
}

static bool two_lines_in(Harness *m, const void *arg) {
        return count_lines(arg) == 2;
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

/* stop_all of test_order_restart_and_stop_all's chain (top on mid on base):
 * dependents first (each trap logs its name in path), all inactive after;
 * a second stop_all meanwhile is refused, and so is a start after it. */
static void stop_all_in_reverse(Harness *m, const char *path) {
        _cleanup_(freep) char *log = NULL;
        bool done = false;

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
}

static void test_order_restart_and_stop_all(void **state) {
        char json[2048], path[128], armed[128];
        Harness *m;
        ServiceStatus st;
        char reason[128];

        snprintf(json, sizeof json, "[%s}, %s, \"depends_on\": [\"base\"]}, %s, \"depends_on\": [\"mid\"]}]",
                 logs_on_term("base"), logs_on_term("mid"), logs_on_term("top"));
        m = harness_make(NULL);
        assert_int_equal(harness_start(m, json), 0);
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

        stop_all_in_reverse(m, path);
        harness_drop(m);
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
        Harness *m;

        m = harness_running(sets, json);
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
        /* Its own start and 3 restarts after it: an asked-for start is not
         * in the budget. */
        assert_int_equal(status(m, 0).restarts, 6);

        assert_int_equal(supervisor_stop_all(m->supervisor, on_done, &done), 0);
        assert_true(done); /* nothing was running: done at once */
        assert_int_equal(status(m, 0).state, SERVICE_FAILED); /* keeps its reason */
        harness_drop(m);
}

/* The ready timeout counts time without progress: a start that keeps the
 * CPU busy gets the period again (up to 3 times), a blocked one fails at
 * the first expiry.  Nothing listens on the probed port, so neither is
 * ever ready. */
static void test_ready_timeout_extended_while_busy(void **state) {
        /* A period long enough that the loop gets the CPU time that counts
         * as busy (READY_BUSY_MIN_USEC, 2 % of it) on a loaded machine. */
        static const char *const sets[] = { "restart_burst", "1", "ready_timeout_ms", "1000", NULL };
        static const char json[] =
                "[{\"name\": \"busy\", \"argv\": [\"/bin/sh\", \"-c\", \"while :; do :; done\"],"
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 1, \"expect\": \"RFB \"}},"
                " {\"name\": \"blocked\", \"argv\": [\"sleep\", \"100\"],"
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 1, \"expect\": \"RFB \"}}]";
        struct { size_t i; ServiceState s; } busy_failed = { 0, SERVICE_FAILED },
                                               blocked_failed = { 1, SERVICE_FAILED };
        Harness *m;

        m = harness_running(sets, json);
        run_until(m, state_is, &blocked_failed, "blocked failed");
        assert_string_equal(status(m, 1).last_error,
                            "not ready after 1000 ms: Connection refused; gave up after 1 starts in 60 s");
        run_until(m, state_is, &busy_failed, "busy failed");
        /* Extended at least once; three times unless the machine is so
         * loaded that a period passed with the loop barely on a CPU. */
        unsigned ms = 0;
        char rest[160] = "";
        assert_int_equal(sscanf(status(m, 0).last_error, "not ready after %u ms %159[^\n]", &ms, rest), 2);
        assert_true(ms == 2000 || ms == 3000 || ms == 4000);
        assert_string_equal(rest, "(extended while busy): Connection refused; gave up after 1 starts in 60 s");
        harness_drop(m);
}

/* A start still busy when its last period ends (a slow machine, not a
 * hang) gives the service's later starts twice the periods.  The child
 * needs 2.25 s of CPU before it says it is ready: more than one process
 * can get in the 4 periods of 500 ms of a first start, so only a later,
 * longer start can get there. */
static void test_ready_timeout_doubles_after_busy_start(void **state) {
        static const char *const sets[] = { "restart_burst", "0", "ready_timeout_ms", "500", NULL };
        static const char json[] =
                "[{\"name\": \"slow\", \"probe\": {\"type\": \"fd-line\"},"
                "  \"argv\": [\"/usr/bin/python3\", \"-c\", \"import os, time\\n"
                "while time.process_time() < 2.25: pass\\nos.write(3, b'ready\\\\n')\\ntime.sleep(100)\"]}]";
        struct { size_t i; ServiceState s; } slow_ready = { 0, SERVICE_READY };
        Harness *m;

        m = harness_running(sets, json);
        run_until(m, state_is, &slow_ready, "slow ready");
        assert_true(status(m, 0).restarts >= 1);
        harness_drop(m);
}

/* Left alone or started again: the first of inactive, failed, or a
 * restart, so that a wrong turn fails the test at once. */
static bool settled(Harness *m, const void *arg) {
        ServiceStatus st = status(m, *(const size_t *)arg);

        return st.state == SERVICE_INACTIVE || st.state == SERVICE_FAILED || st.restarts > 0;
}

/* A start not ready in time is a failed start, which the restart policy
 * decides as it does an exit before ready: with "never" the service stays
 * down (inactive, as after such an exit) with the timeout as its error,
 * and no retry is coming; with "on-failure" it is started again, though
 * its exit after our SIGTERM was a clean one.  Nothing listens on the
 * probed port, and neither keeps the CPU busy (no extension). */
static void test_ready_timeout_restart_policy(void **state) {
        static const char *const sets[] = { "ready_timeout_ms", "200", "failed_retry_s", "1", NULL };
        static const char json[] =
                "[{\"name\": \"never\", \"argv\": [\"sleep\", \"100\"], \"restart\": \"never\","
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 1, \"expect\": \"RFB \"}},"
                " {\"name\": \"clean\", \"restart\": \"on-failure\", \"argv\": [\"/bin/sh\", \"-c\","
                "  \"trap 'exit 0' TERM; while :; do sleep 0.1; done\"],"
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 1, \"expect\": \"RFB \"}}]";
        Harness *m;

        m = harness_running(sets, json);
        run_until(m, settled, &(size_t){ 0 }, "never settled");
        assert_int_equal(status(m, 0).state, SERVICE_INACTIVE);
        assert_int_equal(status(m, 0).restarts, 0);
        assert_int_equal(status(m, 0).pid, 0);
        assert_int_equal(status(m, 0).retry_in, 0);
        assert_string_equal(status(m, 0).last_exit, "killed by SIGTERM");
        assert_string_equal(status(m, 0).last_error, "not ready after 200 ms: Connection refused");

        run_until(m, settled, &(size_t){ 1 }, "clean settled");
        assert_int_equal(status(m, 1).restarts, 1);
        harness_drop(m);
}

/* <in>/<file> holds text, written in place: a change inotify tells of,
 * as the kernel's of memory.events (each written before the loop runs
 * the read it is for: never read half written). */
static void put_file(const char *in, const char *file, const char *text) {
        assert_int_equal(test_plain_put(in, file, text), 0);
}

/* <svc>/memory.stat with refaults pages read back after eviction: as
 * Linux 5.9 and later have it (anon and file apart, 3 of them anon, the
 * other keys' values of no use here), or before (one count). */
static void put_memory_stat(const char *svc, bool old_kernel, int refaults) {
        char text[256];

        if (old_kernel)
                snprintf(text, sizeof text, "anon 1048576\nfile 33030144\nworkingset_refault %d\n"
                         "workingset_activate 0\nworkingset_nodereclaim 0\n", refaults);
        else
                snprintf(text, sizeof text, "anon 1048576\nfile 33030144\nworkingset_refault_anon 3\n"
                         "workingset_refault_file %d\nworkingset_activate_anon 0\nworkingset_activate_file 0\n",
                         refaults - 3);
        put_file(svc, "memory.stat", text);
}

/* <svc>/memory.events with "max" at reclaims. */
static void put_memory_events(const char *svc, int reclaims) {
        char text[128];

        snprintf(text, sizeof text, "low 0\nhigh 0\nmax %d\noom 0\noom_kill 0\noom_group_kill 0\n", reclaims);
        put_file(svc, "memory.events", text);
}

/* What a test may leave when it fails midway (cmocka jumps out of it),
 * made by one of the setups below and undone by teardown_test(), also
 * after a failure: the harness with its services running (the next
 * test's harness_drop() would wait for them to its deadline and fail
 * too), a child of the test's own (the same), its log (stderr into
 * <dir>/stderr, where cmocka's message and summary would go for every
 * test after it, at the level it set) and a cgroup base of plain files
 * (left in /tmp). */
typedef struct Fixture {
        char base[sizeof "/tmp/test-supervisor-cg-XXXXXX"]; /* "": none */
        char svc[PATH_MAX];     /* <base>/mem.service */
        char logpath[128];      /* the log's file, "": not logged */
        int saved;              /* stderr before, -1: not redirected */
        int level;              /* the log level before */
        pid_t child;            /* a child the test forked, 0: none */
        bool done;              /* the test reached its end */
} Fixture;

static int setup_test(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        if (!f)
                return -1;
        snprintf(dir, sizeof dir, "/tmp/test-supervisor-XXXXXX");
        if (!mkdtemp(dir)) {
                fprintf(stderr, "cannot make %s: %m\n", dir);
                free(f);
                return -1;
        }
        *f = (Fixture){ .saved = -1, .level = log_get_max_level() };
        *state = f;
        return 0;
}

/* What a setup made, removed when it fails after setup_test(): cmocka runs
 * no teardown then. */
static int setup_fail(Fixture *f) {
        if (f->base[0] && test_plain_remove(f->base) < 0)
                fprintf(stderr, "cannot remove %s\n", f->base);
        if (rmdir(dir) < 0)
                fprintf(stderr, "cannot remove %s: %m\n", dir);
        free(f);
        return -1;
}

/* stderr into <dir>/stderr: 0, or -errno with nothing redirected (for a
 * setup to fail cleanly: cmocka runs no teardown after that). */
static int log_redirect(Fixture *f) {
        _cleanup_(closep) int fd = -EBADF;
        int r = 0;

        snprintf(f->logpath, sizeof f->logpath, "%s/stderr", dir);
        fd = open(f->logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                r = -errno;
        else {
                fflush(stderr);
                f->saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
                if (f->saved < 0 || dup2(fd, STDERR_FILENO) < 0)
                        r = -errno;
        }
        if (r < 0) {
                fprintf(stderr, "cannot log into %s: %s\n", f->logpath, strerror(-r));
                f->saved = safe_close(f->saved);
                (void)unlink(f->logpath);
                f->logpath[0] = '\0';
        }
        return r;
}

/* A test whose log goes into <dir>/stderr (f->logpath). */
static int setup_logged(void **state) {
        if (setup_test(state) < 0)
                return -1;
        return log_redirect(*state) < 0 ? setup_fail(*state) : 0;
}

/* A memory test: its cgroup base of plain files (f->base, f->svc). */
static int memory_setup(void **state) {
        Fixture *f;

        if (setup_test(state) < 0)
                return -1;
        f = *state;
        snprintf(f->base, sizeof f->base, "/tmp/test-supervisor-cg-XXXXXX");
        if (!mkdtemp(f->base)) {
                fprintf(stderr, "cannot make %s: %m\n", f->base);
                f->base[0] = '\0';
                return setup_fail(f);
        }
        snprintf(f->svc, sizeof f->svc, "%s/mem.service", f->base);
        return 0;
}

/* A memory test logged at debug level; the base removed when the log
 * cannot be had. */
static int memory_logged_setup(void **state) {
        Fixture *f;

        if (memory_setup(state) < 0)
                return -1;
        f = *state;
        if (log_redirect(f) < 0)
                return setup_fail(f);
        log_set_max_level(LOG_DEBUG);
        return 0;
}

/* A test that did not reach its end (failed or skipped): its log,
 * cmocka's message last, copied to the test log. */
static void log_show(const Fixture *f) {
        _cleanup_(freep) char *log = NULL;

        if (read_full_file(f->logpath, 1 << 20, &log, NULL) == 0)
                fprintf(stderr, "The log of the test that did not reach its end (%s):\n%s", f->logpath, log);
}

static int dir_entry_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        if (ftw->level > 0)
                fprintf(stderr, "left in the test's directory: %s\n", path);
        return remove(path) < 0 ? -errno : 0;
}

/* The test's directory removed.  Each test removes what it put there:
 * anything left (the test failed midway, or a service wrote after the
 * test removed its file) is named, removed with it and fails the test,
 * rather than going unnoticed or into the next test (a file of a trap's
 * lines that a test counts). */
static int dir_remove(void) {
        if (rmdir(dir) == 0)
                return 0;
        fprintf(stderr, "cannot remove %s: %m\n", dir);
        (void)nftw(dir, dir_entry_remove, 16, FTW_DEPTH | FTW_PHYS);
        return -1;
}

/* Undone in the reverse order: the log first, then the test's child and
 * a harness it left (their processes killed and reaped), then the base
 * and the test's directory. */
static int teardown_test(void **state) {
        Fixture *f = *state;
        int r = 0;

        log_set_max_level(f->level);
        if (f->saved >= 0) {
                fflush(stderr);
                dup2(f->saved, STDERR_FILENO);
                f->saved = safe_close(f->saved);
                if (!f->done)
                        log_show(f);
        }
        if (f->logpath[0])
                unlink(f->logpath);
        if (f->child > 0) {
                (void)kill(f->child, SIGKILL);
                (void)waitpid(f->child, NULL, 0);
        }
        if (harness.event)
                harness_unwind(&harness);
        if (f->base[0] && test_plain_remove(f->base) < 0) {
                fprintf(stderr, "cannot remove %s\n", f->base);
                r = -1;
        }
        if (dir_remove() < 0)
                r = -1;
        free(f);
        return r;
}

/* f's mem.service made with the memory controller's files, memory.events
 * counting 7 and memory.stat 40 refaults (what an agent before counted
 * there). */
static void memory_service_make(Fixture *f, bool old_kernel) {
        assert_int_equal(mkdir(f->svc, 0755), 0);
        assert_int_equal(test_plain_memory_files(f->svc), 0);
        put_memory_events(f->svc, 7);
        put_memory_stat(f->svc, old_kernel, 40);
}

/* A start at its memory.max is not killed but crawls on, the kernel
 * reclaiming in its cgroup and the service reading back what it evicted
 * (memory.events' "max" and memory.stat's refaults rising): its ready
 * timeout's error says so, naming the setting that gave the limit (want
 * its end, after the probe's error); "max" rising alone (a limit full of
 * file cache, given back cheaply) says nothing.  The cgroup base is plain
 * files in a directory, as the kernel's look (no cgroup2, no memory
 * controller needed): the test counts what the kernel would, between the
 * spawn and the loop's next turn, where the timer fires. */
static void ready_timeout_at_memory_max(Fixture *f, int refaults, const char *want) {
        static const char *const sets[] = { "ready_timeout_ms", "200", NULL };
        static const char json[] =
                "[{\"name\": \"mem\", \"argv\": [\"sleep\", \"100\"], \"restart\": \"never\", \"memory_max_mb\": 32,"
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 1, \"expect\": \"RFB \"}}]";
        char svc[PATH_MAX], error[512], *max = NULL;
        Harness *m = harness_make(sets);

        /* What an agent before counted there is not this start's. */
        memory_service_make(f, false);
        snprintf(svc, sizeof svc, "%s", f->svc);
        m->o.cgroup_base = f->base;
        m->o.memory = true;
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        assert_true(status(m, 0).pid > 0);
        snprintf(svc + strlen(svc), sizeof svc - strlen(svc), "/memory.max");
        assert_int_equal(read_full_file(svc, 64, &max, NULL), 0);
        assert_string_equal(max, "33554432");
        free(max);
        svc[strlen(svc) - strlen("/memory.max")] = '\0';
        put_file(svc, "memory.events", "low 0\nhigh 0\nmax 48220\noom 0\noom_kill 0\noom_group_kill 0\n");
        put_memory_stat(svc, false, refaults);
        run_until(m, settled, &(size_t){ 0 }, "mem settled");
        assert_int_equal(status(m, 0).state, SERVICE_INACTIVE);
        snprintf(error, sizeof error, "not ready after 200 ms: Connection refused%s", want);
        assert_string_equal(status(m, 0).last_error, error);
        harness_drop(m);
        f->done = true;
}

static void test_ready_timeout_at_memory_max(void **state) {
        ready_timeout_at_memory_max(*state, 9045, "; at its memory.max 32 MiB: the kernel reclaimed its memory "
                                                  "48213 times since it started and read back 9005 pages it had "
                                                  "evicted, its code too, as it runs; raise its memory_max_mb in the "
                                                  "services_file");
}

/* Its limit full of file cache: "max" as high, no refaults since the
 * start (those before it not counted). */
static void test_ready_timeout_at_memory_max_cache(void **state) {
        ready_timeout_at_memory_max(*state, 40, "");
}

/* argv[n] of a running process, or "" (read from /proc/pid/cmdline). */
static void proc_arg(pid_t pid, size_t n, char *buf, size_t size) {
        char path[64], cmdline[256] = "";
        size_t len = 0, at = 0;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        f = fopen(path, "re");
        if (f) {
                len = fread(cmdline, 1, sizeof cmdline - 1, f);
                fclose(f);
        }
        for (size_t i = 0; i < n && at < len; i++)
                at += strlen(cmdline + at) + 1;
        snprintf(buf, size, "%s", at < len ? cmdline + at : "");
}

/* The first service's running process has exec'd with argv[1] == arg. */
static bool first_arg_is(Harness *m, const void *arg) {
        char got[32];
        pid_t pid = status(m, 0).pid;

        if (pid <= 0)
                return false;
        proc_arg(pid, 1, got, sizeof got);
        return streq(got, arg);
}

/* What a restart appends is set apart from the start (a browser's pages
 * change after it started): a crash restarts with the new arguments, a
 * start asked for with its own. */
static void test_restart_argv(void **state) {
        static const char json[] = "[{\"name\": \"later\", \"argv\": [\"sleep\"], \"on_demand\": true}]";
        struct { size_t i; ServiceState s; } inactive = { 0, SERVICE_INACTIVE };
        char *first[] = { (char *)"1001", NULL }, *then[] = { (char *)"1002", NULL }, *asked[] = { (char *)"1003", NULL };
        Harness *m;

        m = harness_make(NULL);
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_set_restart_argv(m->supervisor, "nope", then), -ENOENT);
        assert_int_equal(supervisor_start_service(m->supervisor, "later", first), 0);
        run_until(m, first_arg_is, "1001", "later running with its start's argument");
        assert_int_equal(supervisor_set_restart_argv(m->supervisor, "later", then), 0);
        assert_int_equal(kill(status(m, 0).pid, SIGKILL), 0);
        run_until(m, restarted, &(size_t){ 0 }, "later restarted");
        run_until(m, first_arg_is, "1002", "later restarted with the new argument");
        /* None: the bare argv (sleep with no argument exits at once). */
        assert_int_equal(supervisor_set_restart_argv(m->supervisor, "later", NULL), 0);
        assert_int_equal(supervisor_stop_service(m->supervisor, "later"), 0);
        run_until(m, state_is, &inactive, "later stopped");
        assert_int_equal(supervisor_start_service(m->supervisor, "later", asked), 0);
        run_until(m, first_arg_is, "1003", "later started with the argument asked for");
        harness_drop(m);
}

static void test_bad_services_file(void **state) {
        Harness *m = harness_make(NULL);

        assert_int_equal(harness_start(m, "[{\"name\": \"a\", \"argv\": [\"x\"], \"oops\": 1}]"), -EINVAL);
        assert_null(m->supervisor);
        harness_drop(m);
        assert_null(supervisor_free(NULL));
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* A unix socket bound at path, listening or not (a dead server's). */
static int bound_socket(const char *path, bool listening) {
        struct sockaddr_un sa;
        int len = sockaddr_un_set(&sa, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0 && len > 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, (socklen_t)len), 0);
        if (listening)
                assert_int_equal(listen(fd, 1), 0);
        return fd;
}

static void test_stale_lock(void **state) {
        char path[64], sock[64], got[64] = "", text[32];

        snprintf(path, sizeof path, "%s/.X4242-lock", dir);
        snprintf(sock, sizeof sock, "%s/X4242", dir);
        assert_int_equal(supervisor_remove_stale_lock(path, dir, getuid(), got, sizeof got), 0); /* absent */

        /* Our own pid is alive: kept, and its socket with it. */
        snprintf(text, sizeof text, "%10d\n", (int)getpid());
        write_text(path, text);
        write_text(sock, "");
        assert_int_equal(supervisor_remove_stale_lock(path, dir, getuid(), got, sizeof got), 0);
        assert_int_equal(access(path, F_OK), 0);
        assert_int_equal(access(sock, F_OK), 0);

        /* A live pid in a lock of another user's (any user may write one in
         * the sticky /tmp while the server is down), or behind a symlink:
         * not believed, the lock goes (the live socket beside it is ours). */
        if (getuid() == 0) { /* only root can give it away */
                assert_int_equal(chown(path, 65534, 65534), 0);
                assert_int_equal(supervisor_remove_stale_lock(path, dir, 3, got, sizeof got),
                                 STALE_LOCK_REMOVED | STALE_SOCKET_REMOVED);
                assert_int_equal(access(path, F_OK), -1);
                write_text(path, text);
                write_text(sock, "");
        }
        {
                char target[80];

                snprintf(target, sizeof target, "%s/lock-target", dir);
                write_text(target, text);
                assert_int_equal(unlink(path), 0);
                assert_int_equal(symlink(target, path), 0);
                assert_int_equal(supervisor_remove_stale_lock(path, dir, getuid(), got, sizeof got),
                                 STALE_LOCK_REMOVED | STALE_SOCKET_REMOVED);
                assert_int_equal(access(target, F_OK), 0); /* the link went, not what it names */
                assert_int_equal(unlink(target), 0);
                write_text(path, text);
                write_text(sock, "");
        }

        /* pid_max is at most 2^22: this one cannot exist.  Both go. */
        write_text(path, "   9999999\n");
        assert_int_equal(supervisor_remove_stale_lock(path, dir, getuid(), got, sizeof got),
                         STALE_LOCK_REMOVED | STALE_SOCKET_REMOVED);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(access(sock, F_OK), -1);
        assert_string_equal(got, sock);

        /* A stale lock alone. */
        write_text(path, "   9999999\n");
        assert_int_equal(supervisor_remove_stale_lock(path, dir, getuid(), got, sizeof got), STALE_LOCK_REMOVED);

        /* Not an X lock's name: the lock only. */
        snprintf(path, sizeof path, "%s/lock", dir);
        write_text(path, "   9999999\n");
        assert_int_equal(supervisor_remove_stale_lock(path, dir, getuid(), got, sizeof got), STALE_LOCK_REMOVED);
}

/* A lock of the server's user's naming a live process of another user's:
 * the dead server's pid, since reused.  It goes, with its socket.  Only
 * root can be another user. */
static void test_stale_lock_reused_pid(void **state) {
        Fixture *f = *state;
        char path[64], sock[64], got[64] = "", reused[32], c;
        int sync[2];
        pid_t other;

        if (getuid() != 0)
                skip();
        snprintf(path, sizeof path, "%s/.X4242-lock", dir);
        snprintf(sock, sizeof sock, "%s/X4242", dir);
        assert_int_equal(pipe2(sync, O_CLOEXEC), 0);
        other = fork();
        assert_true(other >= 0);
        if (other == 0) {
                /* The user first, then the death signal (a change of user
                 * clears it): gone with the test. */
                if (setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0 &&
                    prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && write(sync[1], "u", 1) == 1)
                        pause();
                _exit(1);
        }
        f->child = other; /* killed by the teardown if the test fails */
        safe_close(sync[1]);
        assert_int_equal(read(sync[0], &c, 1), 1); /* the child is that user now */
        safe_close(sync[0]);
        snprintf(reused, sizeof reused, "%10d\n", (int)other);
        write_text(path, reused);
        write_text(sock, "");
        assert_int_equal(supervisor_remove_stale_lock(path, dir, 3, got, sizeof got),
                         STALE_LOCK_REMOVED | STALE_SOCKET_REMOVED);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(kill(other, SIGKILL), 0);
        assert_int_equal(waitpid(other, NULL, 0), other);
        f->child = 0;
}

static void test_stale_socket(void **state) {
        char path[64], sock[64], got[64] = "";
        int fd;

        snprintf(path, sizeof path, "%s/.X4242-lock", dir);
        snprintf(sock, sizeof sock, "%s/X4242", dir);

        /* No lock (-displayfd writes none): what is in the socket's place
         * goes unless a server accepts connections on it. */
        write_text(sock, "a file another user put there");
        got[0] = '\0';
        assert_int_equal(supervisor_remove_stale_lock(path, dir, getuid(), got, sizeof got), STALE_SOCKET_REMOVED);
        assert_int_equal(access(sock, F_OK), -1);
        assert_string_equal(got, sock);

        fd = bound_socket(sock, false);
        assert_int_equal(supervisor_remove_stale_lock(path, dir, getuid(), got, sizeof got), STALE_SOCKET_REMOVED);
        assert_int_equal(access(sock, F_OK), -1);
        safe_close(fd);

        /* A live server: kept when it is root's or the X server's own
         * (ours, root: both), another user's goes (a non-root X server
         * could not bind over it, and clients must not reach it). */
        fd = bound_socket(sock, true);
        assert_int_equal(supervisor_remove_stale_lock(path, dir, getuid(), got, sizeof got), 0);
        assert_int_equal(access(sock, F_OK), 0);
        if (getuid() == 0) { /* only root can give it away */
                assert_int_equal(chown(sock, 65534, 65534), 0);
                assert_int_equal(supervisor_remove_stale_lock(path, dir, 3, got, sizeof got), STALE_SOCKET_REMOVED);
                assert_int_equal(access(sock, F_OK), -1);
        } else
                assert_int_equal(unlink(sock), 0);
        safe_close(fd);
}

static bool file_has(Harness *m, const void *arg) {
        const char *const *a = arg; /* path, needle */
        _cleanup_(freep) char *text = NULL;

        return read_full_file(a[0], 1 << 20, &text, NULL) >= 0 && strstr(text, a[1]);
}

/* supervisor_restart_service(): a restart takes the service and its
 * dependent down and up again, in order, at once: with a backoff of ten
 * minutes, anything that went through BACKOFF would never come back in
 * time.  Not a failure: no last_error. */
static void test_restart_service(void **state) {
        static const char *const sets[] = { "backoff_ms", "600000", NULL };
        char json[2048], armed[128];
        Harness *m;

        snprintf(json, sizeof json, "[%s}, %s, \"depends_on\": [\"base\"]}]", logs_on_term("base"),
                 logs_on_term("dep"));
        m = harness_make(sets);
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_restart_service(m->supervisor, "base"), 0); /* not running: nothing */
        assert_int_equal(status(m, 0).state, SERVICE_INACTIVE);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        run_until(m, all_ready, NULL, "all ready");
        snprintf(armed, sizeof armed, "%s/armed", dir);
        run_until(m, two_lines_in, armed, "traps set");
        unlink(armed); /* the restarted shells write it again */
        pid_t base = status(m, 0).pid, dep = status(m, 1).pid;

        assert_int_equal(supervisor_restart_service(m->supervisor, "nope"), -ENOENT);
        assert_int_equal(supervisor_restart_service(m->supervisor, "base"), 0);
        assert_int_equal(status(m, 0).state, SERVICE_STOPPING);
        assert_int_equal(status(m, 1).state, SERVICE_STOPPING);
        run_until(m, restarted, &(size_t){ 1 }, "dep restarted");
        run_until(m, all_ready, NULL, "all ready again");
        assert_true(status(m, 0).pid != base && status(m, 1).pid != dep);
        assert_int_equal(status(m, 0).restarts, 1);
        assert_string_equal(status(m, 0).last_exit, "exited 0"); /* its trap ran: SIGTERM */
        assert_null(status(m, 0).last_error);
        assert_true(status(m, 0).ready_boottime <= status(m, 1).ready_boottime);
        /* Ready is at the spawn: a new shell may not have written armed
         * yet, and would write it after its removal, leaving the test's
         * directory behind.  Removed once both did. */
        run_until(m, two_lines_in, armed, "traps set again");
        unlink(armed);
        harness_drop(m);
        snprintf(armed, sizeof armed, "%s/log", dir);
        unlink(armed);
}

static bool file_has_twice(Harness *m, const void *arg) {
        const char *const *a = arg; /* path, needle */
        _cleanup_(freep) char *text = NULL;
        const char *p;

        return read_full_file(a[0], 1 << 20, &text, NULL) >= 0 && (p = strstr(text, a[1])) &&
               strstr(p + 1, a[1]);
}

/* What a service says as it goes is logged, also when it starts again in
 * the same turn of the loop as its exit (a restart, here) and when
 * everything is freed after its exit (the agent's stop): its output is
 * read at idle priority, after the exit.  Its exit and its last line are
 * both pending before the loop runs (waitid() without reaping), so the
 * order is the one a busy agent sees. */
static void test_last_words_logged(void **state) {
        static const char json[] =
                "[{\"name\": \"talker\", \"argv\": [\"/bin/sh\", \"-c\","
                "  \"trap 'echo last words $$; exit 0' TERM; echo armed; while :; do sleep 1; done\"]}]";
        struct { size_t i; ServiceState s; } ready = { 0, SERVICE_READY };
        Fixture *f = *state;
        const char *logpath = f->logpath;
        char words[64];
        siginfo_t si = {};
        pid_t pid;
        Harness *m;

        m = harness_running(NULL, json);
        run_until(m, file_has, (const char *const[]){ logpath, "talker: armed" }, "its trap set");

        pid = status(m, 0).pid;
        assert_int_equal(supervisor_restart_service(m->supervisor, "talker"), 0);
        assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
        run_until(m, restarted, &(size_t){ 0 }, "talker restarted");
        run_until(m, state_is, &ready, "talker ready again");
        snprintf(words, sizeof words, "talker: last words %d\n", (int)pid);
        run_until(m, file_has, (const char *const[]){ logpath, words }, "the first one's last line");

        run_until(m, file_has_twice, (const char *const[]){ logpath, "talker: armed" }, "its trap set again");
        pid = status(m, 0).pid;
        assert_int_equal(kill(pid, SIGTERM), 0);
        assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
        harness_drop(m);
        snprintf(words, sizeof words, "talker: last words %d\n", (int)pid);
        assert_true(file_has(NULL, (const char *const[]){ logpath, words }));
        f->done = true;
}

/* The line a read that found "max" risen ends with (memory_period_ms 50). */
#define MEMORY_AGAIN "Service mem: reached its memory.max, reading memory.events again in 50 ms."

/* m started with json's service "mem" in f's plain-file cgroup: READY,
 * then a first rise of its "max" read (which begins a run). */
static void memory_service_ready(Fixture *f, Harness *m, const char *json) {
        m->o.cgroup_base = f->base;
        m->o.memory = true;
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        assert_int_equal(status(m, 0).state, SERVICE_READY);
        put_memory_events(f->svc, 107);
        run_until(m, file_has, (const char *const[]){ f->logpath, MEMORY_AGAIN }, "the first rise read");
}

/* A service READY at its memory.max, not killed but crawling on as the
 * kernel reclaims in its cgroup and reads back what it evicted
 * (memory.events' "max" and memory.stat's refaults rising): one rise of
 * "max" begins a run; a period later (memory_period_ms) "max" rose
 * without refaults (its limit full of file cache, given back cheaply):
 * nothing said; a period after that both rose: the log says so, how
 * often and how many since the read before, and the setting to raise.
 * The cgroup base is plain files, as in
 * test_ready_timeout_at_memory_max; each rise is written once the read
 * before was (its debug line), before the loop runs again: the timer that
 * reads it cannot fire before it, however slow the machine. */
static void ready_at_memory_max(Fixture *f, bool old_kernel) {
        static const char *const sets[] = { "memory_period_ms", "50", NULL };
        static const char json[] =
                "[{\"name\": \"mem\", \"argv\": [\"sleep\", \"100\"], \"memory_max_mb\": 32}]";
        const char *svc = f->svc, *logpath = f->logpath;
        Harness *m = harness_make(sets);

        memory_service_make(f, old_kernel);
        memory_service_ready(f, m, json);
        put_memory_events(svc, 24107);
        run_until(m, file_has_twice, (const char *const[]){ logpath, MEMORY_AGAIN }, "the read a period later");
        assert_false(file_has(m, (const char *const[]){ logpath, "is at its memory.max" }));
        put_memory_events(svc, 48220);
        put_memory_stat(svc, old_kernel, 9045);
        run_until(m, file_has,
                  (const char *const[]){ logpath, "Service mem is at its memory.max 32 MiB: the kernel reclaimed its "
                                                  "memory 24113 times in the last " }, "the line");
        assert_true(file_has(m, (const char *const[]){ logpath, " s and read back 9005 pages it had evicted, its "
                                                               "code too, as it runs; raise its memory_max_mb in "
                                                               "the services_file.\n" }));
        assert_int_equal(status(m, 0).state, SERVICE_READY);
        harness_drop(m);
        f->done = true;
}

static void test_ready_at_memory_max(void **state) {
        ready_at_memory_max(*state, false);
}

/* Before Linux 5.9 memory.stat counts refaults as one: read too. */
static void test_ready_at_memory_max_old_kernel(void **state) {
        ready_at_memory_max(*state, true);
}

static bool restarts_reached(Harness *m, const void *arg) {
        const struct { size_t i; unsigned n; } *a = arg;
        return status(m, a->i).restarts >= a->n;
}

static bool restarted_ready(Harness *m, const void *arg) {
        ServiceStatus st = status(m, 0);

        return st.restarts >= 1 && st.state == SERVICE_READY;
}

/* Whether a[0]'s text has a[1], then a number, then a[2] at once: the
 * kill's seconds (its span rounded) depend on how soon the loop ran the
 * timer's read, however slow the machine. */
static bool file_has_around(Harness *m, const void *arg) {
        const char *const *a = arg; /* path, before, after */
        _cleanup_(freep) char *text = NULL;

        if (read_full_file(a[0], 1 << 20, &text, NULL) < 0)
                return false;
        for (const char *p = strstr(text, a[1]); p; p = strstr(p + 1, a[1])) {
                const char *q = p + strlen(a[1]);

                q += strspn(q, "0123456789");
                if (q > p + strlen(a[1]) && strncmp(q, a[2], strlen(a[2])) == 0)
                        return true;
        }
        return false;
}

/* thrash_kill()'s service killed for it and started again, saying why. */
static void check_thrash_killed(Harness *m, const char *logpath) {
        static const char reason[] = "killed by the agent: thrashing at its memory.max 32 MiB for ";
        static const char reason_end[] = " s (read back 9005 evicted pages)";
        const char *last_exit;

        run_until(m, restarted_ready, NULL, "the restart after the kill");
        last_exit = status(m, 0).last_exit;
        assert_memory_equal(last_exit, reason, strlen(reason));
        last_exit += strlen(reason) + strspn(last_exit + strlen(reason), "0123456789");
        assert_string_equal(last_exit, reason_end);
        assert_true(file_has_around(m, (const char *const[]){ logpath, "Service mem thrashed at its memory.max 32 "
                                                                       "MiB for ",
                                                              " s: the kernel reclaimed its memory 24000 times and "
                                                              "read back 9005 pages it had evicted, its processes "
                                                              "all waiting for memory 92.50% of the last 10 s "
                                                              "(memory.pressure full avg10); killing it "
                                                              "(memory_thrash_kill_s), raise its memory_max_mb in "
                                                              "the services_file.\n" }));
        assert_true(file_has_around(m, (const char *const[]){ logpath, ") killed by the agent: thrashing at its "
                                                                       "memory.max 32 MiB for ",
                                                              " s (read back 9005 evicted pages).\n" }));
}

/* A service READY at its memory.max, thrashing: one rise of "max" begins
 * a run; a period later (memory_period_ms) both "max" and the refaults
 * rose, and memory.pressure (pressure: its text, NULL: no PSI) says how
 * long all its processes waited for memory.  Past memory_thrash_kill_ms
 * (one period) with "full avg10" above 10% it is killed, all of it,
 * and restarted, its last_exit saying why; at most 10%, or without PSI, it
 * is not (the line of test_ready_at_memory_max only, at the read that
 * would have killed it).  oom: the kernel's OOM kills its memory.events
 * counts by then (it killed in the cgroup just before the agent did):
 * its exit says the kernel's reason, not the agent's.  Plain files for
 * its cgroup as there (so the kill is its process group's), each written
 * before the loop runs the read it is for. */
static void thrash_kill(Fixture *f, const char *pressure, bool killed, int oom) {
        static const char *const sets[] = { "memory_period_ms", "50", "memory_thrash_kill_ms", "50", NULL };
        static const char json[] = "[{\"name\": \"mem\", \"argv\": [\"sleep\", \"100\"], \"memory_max_mb\": 32,"
                                   " \"restart\": \"always\"}]";
        const char *svc = f->svc, *logpath = f->logpath;
        Harness *m = harness_make(sets);

        memory_service_make(f, false);
        if (pressure)
                put_file(svc, "memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                                                 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
        memory_service_ready(f, m, json);
        if (pressure)
                put_file(svc, "memory.pressure", pressure);
        assert_int_equal(test_plain_memory_counts(svc, 24107, oom, 9045), 0);
        if (killed && oom) {
                /* The kernel's kill says more than ours. */
                run_until(m, restarted_ready, NULL, "the restart after the kill");
                assert_string_equal(status(m, 0).last_exit, "killed by the kernel: out of memory (memory.max 32 MiB)");
        } else if (killed)
                check_thrash_killed(m, logpath);
        else {
                run_until(m, file_has, (const char *const[]){ logpath, "Service mem is at its memory.max 32 MiB" },
                          "the line");
                /* With PSI it says how near the kill's 10% it is. */
                assert_true(file_has(m, (const char *const[]){ logpath, pressure ? "as it runs (all its processes "
                                                                        "waiting for memory 9.99% of the last 10 "
                                                                        "s); raise " : "as it runs; raise " }));
                assert_false(file_has(m, (const char *const[]){ logpath, "killing it" }));
                assert_int_equal(status(m, 0).state, SERVICE_READY);
                assert_int_equal(status(m, 0).restarts, 0);
        }
        harness_drop(m);
        f->done = true;
}

static void test_thrash_kill(void **state) {
        thrash_kill(*state, "some avg10=99.10 avg60=40.00 avg300=9.00 total=90000000\n"
                    "full avg10=92.50 avg60=38.00 avg300=8.00 total=80000000\n", true, 0);
}

/* A service the kernel's OOM killer killed in as the agent's thrash kill
 * came: its last_exit is the kernel's reason. */
static void test_thrash_kill_after_kernel_oom(void **state) {
        thrash_kill(*state, "some avg10=99.10 avg60=40.00 avg300=9.00 total=90000000\n"
                    "full avg10=92.50 avg60=38.00 avg300=8.00 total=80000000\n", true, 1);
}

/* Stalled less (some of it running: a program working near its limit,
 * not thrashing), or no PSI to tell: not killed. */
static void test_thrash_kill_not_stalled(void **state) {
        thrash_kill(*state, "some avg10=70.00 avg60=40.00 avg300=9.00 total=90000000\n"
                    "full avg10=9.99 avg60=38.00 avg300=8.00 total=80000000\n", false, 0);
}

static void test_thrash_kill_no_psi(void **state) {
        thrash_kill(*state, NULL, false, 0);
}

/* A service's exit reads its cgroup's memory.events, whose OOM kills its
 * last_exit names, and not memory.stat: its refaults say nothing of an
 * exit.  Plain files for its cgroup; an inotify watch tells whether
 * memory.stat was opened from its SIGKILL to its last_exit. */
static void test_exit_reads_no_memory_stat(void **state) {
        static const char json[] = "[{\"name\": \"mem\", \"argv\": [\"sleep\", \"100\"], \"memory_max_mb\": 32,"
                                   " \"restart\": \"never\"}]";
        Fixture *f = *state;
        struct inotify_event ev;
        char path[PATH_MAX];
        Harness *m = harness_make(NULL);
        int fd;

        memory_service_make(f, false);
        m->o.cgroup_base = f->base;
        m->o.memory = true;
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        assert_int_equal(status(m, 0).state, SERVICE_READY);
        assert_true(snprintf(path, sizeof path, "%s/memory.stat", f->svc) < (int)sizeof path);
        fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(fd >= 0);
        assert_true(inotify_add_watch(fd, path, IN_OPEN) >= 0);
        assert_int_equal(kill(status(m, 0).pid, SIGKILL), 0);
        run_until(m, settled, &(size_t){ 0 }, "mem settled");
        assert_string_equal(status(m, 0).last_exit, "killed by SIGKILL");
        assert_true(read(fd, &ev, sizeof ev) < 0 && errno == EAGAIN);
        close(fd);
        harness_drop(m);
        f->done = true;
}

/* Restarts that are no failure leave the budget (2) to crashes: neither
 * the restarts asked for (new secrets) nor the dependent's, brought down
 * with its dependency, count.  After two of each, the dependent's first
 * crash backs off rather than failing (it failed: 3 starts counted). */
static void test_restarts_leave_the_budget(void **state) {
        static const char *const sets[] = { "backoff_ms", "600000", "restart_burst", "2", NULL };
        static const char json[] =
                "[{\"name\": \"base\", \"argv\": [\"sleep\", \"1000\"]},"
                " {\"name\": \"dep\", \"argv\": [\"sleep\", \"1000\"], \"depends_on\": [\"base\"]}]";
        struct { size_t i; ServiceState s; } backoff = { 1, SERVICE_BACKOFF };
        Harness *m;

        m = harness_running(sets, json);
        run_until(m, all_ready, NULL, "all ready");
        for (unsigned i = 1; i <= 2; i++) {
                struct { size_t i; unsigned n; } dep_again = { 1, i };

                assert_int_equal(supervisor_restart_service(m->supervisor, "base"), 0);
                run_until(m, restarts_reached, &dep_again, "dep restarted");
                run_until(m, all_ready, NULL, "all ready again");
        }
        assert_int_equal(kill(status(m, 1).pid, SIGKILL), 0);
        run_until(m, state_is, &backoff, "dep backing off after its crash");
        assert_string_equal(status(m, 1).last_exit, "killed by SIGKILL");
        harness_drop(m);
}

/* A service failed over its budget (3) while what fails it is there (a
 * file here) is tried again after the recovery delay (1 s), with a fresh
 * budget; its dependent waits meanwhile and follows once it is ready, as
 * after any restart.  A missing binary is failed with no retry, and so is
 * a failed service stopped since. */
static void test_failed_retried_with_dependents(void **state) {
        static const char *const sets[] = { "restart_burst", "3", "failed_retry_s", "1", NULL };
        struct { size_t i; ServiceState s; } base_failed = { 0, SERVICE_FAILED }, dep_waiting = { 1, SERVICE_WAITING };
        char json[1024], block[128];
        pid_t dep;
        Harness *m;

        snprintf(block, sizeof block, "%s/block", dir);
        snprintf(json, sizeof json,
                 "[{\"name\": \"base\", \"argv\": [\"/bin/sh\", \"-c\", \"test -e %s && exit 3; exec sleep 1000\"]},"
                 " {\"name\": \"dep\", \"argv\": [\"sleep\", \"1000\"], \"depends_on\": [\"base\"]},"
                 " {\"name\": \"ghost\", \"argv\": [\"vmba-no-such-binary\"], \"on_demand\": true}]",
                 block);
        m = harness_running(sets, json);
        run_until(m, all_ready, NULL, "all ready");
        dep = status(m, 1).pid;

        /* base dies, and its restarts find the file: over the budget (its
         * first start and two restarts). */
        write_text(block, "");
        assert_int_equal(kill(status(m, 0).pid, SIGKILL), 0);
        run_until(m, state_is, &base_failed, "base failed");
        /* The retry is a timer the loop has not run yet: still to come. */
        assert_true(status(m, 0).retry_in > 0 && status(m, 0).retry_in <= USEC_PER_SEC);
        assert_int_equal(status(m, 0).restarts, 2);
        assert_string_equal(status(m, 0).last_error, "exited 3; gave up after 3 starts in 60 s");
        run_until(m, state_is, &dep_waiting, "dep waiting for base");

        /* The cause goes; the retry brings base back, then dep. */
        assert_int_equal(unlink(block), 0);
        run_until(m, all_ready, NULL, "all ready after the retry");
        assert_int_equal(status(m, 0).retry_in, 0);
        assert_null(status(m, 0).last_error);
        assert_true(status(m, 0).ready_boottime <= status(m, 1).ready_boottime);
        assert_true(status(m, 1).pid != dep);

        /* A fresh budget: failing again takes the retry's start and two
         * more (with the old starts still counted, one would do). */
        unsigned restarts = status(m, 0).restarts;
        write_text(block, "");
        assert_int_equal(kill(status(m, 0).pid, SIGKILL), 0);
        run_until(m, state_is, &base_failed, "base failed again");
        assert_int_equal(status(m, 0).restarts, restarts + 2);
        assert_true(status(m, 0).retry_in > 0);
        /* Stopped while failed: no retry is coming. */
        assert_int_equal(supervisor_stop_service(m->supervisor, "base"), 0);
        assert_int_equal(status(m, 0).state, SERVICE_FAILED);
        assert_int_equal(status(m, 0).retry_in, 0);

        /* A missing binary: failed, not retried; the start says so. */
        assert_int_equal(supervisor_start_service(m->supervisor, "ghost", NULL), -ENOENT);
        assert_int_equal(status(m, 2).state, SERVICE_FAILED);
        assert_string_equal(status(m, 2).last_error, "vmba-no-such-binary: not found");
        assert_int_equal(status(m, 2).retry_in, 0);
        harness_drop(m);
        unlink(block);
}

/* A program that was found but exits 127 is not a missing binary: a
 * shell's command not found is restarted, failed over the budget and
 * retried, with a reason that does not say the binary is missing. */
static void test_exit_127_retried(void **state) {
        static const char *const sets[] = { "restart_burst", "2", "failed_retry_s", "3600", NULL };
        struct { size_t i; ServiceState s; } wrapper_failed = { 0, SERVICE_FAILED };
        Harness *m;

        m = harness_running(sets, "[{\"name\": \"wrapper\", \"argv\": [\"/bin/sh\", \"-c\", \"vmba-no-such-command\"]}]");
        run_until(m, state_is, &wrapper_failed, "wrapper failed");
        assert_int_equal(status(m, 0).restarts, 1);
        assert_string_equal(status(m, 0).last_exit, "exited 127");
        assert_string_equal(status(m, 0).last_error,
                            "exited 127: a command or interpreter not found; gave up after 2 starts in 60 s");
        assert_true(status(m, 0).retry_in > 0);
        harness_drop(m);
}

/* A script whose interpreter is missing is found, but its exec fails
 * (ENOENT): a spawn that failed, said at once (the step and why), not an
 * exit 127 nor a missing binary: backed off and started again, failed
 * over the budget and retried, with no process counted or left. */
static void test_exec_failure_retried(void **state) {
        static const char *const sets[] = { "restart_burst", "2", "failed_retry_s", "3600", NULL };
        struct { size_t i; ServiceState s; } failed = { 0, SERVICE_FAILED };
        char json[512], script[128], want[256];
        Harness *m;

        snprintf(script, sizeof script, "%s/no-interpreter", dir);
        write_text(script, "#!/vmba-no-such-interpreter\n");
        assert_int_equal(chmod(script, 0755), 0);
        snprintf(json, sizeof json, "[{\"name\": \"script\", \"argv\": [\"%s\"]}]", script);
        m = harness_running(sets, json);
        snprintf(want, sizeof want, "execute %s: No such file or directory", script);
        assert_int_equal(status(m, 0).state, SERVICE_BACKOFF);
        assert_string_equal(status(m, 0).last_error, want);
        assert_true(no_children());
        run_until(m, state_is, &failed, "script failed");
        assert_int_equal(status(m, 0).restarts, 0);
        assert_false(status(m, 0).spawned);
        assert_null(status(m, 0).last_exit);
        snprintf(want, sizeof want, "execute %s: No such file or directory; gave up after 2 starts in 60 s", script);
        assert_string_equal(status(m, 0).last_error, want);
        assert_true(status(m, 0).retry_in > 0);
        assert_true(no_children());
        harness_drop(m);
        unlink(script);
}

/* restarts counts processes started again: starts that found no binary
 * created none, so a service started by hand while its binary is missing
 * has restarts 0, and its first process once the binary is there is no
 * restart either; a crash of that one is. */
static void test_restarts_count_processes(void **state) {
        struct { size_t i; ServiceState s; } ready = { 0, SERVICE_READY };
        char json[512], bin[128];
        Harness *m;

        snprintf(bin, sizeof bin, "%s/late-binary", dir);
        snprintf(json, sizeof json, "[{\"name\": \"late\", \"argv\": [\"%s\"], \"on_demand\": true}]", bin);
        m = harness_make(NULL);
        assert_int_equal(harness_start(m, json), 0);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(supervisor_start_service(m->supervisor, "late", NULL), -ENOENT);
                assert_int_equal(status(m, 0).state, SERVICE_FAILED);
                assert_int_equal(status(m, 0).pid, 0);
                assert_int_equal(status(m, 0).restarts, 0);
        }

        write_text(bin, "#!/bin/sh\nexec sleep 1000\n");
        assert_int_equal(chmod(bin, 0755), 0);
        assert_int_equal(supervisor_start_service(m->supervisor, "late", NULL), 0);
        run_until(m, state_is, &ready, "late ready");
        assert_true(status(m, 0).pid > 0);
        assert_int_equal(status(m, 0).restarts, 0);
        assert_int_equal(kill(status(m, 0).pid, SIGKILL), 0);
        run_until(m, restarted, &(size_t){ 0 }, "late restarted after its crash");
        assert_int_equal(status(m, 0).restarts, 1);
        harness_drop(m);
        unlink(bin);
}

/* A start asked for while the service is still stopping (a browser closed
 * after one login, opened for the next): nothing spawned yet, and it says
 * so (1, as in a backoff); it starts again once it exited,
 * without the backoff (10 min here: waiting for it would fail the test by
 * the loop's bound), and asked-for starts leave the budget (2) to crashes:
 * a crash after three of them backs off rather than failing. */
static void test_start_while_stopping(void **state) {
        static const char *const sets[] = { "backoff_ms", "600000", "restart_burst", "2", NULL };
        static const char json[] =
                "[{\"name\": \"slow\", \"on_demand\": true, \"argv\": [\"/bin/sh\", \"-c\","
                "  \"trap 'exit 0' TERM; while :; do sleep 0.2; done\"]}]";
        struct { size_t i; ServiceState s; } ready = { 0, SERVICE_READY }, backoff = { 0, SERVICE_BACKOFF };
        char reason[128];
        Harness *m;

        m = harness_running(sets, json);
        assert_int_equal(supervisor_start_service(m->supervisor, "slow", NULL), 0);
        run_until(m, state_is, &ready, "slow ready");
        for (unsigned i = 1; i <= 2; i++) {
                pid_t old = status(m, 0).pid;

                assert_int_equal(supervisor_stop_service(m->supervisor, "slow"), 0);
                /* Its exit is seen by the loop, which has not run yet. */
                assert_int_equal(status(m, 0).state, SERVICE_STOPPING);
                assert_int_equal(supervisor_start_service(m->supervisor, "slow", NULL), 1);
                assert_int_equal(status(m, 0).pid, old);
                assert_int_equal(supervisor_service_waits_for(m->supervisor, "slow", reason, sizeof reason), 1);
                assert_string_equal(reason, "the exit of the one stopping");
                run_until(m, state_is, &ready, "slow ready again");
                assert_true(status(m, 0).pid != old);
                assert_int_equal(status(m, 0).restarts, i);
                assert_null(status(m, 0).last_error);
        }
        assert_int_equal(kill(status(m, 0).pid, SIGKILL), 0);
        run_until(m, state_is, &backoff, "slow backing off after its crash");
        assert_string_equal(status(m, 0).last_exit, "killed by SIGKILL");
        /* A start in its backoff spawns nothing yet, and says so. */
        assert_int_equal(supervisor_start_service(m->supervisor, "slow", NULL), 1);
        assert_int_equal(status(m, 0).state, SERVICE_BACKOFF);
        harness_drop(m);
}

/* A start asked for while the service is stopping for its dependency
 * (the browser's bus went): once it exited it waits for the dependency,
 * so nothing is spawned then either, and the start said so (1): a caller
 * told 0 would have answered "started" for a service that does not run. */
static void test_start_while_stopping_for_a_dependency(void **state) {
        static const char *const sets[] = { "backoff_ms", "600000", NULL };
        static const char json[] =
                "[{\"name\": \"base\", \"argv\": [\"sleep\", \"1000\"], \"on_demand\": true},"
                " {\"name\": \"dep\", \"on_demand\": true, \"depends_on\": [\"base\"], \"argv\": [\"/bin/sh\", \"-c\","
                "  \"trap 'exit 0' TERM; while :; do sleep 0.2; done\"]}]";
        struct { size_t i; ServiceState s; } dep_ready = { 1, SERVICE_READY }, dep_waiting = { 1, SERVICE_WAITING },
                                               base_inactive = { 0, SERVICE_INACTIVE };
        char reason[128];
        Harness *m;

        m = harness_running(sets, json);
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), 1);
        assert_int_equal(supervisor_start_service(m->supervisor, "base", NULL), 0);
        run_until(m, state_is, &dep_ready, "dep ready");
        assert_int_equal(supervisor_stop_service(m->supervisor, "base"), 0);
        /* The exits are seen by the loop, which has not run yet. */
        assert_int_equal(status(m, 1).state, SERVICE_STOPPING);
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), 1);
        run_until(m, state_is, &dep_waiting, "dep waiting for base");
        run_until(m, state_is, &base_inactive, "base stopped");
        assert_int_equal(status(m, 1).state, SERVICE_WAITING);
        assert_int_equal(status(m, 1).pid, 0);
        assert_int_equal(status(m, 1).restarts, 0);
        assert_int_equal(supervisor_service_waits_for(m->supervisor, "dep", reason, sizeof reason), 1);
        assert_string_equal(reason, "base: inactive");
        /* Its spawn comes with the dependency. */
        assert_int_equal(supervisor_start_service(m->supervisor, "base", NULL), 0);
        run_until(m, state_is, &dep_ready, "dep ready again");
        assert_int_equal(status(m, 1).restarts, 1);
        harness_drop(m);
}

/* A start answered 1 (waiting for its dependency) whose spawn then fails
 * (its binary may not be run: no process, a backoff of 10 min): asked
 * again, as the browser does at the change, it answers that spawn's error
 * at once, last_error saying why, and changes nothing: a caller that
 * waited for that spawn must not wait on for a restart no likelier to
 * spawn.  Before that failure, and backing off after a process's exit,
 * it is 1 as ever. */
static void test_start_after_its_spawn_failed(void **state) {
        static const char *const sets[] = { "backoff_ms", "600000", NULL };
        struct { size_t i; ServiceState s; } dep_backoff = { 1, SERVICE_BACKOFF };
        char json[512], bin[128], reason[128];
        unsigned seen;
        Harness *m;

        snprintf(bin, sizeof bin, "%s/not-executable", dir);
        write_text(bin, "#!/bin/sh\nexec sleep 1000\n");
        assert_int_equal(chmod(bin, 0644), 0);
        snprintf(json, sizeof json,
                 "[{\"name\": \"base\", \"argv\": [\"sleep\", \"1000\"], \"on_demand\": true},"
                 " {\"name\": \"dep\", \"argv\": [\"%s\"], \"on_demand\": true, \"depends_on\": [\"base\"]}]",
                 bin);
        m = harness_make(sets);
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), 1);
        assert_int_equal(supervisor_start_service(m->supervisor, "base", NULL), 0);
        run_until(m, state_is, &dep_backoff, "dep backing off after its spawn failed");
        assert_int_equal(status(m, 1).pid, 0);
        assert_string_equal(status(m, 1).last_error, "spawn: Permission denied");
        seen = changed;
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), -EACCES);
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), -EACCES);
        assert_int_equal(changed, seen);
        assert_int_equal(status(m, 1).state, SERVICE_BACKOFF);
        assert_int_equal(supervisor_service_waits_for(m->supervisor, "dep", reason, sizeof reason), 1);

        /* It may run now: its start then spawns, and a crash's backoff
         * after it is the restart's to wait for again. */
        assert_int_equal(chmod(bin, 0755), 0);
        assert_int_equal(supervisor_stop_service(m->supervisor, "dep"), 0);
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), 0);
        assert_true(status(m, 1).pid > 0);
        assert_int_equal(kill(status(m, 1).pid, SIGKILL), 0);
        run_until(m, state_is, &dep_backoff, "dep backing off after its crash");
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), 1);
        harness_drop(m);
        unlink(bin);
}

/* An on-demand service that quits with exit 0 after it was ready (the
 * browser closed) ended normally: no error kept for /health.  Its exit 3
 * is still one, as is the exit 0 before ready of one never ready. */
static bool exit_seen(Harness *m, const void *arg) {
        ServiceStatus st = status(m, *(const size_t *)arg);
        return st.last_exit && st.pid == 0;
}

static void test_on_demand_quit_is_no_error(void **state) {
        static const char json[] =
                "[{\"name\": \"quits\", \"on_demand\": true, \"restart\": \"on-failure\", \"argv\": [\"true\"]},"
                " {\"name\": \"fails\", \"on_demand\": true, \"restart\": \"on-failure\","
                "  \"argv\": [\"/bin/sh\", \"-c\", \"exit 3\"]},"
                " {\"name\": \"early\", \"on_demand\": true, \"restart\": \"on-failure\", \"argv\": [\"true\"],"
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 9, \"expect\": \"x\"}}]";
        static const size_t quits = 0, fails = 1, early = 2;
        Harness *m;

        m = harness_make((const char *const[]){ "backoff_ms", "600000", NULL });
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_service(m->supervisor, "quits", NULL), 0);
        assert_int_equal(supervisor_start_service(m->supervisor, "fails", NULL), 0);
        assert_int_equal(supervisor_start_service(m->supervisor, "early", NULL), 0);
        run_until(m, exit_seen, &quits, "quits exited");
        run_until(m, exit_seen, &fails, "fails exited");
        run_until(m, exit_seen, &early, "early exited");
        assert_int_equal(status(m, 0).state, SERVICE_INACTIVE);
        assert_true(status(m, 0).ended);
        assert_string_equal(status(m, 0).last_exit, "exited 0");
        assert_null(status(m, 0).last_error);
        assert_string_equal(status(m, 1).last_error, "exited 3");
        assert_string_equal(status(m, 2).last_error, "exited 0 before ready");
        harness_drop(m);
}

/* A service whose quits are closes (the prestarted browser) closed with
 * exit 0 right after it was ready, again and again, within the longest
 * backoff (10 min here) and past the budget (2), each time after it was
 * used (the browser showed a URL): each is a person's close, started
 * again at once with no error, not failed. */
static bool pid_is_new(Harness *m, const void *arg) {
        const pid_t *old = arg;
        ServiceStatus st = status(m, 0);
        return st.state == SERVICE_READY && st.pid > 0 && st.pid != *old;
}

static void test_close_soon_after_ready_is_no_failure(void **state) {
        static const char *const sets[] = { "backoff_ms", "600000", "restart_burst", "2", NULL };
        static const char json[] =
                "[{\"name\": \"closed\", \"quit_restarts\": true, \"probe\": {\"type\": \"fd-line\"},"
                "  \"argv\": [\"/bin/sh\", \"-c\","
                "  \"trap 'exit 0' USR1; echo ready >&3; while :; do sleep 0.1; done\"]}]";
        struct { size_t i; ServiceState s; } ready = { 0, SERVICE_READY };
        Harness *m;

        m = harness_make(sets);
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        run_until(m, state_is, &ready, "closed ready");
        for (unsigned i = 1; i <= 6; i++) {
                pid_t old = status(m, 0).pid;

                assert_int_equal(supervisor_service_used(m->supervisor, "closed"), 0);
                assert_int_equal(kill(old, SIGUSR1), 0);
                run_until(m, pid_is_new, &old, "closed back");
                assert_int_equal(status(m, 0).restarts, i);
                assert_null(status(m, 0).last_error);
                assert_string_equal(status(m, 0).last_exit, "exited 0");
        }
        assert_int_equal(supervisor_service_used(m->supervisor, "nope"), -ENOENT);
        assert_int_equal(supervisor_stop_service(m->supervisor, "closed"), 0);
        harness_drop(m);
}

/* One that quits with exit 0 as soon as it is ready, at every start, and
 * is never used (a browser quitting by itself): the first closes come
 * back at once, then it backs off (10 min here: it stays so), with no
 * error, and is not failed however far past its budget (1).  Used
 * meanwhile, it waits for its restart as any backoff does. */
static void test_quits_with_no_use_back_off(void **state) {
        static const char *const sets[] = { "backoff_ms", "600000", "restart_burst", "1", NULL };
        static const char json[] = "[{\"name\": \"quits\", \"quit_restarts\": true, \"argv\": [\"true\"]}]";
        struct { size_t i; ServiceState s; } backoff = { 0, SERVICE_BACKOFF };
        Harness *m;

        m = harness_make(sets);
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        run_until(m, state_is, &backoff, "quits backing off");
        /* The boot's start and three at once: four quits. */
        assert_int_equal(status(m, 0).restarts, 3);
        assert_null(status(m, 0).last_error);
        assert_string_equal(status(m, 0).last_exit, "exited 0");
        assert_int_equal(supervisor_service_used(m->supervisor, "quits"), 0);
        assert_int_equal(status(m, 0).state, SERVICE_BACKOFF);
        assert_int_equal(supervisor_start_service(m->supervisor, "quits", NULL), 1);
        harness_drop(m);
}

/* One that exits 0 at every start before it is ready (a browser whose
 * profile is broken) is bounded all the same: failed after the budget. */
static void test_exit_0_before_ready_is_bounded(void **state) {
        static const char *const sets[] = { "restart_burst", "3", NULL };
        static const char json[] =
                "[{\"name\": \"broken\", \"quit_restarts\": true, \"argv\": [\"true\"],"
                "  \"probe\": {\"type\": \"tcp-banner\", \"port\": 9, \"expect\": \"x\"}}]";
        struct { size_t i; ServiceState s; } failed = { 0, SERVICE_FAILED };
        Harness *m;

        m = harness_make(sets);
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        run_until(m, state_is, &failed, "broken failed");
        assert_string_equal(status(m, 0).last_error, "exited 0 before ready; gave up after 3 starts in 60 s");
        harness_drop(m);
}

/* The services of the user tests, with passwd as the user database: bus
 * as an existing user (home its directory to create, under pub), ghost as
 * a missing one, rooty as root. */
static Harness *users_start(const char *passwd, const char *pub, const char *home) {
        char json[2048];
        Harness *m;

        write_text(passwd, "rootish:x:0:0::/:/bin/sh\nvmba-test-user:x:65534:65534::/:/bin/sh\n");
        assert_int_equal(mkdir(pub, 0755), 0);
        snprintf(json, sizeof json,
                 "[{\"name\": \"bus\", \"user\": \"vmba-test-user\", \"env\": [\"FOO=1\"],"
                 "  \"create_dirs\": [\"%s\"], \"probe\": {\"type\": \"fd-line\"},"
                 "  \"argv\": [\"/bin/sh\", \"-c\", \"printf 'esc=\\\\033[2J\\\\tcr\\\\rend\\\\233x\\\\n'; "
                 "echo token=s3cret-desktop-value pw=s3cret-d; "
                 "echo unix:path=/x,guid=1 >&3; sleep 100\"]},"
                 " {\"name\": \"ghost\", \"user\": \"vmba-no-such-user\", \"argv\": [\"true\"], \"on_demand\": true},"
                 " {\"name\": \"rooty\", \"user\": \"rootish\", \"argv\": [\"true\"], \"on_demand\": true}]",
                 home);
        m = harness_make(NULL);
        m->o.passwd_path = passwd;
        assert_int_equal(harness_start(m, json), 0);
        return m;
}

/* Services given a user: a missing one, or root, fails the start at once
 * with the reason (never spawned). */
static void test_users_refused(void **state) {
        char passwd[128], home[160], pub[128];
        Harness *m;

        snprintf(passwd, sizeof passwd, "%s/passwd", dir);
        snprintf(pub, sizeof pub, "%s/pub", dir);
        snprintf(home, sizeof home, "%s/pub/home", dir);
        m = users_start(passwd, pub, home);
        assert_int_equal(supervisor_start_service(m->supervisor, "ghost", NULL), -ESRCH);
        assert_int_equal(status(m, 1).state, SERVICE_FAILED);
        assert_int_equal(status(m, 1).pid, 0);
        assert_true(startswith(status(m, 1).last_error, "user 'vmba-no-such-user' not found in "));
        assert_int_equal(supervisor_start_service(m->supervisor, "rooty", NULL), -EPERM);
        assert_int_equal(status(m, 2).state, SERVICE_FAILED);
        assert_string_equal(status(m, 2).last_error, "user 'rootish' is root (uid 0, gid 0): refused");
        harness_drop(m);
        unlink(passwd);
        rmdir(pub);
}

/* A service failed over its budget, its retry to come, whose user is gone
 * when it is started by hand: the start is refused with the reason, and
 * no retry is left to fail the same way later. */
static void test_user_gone_cancels_the_retry(void **state) {
        static const char *const sets[] = { "restart_burst", "2", "failed_retry_s", "3600", NULL };
        struct { size_t i; ServiceState s; } failed = { 0, SERVICE_FAILED };
        static const char json[] =
                "[{\"name\": \"crasher\", \"user\": \"vmba-test-user\", \"argv\": [\"/bin/sh\", \"-c\", \"exit 3\"]}]";
        char passwd[128];
        Harness *m;

        snprintf(passwd, sizeof passwd, "%s/passwd", dir);
        write_text(passwd, "vmba-test-user:x:65534:65534::/:/bin/sh\n");
        m = harness_make(sets);
        m->o.passwd_path = passwd;
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        run_until(m, state_is, &failed, "crasher failed over its budget");
        assert_true(status(m, 0).retry_in > 0);

        write_text(passwd, "someone-else:x:65533:65533::/:/bin/sh\n");
        assert_int_equal(supervisor_start_service(m->supervisor, "crasher", NULL), -ESRCH);
        assert_int_equal(status(m, 0).state, SERVICE_FAILED);
        assert_true(startswith(status(m, 0).last_error, "user 'vmba-test-user' not found in "));
        assert_int_equal(status(m, 0).retry_in, 0);
        harness_drop(m);
        unlink(passwd);
}

/* As root, a service given an existing user runs with its uid, a fresh
 * environment, and its directories; a line on fd 3 is its readiness
 * (fd-line); secrets in its output are redacted in the log (a file:
 * setup_logged()), and its control bytes cleaned. */
static void test_users_fd_line_and_redaction(void **state) {
        char passwd[128], home[160], environ_path[64], pub[128];
        _cleanup_(freep) char *env = NULL;
        struct { size_t i; ServiceState s; } bus_ready = { 0, SERVICE_READY };
        Fixture *f = *state;
        const char *logpath = f->logpath;
        struct stat st;
        size_t n;
        Harness *m;

        if (geteuid() != 0)
                skip();
        snprintf(passwd, sizeof passwd, "%s/passwd", dir);
        snprintf(pub, sizeof pub, "%s/pub", dir);
        snprintf(home, sizeof home, "%s/pub/home", dir);
        m = users_start(passwd, pub, home);
        setenv("VMBA_TEST_MARKER", "agent-only", 1);
        assert_int_equal(supervisor_start_all(m->supervisor), 0);
        run_until(m, state_is, &bus_ready, "bus ready (fd-line)");
        run_until(m, file_has, (const char *const[]){ logpath, "bus: token=" }, "bus output logged");
        unsetenv("VMBA_TEST_MARKER");
        _cleanup_(freep) char *log = NULL;
        assert_int_equal(read_full_file(logpath, 1 << 20, &log, NULL), 0);
        assert_non_null(strstr(log, "bus: token=[REDACTED] pw=[REDACTED]"));
        /* Its control bytes and a byte outside UTF-8 reach the log as '?',
         * a tab as a space; a CR is dropped (sv-output.c). */
        assert_non_null(strstr(log, "bus: esc=?[2J crend?x\n"));
        assert_null(strstr(log, "s3cret-d"));

        /* The shell's own environment, set at its exec, long before it
         * wrote: it forks the sleep rather than exec it, since a process
         * in the middle of execve() shows an empty environ. */
        snprintf(environ_path, sizeof environ_path, "/proc/%d/environ", (int)status(m, 0).pid);
        assert_int_equal(read_full_file(environ_path, 1 << 16, &env, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (env[i] == '\0')
                        env[i] = '\n';
        assert_non_null(strstr(env, "FOO=1\n"));
        assert_non_null(strstr(env, "PATH=/usr/local/bin:/usr/bin:/bin\n"));
        assert_null(strstr(env, "VMBA_TEST_MARKER"));
        assert_int_equal(stat(environ_path, &st), 0);
        assert_int_equal(st.st_uid, 65534);
        assert_int_equal(stat(home, &st), 0);
        assert_int_equal(st.st_uid, 65534);
        assert_int_equal(st.st_mode & 07777, 0700);
        harness_drop(m);
        unlink(passwd);
        rmdir(home);
        rmdir(pub);
        f->done = true;
}

/* A start while the service's dependencies are not ready spawns nothing
 * yet, and says so (1, as in a backoff) rather than a start made: a
 * caller answering "started" would answer before anything ran.  Asked
 * again meanwhile, it reports no change (the browser asks at each one).
 * It spawns once they are ready; waits_for says what it waits for.  The
 * same when a dependency goes while it backs off: it waits, and a start
 * then is no spawn either. */
static void test_start_waiting_for_dependencies(void **state) {
        static const char *const sets[] = { "backoff_ms", "600000", NULL };
        static const char json[] =
                "[{\"name\": \"base\", \"argv\": [\"sleep\", \"1000\"], \"on_demand\": true},"
                " {\"name\": \"dep\", \"argv\": [\"sleep\", \"1000\"], \"on_demand\": true,"
                "  \"depends_on\": [\"base\"]}]";
        struct { size_t i; ServiceState s; } dep_ready = { 1, SERVICE_READY }, dep_backoff = { 1, SERVICE_BACKOFF },
                                               base_inactive = { 0, SERVICE_INACTIVE };
        char reason[128];
        unsigned seen;
        Harness *m;

        m = harness_make(sets);
        assert_int_equal(harness_start(m, json), 0);
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), 1);
        assert_int_equal(status(m, 1).state, SERVICE_WAITING);
        assert_int_equal(status(m, 1).pid, 0);
        assert_int_equal(supervisor_service_waits_for(m->supervisor, "dep", reason, sizeof reason), 1);
        assert_string_equal(reason, "base: inactive");
        seen = changed;
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), 1);
        assert_int_equal(changed, seen);
        assert_int_equal(supervisor_start_service(m->supervisor, "base", NULL), 0);
        run_until(m, state_is, &dep_ready, "dep ready once base is");
        assert_int_equal(supervisor_service_waits_for(m->supervisor, "dep", reason, sizeof reason), 0);
        assert_string_equal(reason, "");
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), -EALREADY);

        /* Backing off (10 min: it stays so), then its dependency stops. */
        assert_int_equal(kill(status(m, 1).pid, SIGKILL), 0);
        run_until(m, state_is, &dep_backoff, "dep backing off after its crash");
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), 1);
        assert_int_equal(supervisor_service_waits_for(m->supervisor, "dep", reason, sizeof reason), 1);
        assert_string_equal(reason, "its restart after an exit");
        assert_int_equal(supervisor_stop_service(m->supervisor, "base"), 0);
        assert_int_equal(status(m, 1).state, SERVICE_WAITING);
        assert_int_equal(supervisor_start_service(m->supervisor, "dep", NULL), 1);
        assert_int_equal(status(m, 1).pid, 0);
        run_until(m, state_is, &base_inactive, "base stopped");
        assert_int_equal(supervisor_service_waits_for(m->supervisor, "dep", reason, sizeof reason), 1);
        assert_string_equal(reason, "base: inactive");
        assert_int_equal(supervisor_service_waits_for(m->supervisor, "nope", reason, sizeof reason), -ENOENT);
        harness_drop(m);
}

/* Each test with its setup, and the one teardown that undoes what any
 * setup or test left. */
#define TEST(test, setup) cmocka_unit_test_setup_teardown(test, setup, teardown_test)

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST(test_order_restart_and_stop_all, setup_test),
                TEST(test_budget_missing_and_on_demand, setup_test),
                TEST(test_ready_timeout_extended_while_busy, setup_test),
                TEST(test_ready_timeout_doubles_after_busy_start, setup_test),
                TEST(test_ready_timeout_restart_policy, setup_test),
                TEST(test_ready_timeout_at_memory_max, memory_setup),
                TEST(test_ready_timeout_at_memory_max_cache, memory_setup),
                TEST(test_ready_at_memory_max, memory_logged_setup),
                TEST(test_ready_at_memory_max_old_kernel, memory_logged_setup),
                TEST(test_thrash_kill, memory_logged_setup),
                TEST(test_thrash_kill_after_kernel_oom, memory_logged_setup),
                TEST(test_thrash_kill_not_stalled, memory_logged_setup),
                TEST(test_thrash_kill_no_psi, memory_logged_setup),
                TEST(test_exit_reads_no_memory_stat, memory_setup),
                TEST(test_restart_argv, setup_test),
                TEST(test_bad_services_file, setup_test),
                TEST(test_stale_lock, setup_test),
                TEST(test_stale_lock_reused_pid, setup_test),
                TEST(test_stale_socket, setup_test),
                TEST(test_restart_service, setup_test),
                TEST(test_last_words_logged, setup_logged),
                TEST(test_start_while_stopping, setup_test),
                TEST(test_start_while_stopping_for_a_dependency, setup_test),
                TEST(test_start_after_its_spawn_failed, setup_test),
                TEST(test_start_waiting_for_dependencies, setup_test),
                TEST(test_on_demand_quit_is_no_error, setup_test),
                TEST(test_close_soon_after_ready_is_no_failure, setup_test),
                TEST(test_quits_with_no_use_back_off, setup_test),
                TEST(test_exit_0_before_ready_is_bounded, setup_test),
                TEST(test_restarts_count_processes, setup_test),
                TEST(test_restarts_leave_the_budget, setup_test),
                TEST(test_failed_retried_with_dependents, setup_test),
                TEST(test_exit_127_retried, setup_test),
                TEST(test_exec_failure_retried, setup_test),
                TEST(test_users_refused, setup_test),
                TEST(test_user_gone_cancels_the_retry, setup_test),
                TEST(test_users_fd_line_and_redaction, setup_logged),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
