/* Implementation of children.h: the pid → handler registry and the reaper.
 * A linked list: the agent has a handful of children at a time. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "children.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

struct ChildWatch {
        pid_t pid;
        ChildExitHandler cb;
        void *userdata;
        ChildWatch *next;
};

int children_watch(Manager *m, pid_t pid, ChildExitHandler cb, void *userdata) {
        ChildWatch *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (ChildWatch){ .pid = pid, .cb = cb, .userdata = userdata, .next = m->children };
        m->children = w;
        return 0;
}

static ChildWatch *children_take(Manager *m, pid_t pid) {
        for (ChildWatch **p = &m->children; *p; p = &(*p)->next)
                if ((*p)->pid == pid) {
                        ChildWatch *w = *p;
                        *p = w->next;
                        return w;
                }
        return NULL;
}

void children_unwatch(Manager *m, pid_t pid) {
        free(children_take(m, pid));
}

int children_reap(Manager *m) {
        int n = 0, wstatus;
        pid_t pid;

        while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
                _cleanup_(freep) ChildWatch *w = children_take(m, pid);
                n++;
                if (w)
                        w->cb(pid, wstatus, w->userdata);
                else
                        log_debug("Reaped orphan %d.", (int)pid);
        }
        return n;
}

void children_done(Manager *m) {
        while (m->children) {
                ChildWatch *w = m->children;
                m->children = w->next;
                free(w);
        }
}

const char *wstatus_to_string(int wstatus, char *buf, size_t size) {
        if (WIFEXITED(wstatus))
                snprintf(buf, size, "exited %d", WEXITSTATUS(wstatus));
        else if (WIFSIGNALED(wstatus))
                snprintf(buf, size, "%s by SIG%s", WCOREDUMP(wstatus) ? "dumped core, killed" : "killed",
                         sigabbrev_np(WTERMSIG(wstatus)) ?: "?");
        else
                snprintf(buf, size, "status 0x%x", (unsigned)wstatus);
        return buf;
}
