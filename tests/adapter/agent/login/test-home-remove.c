/* Tests of agent/login/home-remove.c on a real directory: a HOME's name is
 * free at once and its tree handed to a remover (the verb, run here by the
 * test when it chooses, so the tree is seen while it waits, root's alone);
 * what cannot go to a child (no launcher, the launcher fails) goes
 * here and now, and all removers at work leave it aside for the next
 * free one; what a remover left is collected, what one works on is not;
 * stopping kills the removers.  The launcher is a recording one whose
 * "remover" is a real child of the test that waits in a group of its own
 * (the remover kills groups: only ever one of ours). */
#include <errno.h>
#include <fcntl.h>
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/login/home-remove.h"
#include "fileio.h"
#include "macro.h"
#include "tests/adapter/test-dir.h"

typedef struct Started {
        pid_t pid;
        bool reaped;
        char name[64]; /* argv[3]: the tree handed over */
        LaunchExitFn on_exit;
        void *userdata;
} Started;

typedef struct Fake {
        char dir[64], outside[64];
        int fail; /* start() fails with it when set */
        Started started[16];
        size_t n_started;
        unsigned forgotten;
        Launcher launcher;
        HomeRemover *h;
} Fake;

static int fake_start(void *ctx, const SpawnOptions *o, LaunchExitFn on_exit, void *userdata, pid_t *ret_pid) {
        Fake *f = ctx;
        Started *s = &f->started[f->n_started];
        pid_t pid;

        if (f->fail)
                return f->fail;
        assert_true(f->n_started < ELEMENTSOF(f->started));
        assert_string_equal(o->argv[0], "/agent/exe");
        assert_string_equal(o->argv[1], "remove-tree");
        assert_string_equal(o->argv[2], f->dir);
        assert_null(o->argv[4]);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void)setpgid(0, 0);
                pause();
                _exit(0);
        }
        (void)setpgid(pid, pid);
        *s = (Started){ .pid = pid, .on_exit = on_exit, .userdata = userdata };
        snprintf(s->name, sizeof s->name, "%s", o->argv[3]);
        f->n_started++;
        *ret_pid = pid;
        return 0;
}

static void fake_forget(void *ctx, pid_t pid) {
        ((Fake *)ctx)->forgotten++;
}

/* What setup() made, removed when it fails: cmocka runs no teardown
 * then. */
static int setup_fail(Fake *f, const char *what, int r) {
        fprintf(stderr, "%s: %s\n", what, strerror(-r));
        if (f->dir[0])
                (void)test_dir_remove(f->dir);
        if (f->outside[0])
                (void)test_dir_remove(f->outside);
        free(f);
        return -1;
}

static int setup(void **state) {
        Fake *f = calloc(1, sizeof *f);
        int r;

        if (!f)
                return -1;
        snprintf(f->dir, sizeof f->dir, "/tmp/test-home-remove-XXXXXX");
        if (!mkdtemp(f->dir)) {
                f->dir[0] = '\0';
                return setup_fail(f, "mkdtemp", -errno);
        }
        snprintf(f->outside, sizeof f->outside, "/tmp/test-home-remove-out-XXXXXX");
        if (!mkdtemp(f->outside)) {
                f->outside[0] = '\0';
                return setup_fail(f, "mkdtemp", -errno);
        }
        f->launcher = (Launcher){ .start = fake_start, .forget = fake_forget, .ctx = f };
        r = home_remover_new(&f->launcher, f->dir, "/agent/exe", &f->h);
        if (r < 0)
                return setup_fail(f, "home_remover_new", r);
        *state = f;
        return 0;
}

/* The "remover" i ends: killed (it only waits) and reaped. */
static void end_child(Fake *f, size_t i) {
        int status;

        (void)kill(f->started[i].pid, SIGKILL);
        assert_int_equal(waitpid(f->started[i].pid, &status, 0), f->started[i].pid);
        f->started[i].reaped = true;
}

static void remove_dir(const char *path) {
        int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_true(tmp >= 0);
        assert_int_equal(rm_rf_at(tmp, path + strlen("/tmp/")), 0);
        close(tmp);
}

static int teardown(void **state) {
        Fake *f = *state;

        f->h = home_remover_free(f->h);
        for (size_t i = 0; i < f->n_started; i++)
                if (!f->started[i].reaped) {
                        /* Not reaped: still ours, whatever a failed test left. */
                        (void)kill(f->started[i].pid, SIGKILL);
                        (void)waitpid(f->started[i].pid, NULL, 0);
                }
        remove_dir(f->dir);
        remove_dir(f->outside);
        free(f);
        return 0;
}

