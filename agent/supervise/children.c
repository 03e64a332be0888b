/* Implementation of children.h: the pid -> handler registry and the reaper.
 * A linked list: the agent has a handful of children at a time. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "children.h"
#include "log.h"
#include "macro.h"
#include "spawn.h"

typedef struct ChildWatch ChildWatch;

struct ChildWatch {
        pid_t pid;
        LaunchExitFn cb;
        void *userdata;
        ChildWatch *next;
};

struct Children {
        ChildWatch *watches;
};

int children_new(Children **ret) {
        Children *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

Children *children_free(Children *c) {
        if (!c)
                return NULL;
        while (c->watches) {
                ChildWatch *w = c->watches;
                c->watches = w->next;
                free(w);
        }
        free(c);
        return NULL;
}

int children_watch(Children *c, pid_t pid, LaunchExitFn cb, void *userdata) {
        ChildWatch *w = calloc(1, sizeof *w);

        if (!w)
                return -ENOMEM;
        *w = (ChildWatch){ .pid = pid, .cb = cb, .userdata = userdata, .next = c->watches };
        c->watches = w;
        return 0;
}

static ChildWatch *children_take(Children *c, pid_t pid) {
        for (ChildWatch **p = &c->watches; *p; p = &(*p)->next)
                if ((*p)->pid == pid) {
                        ChildWatch *w = *p;
                        *p = w->next;
                        return w;
                }
        return NULL;
}

void children_unwatch(Children *c, pid_t pid) {
        free(children_take(c, pid));
}

int children_reap(Children *c) {
        int n = 0, wstatus;
        pid_t pid;

        while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
                _cleanup_(freep) ChildWatch *w = children_take(c, pid);
                n++;
                if (w)
                        w->cb(pid, wstatus, w->userdata);
                else
                        log_debug("Reaped orphan %d.", (int)pid);
        }
        return n;
}

static int launch_start(void *ctx, const SpawnOptions *o, LaunchExitFn on_exit, void *userdata,
                        pid_t *ret_pid) {
        pid_t pid;
        int r;

        r = spawn_process(o, &pid);
        if (r < 0)
                return r;
        r = children_watch(ctx, pid, on_exit, userdata);
        if (r < 0) {
                /* Unwatched, its exit would never reach its owner. */
                (void)kill(-pid, SIGKILL);
                return r;
        }
        *ret_pid = pid;
        return 0;
}

static void launch_forget(void *ctx, pid_t pid) {
        children_unwatch(ctx, pid);
}

Launcher children_launcher(Children *c) {
        return (Launcher){ .start = launch_start, .forget = launch_forget, .ctx = c };
}
