/* Tests of agent/supervise/cgroup.c's CPU total (cgroup_cpu_total()), on
 * real cgroups below one of the test's own: what every process that ran
 * in a service's cgroup used is kept across the cgroup's removals (each
 * read just before it), the one there now read now, and what a cgroup
 * left by an agent before had counted when it was taken over is not the
 * service's.  A child burns a bounded amount of work in the cgroup and
 * is waited for before each read: nothing runs there while the test
 * reads, so each total is exact.  As root, with cgroup2 and cgroup.kill
 * (skipped otherwise). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <systemd/sd-event.h>

#include "agent/supervise/cgroup.h"
#include "tests/adapter/cgroup-base.h"

typedef struct CgroupTest {
        char base[PATH_MAX];
        char dir[PATH_MAX + 32]; /* base/svc.service */
        sd_event *event;
} CgroupTest;

static int setup(void **state) {
        CgroupTest *t = calloc(1, sizeof *t);

        assert_non_null(t);
        *state = t;
        if (!test_cgroup_base_make(t->base, sizeof t->base, "cgroup"))
                return 0;
        snprintf(t->dir, sizeof t->dir, "%s/svc.service", t->base);
        assert_int_equal(sd_event_new(&t->event), 0);
        return 0;
}

static int teardown(void **state) {
        CgroupTest *t = *state;

        if (t->base[0]) {
                (void)rmdir(t->dir);
                assert_int_equal(rmdir(t->base), 0);
        }
        sd_event_unref(t->event);
        free(t);
        return 0;
}

/* dir's cpu.stat usage_usec, as the kernel has it now. */
static uint64_t usage(const char *dir) {
        char path[PATH_MAX + 64];
        unsigned long long v = 0;
        FILE *f;

        snprintf(path, sizeof path, "%s/cpu.stat", dir);
        f = fopen(path, "re");
        assert_non_null(f);
        assert_int_equal(fscanf(f, "usage_usec %llu", &v), 1);
        fclose(f);
        return v;
}

/* A child that moves itself into dir and does a bounded amount of work
 * there, waited for. */
static void burn_in(const char *dir) {
        char procs[PATH_MAX + 64];
        int wstatus;
        pid_t pid;

        snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                volatile uint64_t n = 0;
                FILE *f = fopen(procs, "we");

                if (!f || fputs("0", f) < 0 || fclose(f) != 0)
                        _exit(1);
                for (uint64_t i = 0; i < 20000000; i++)
                        n += i;
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &wstatus, 0), pid);
        assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

static uint64_t total(Cgroup *cg) {
        uint64_t usec = UINT64_MAX;
        unsigned unread = UINT32_MAX;

        cgroup_cpu_total(cg, &usec, &unread);
        assert_int_equal(unread, 0);
        return usec;
}

/* Taken over from an agent before (its processes' time not counted),
 * burnt in, removed, made again and burnt in again: the total is each
 * time exactly what ran there while cg had it. */
static void test_cpu_total_over_removals(void **state) {
        CgroupTest *t = *state;
        const char *procs;
        uint64_t before, first, kept;
        Cgroup *cg;

        if (!t->base[0])
                skip();
        assert_int_equal(mkdir(t->dir, 0755), 0);
        burn_in(t->dir);
        before = usage(t->dir);
        assert_true(before > 0);

        assert_int_equal(cgroup_new(t->event, t->base, "svc.service", &cg), 0);
        assert_int_equal(total(cg), 0); /* not made yet */
        assert_int_equal(cgroup_make(cg, &procs), 0);
        assert_int_equal(total(cg), 0); /* the agent before's time is not its */
        burn_in(t->dir);
        first = usage(t->dir) - before;
        assert_true(first > 0);
        assert_int_equal(total(cg), first);

        /* Empty: removed at once, its time kept. */
        assert_int_equal(cgroup_kill(cg, 0), 0);
        assert_false(cgroup_exists(cg));
        assert_int_equal(access(t->dir, F_OK), -1);
        assert_int_equal(total(cg), first);

        assert_int_equal(cgroup_make(cg, &procs), 0);
        assert_int_equal(total(cg), first); /* a new one: from 0 */
        burn_in(t->dir);
        kept = first + usage(t->dir);
        assert_true(kept > first);
        assert_int_equal(total(cg), kept);
        cgroup_free(cg);
}

/* No cgroup (the agent has none): 0 and 0, the caller counts it unknown. */
static void test_cpu_total_null(void **state) {
        uint64_t usec = 1;
        unsigned unread = 1;

        cgroup_cpu_total(NULL, &usec, &unread);
        assert_int_equal(usec, 0);
        assert_int_equal(unread, 0);
        cgroup_cpu_total(NULL, &usec, NULL);
        assert_int_equal(usec, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_cpu_total_over_removals, setup, teardown),
                cmocka_unit_test(test_cpu_total_null),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