static void make(const char *dir, const char *rel, bool is_dir) {
        char p[256];

        snprintf(p, sizeof p, "%s/%s", dir, rel);
        if (is_dir)
                assert_int_equal(mkdir(p, 0700), 0);
        else
                assert_int_equal(close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
}

/* A HOME with a credential file, a subdirectory and a link out. */
static void make_home(Fake *f, const char *name) {
        char p[256], target[256];

        make(f->dir, name, true);
        snprintf(p, sizeof p, "%s/.gemini", name);
        make(f->dir, p, true);
        snprintf(p, sizeof p, "%s/.gemini/oauth_creds.json", name);
        make(f->dir, p, false);
        snprintf(p, sizeof p, "%s/%s/out", f->dir, name);
        snprintf(target, sizeof target, "%s/secret", f->outside);
        make(f->outside, "secret", false);
        assert_int_equal(symlink(target, p), 0);
}

static bool exists(const char *dir, const char *rel) {
        char p[256];

        snprintf(p, sizeof p, "%s/%s", dir, rel);
        return faccessat(AT_FDCWD, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int run_verb(const char *dir, const char *name) {
        char *argv[] = { (char *)"remove-tree", (char *)dir, (char *)name, NULL };

        return remove_tree_main(3, argv);
}

/* The name is free at once; the tree waits aside for its remover, which
 * removes it without following the link out. */
static void test_handed_to_a_remover(void **state) {
        Fake *f = *state;
        char home[128], aside[128];
        struct stat st;

        make_home(f, "login-a");
        snprintf(home, sizeof home, "%s/login-a", f->dir);
        snprintf(aside, sizeof aside, "%s/" HOME_REMOVING_PREFIX "0", f->dir);
        assert_int_equal(chown(home, 65534, 65534), 0);
        assert_int_equal(chmod(home, 0755), 0);
        assert_int_equal(home_remover_remove(f->h, "login-a", false), 0);
        assert_false(exists(f->dir, "login-a"));
        assert_int_equal(f->n_started, 1);
        assert_string_equal(f->started[0].name, HOME_REMOVING_PREFIX "0");
        assert_true(exists(f->dir, HOME_REMOVING_PREFIX "0/.gemini/oauth_creds.json"));
        assert_int_equal(home_remover_busy(f->h), 1);
        /* The CLI user's until now; root's alone aside. */
        assert_int_equal(stat(aside, &st), 0);
        assert_true(st.st_uid == 0 && st.st_gid == 0 && (st.st_mode & 07777) == 0700);
        /* A new HOME of the same name meanwhile: its own. */
        make_home(f, "login-a");

        assert_int_equal(run_verb(f->dir, f->started[0].name), 0);
        assert_false(exists(f->dir, HOME_REMOVING_PREFIX "0"));
        assert_true(exists(f->outside, "secret"));
        assert_true(exists(f->dir, "login-a/.gemini/oauth_creds.json"));
        end_child(f, 0);
        f->started[0].on_exit(f->started[0].pid, 0, f->started[0].userdata);
        assert_int_equal(home_remover_busy(f->h), 0);

        /* Nothing there: nothing to do. */
        assert_int_equal(home_remover_remove(f->h, "login-none", false), 0);
        assert_int_equal(f->n_started, 1);
}

/* Without a remover the tree goes here and now: sync, no launcher, the
 * launcher failing. */
static void test_removed_here_without_a_remover(void **state) {
        Fake *f = *state;
        HomeRemover *none = NULL;

        make_home(f, "login-s");
        assert_int_equal(home_remover_remove(f->h, "login-s", true), 0);
        assert_false(exists(f->dir, "login-s"));

        assert_int_equal(home_remover_new(NULL, f->dir, "/agent/exe", &none), 0);
        make_home(f, "login-n");
        assert_int_equal(home_remover_remove(none, "login-n", false), 0);
        assert_false(exists(f->dir, "login-n"));
        assert_false(exists(f->dir, HOME_REMOVING_PREFIX "0"));
        none = home_remover_free(none);

        f->fail = -EAGAIN;
        make_home(f, "login-f");
        assert_int_equal(home_remover_remove(f->h, "login-f", false), 0);
        assert_false(exists(f->dir, "login-f"));
        assert_false(exists(f->dir, HOME_REMOVING_PREFIX "0"));
        assert_int_equal(home_remover_busy(f->h), 0);
        assert_int_equal(f->n_started, 0);
        assert_true(exists(f->outside, "secret"));
}

/* All removers at work: the next tree waits aside (its name free) for
 * the next one that finishes; one that fails frees its place without
 * starting another (the next sweep's collect does).  Stopping kills
 * those at work. */
static void test_waits_for_a_free_remover(void **state) {
        Fake *f = *state;
        char name[32];

        for (unsigned i = 0; i <= HOME_REMOVERS_MAX; i++) {
                snprintf(name, sizeof name, "login-%u", i);
                make(f->dir, name, true);
                assert_int_equal(home_remover_remove(f->h, name, false), 0);
                assert_false(exists(f->dir, name));
        }
        assert_int_equal(f->n_started, HOME_REMOVERS_MAX);
        assert_int_equal(home_remover_busy(f->h), HOME_REMOVERS_MAX);
        snprintf(name, sizeof name, HOME_REMOVING_PREFIX "%u", HOME_REMOVERS_MAX);
        assert_true(exists(f->dir, name));
        home_remover_collect(f->h, false); /* no place for it */
        assert_int_equal(f->n_started, HOME_REMOVERS_MAX);

        /* The first one fails: nothing new starts. */
        end_child(f, 0);
        f->started[0].on_exit(f->started[0].pid, EBUSY << 8, f->started[0].userdata);
        assert_int_equal(f->n_started, HOME_REMOVERS_MAX);
        /* The second one is done: the trees waiting go to the two free
         * removers, the failed one's too. */
        assert_int_equal(run_verb(f->dir, f->started[1].name), 0);
        end_child(f, 1);
        f->started[1].on_exit(f->started[1].pid, 0, f->started[1].userdata);
        assert_int_equal(f->n_started, HOME_REMOVERS_MAX + 2);
        assert_int_equal(home_remover_busy(f->h), HOME_REMOVERS_MAX);
        assert_true(streq(f->started[HOME_REMOVERS_MAX].name, name) ||
                    streq(f->started[HOME_REMOVERS_MAX + 1].name, name));

        f->h = home_remover_free(f->h);
        assert_int_equal(f->forgotten, HOME_REMOVERS_MAX);
}

/* What a remover could not remove, and what an earlier run left under a
 * name aside, is collected; what a remover works on is not, unless the
 * agent stops (sync): then its remover is killed and all goes here. */
static void test_collect(void **state) {
        Fake *f = *state;

        make_home(f, HOME_REMOVING_PREFIX "0"); /* an earlier run's */
        make_home(f, "login-b");
        assert_int_equal(home_remover_remove(f->h, "login-b", false), 0);
        /* The name was taken: the next one. */
        assert_int_equal(f->n_started, 1);
        assert_string_equal(f->started[0].name, HOME_REMOVING_PREFIX "1");

        /* Its remover failed (something still wrote there). */
        end_child(f, 0);
        f->started[0].on_exit(f->started[0].pid, EBUSY << 8, f->started[0].userdata);
        assert_int_equal(home_remover_busy(f->h), 0);
        assert_true(exists(f->dir, HOME_REMOVING_PREFIX "1"));

        home_remover_collect(f->h, false);
        assert_int_equal(f->n_started, 3);
        assert_int_equal(home_remover_busy(f->h), 2);
        /* Those at work are not handed over twice. */
        home_remover_collect(f->h, false);
        assert_int_equal(f->n_started, 3);

        home_remover_collect(f->h, true);
        assert_int_equal(home_remover_busy(f->h), 0);
        assert_int_equal(f->forgotten, 2);
        assert_false(exists(f->dir, HOME_REMOVING_PREFIX "0"));
        assert_false(exists(f->dir, HOME_REMOVING_PREFIX "1"));
        assert_true(exists(f->outside, "secret"));
}

/* The verb's exit status names the cause. */
static void test_verb(void **state) {
        Fake *f = *state;
        char *none[] = { (char *)"remove-tree", NULL };

        assert_int_equal(remove_tree_main(1, none), EINVAL);
        assert_int_equal(run_verb("/nonexistent-test-home-remove", "x"), ENOENT);
        assert_int_equal(run_verb(f->dir, ".."), EINVAL);
        assert_int_equal(run_verb(f->dir, "missing"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_handed_to_a_remover, setup, teardown),
                cmocka_unit_test_setup_teardown(test_removed_here_without_a_remover, setup, teardown),
                cmocka_unit_test_setup_teardown(test_waits_for_a_free_remover, setup, teardown),
                cmocka_unit_test_setup_teardown(test_collect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_verb, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
