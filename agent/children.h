/* Child processes: one SIGCHLD handler for the whole agent reaps every
 * child (waitpid(-1, WNOHANG) in a loop, as PID 1 must, orphans included)
 * and dispatches each exit to whoever registered that pid.  Supervisor and
 * login runner both spawn through spawn.h and register here.
 * The Manager blocks SIGCHLD (and the other signals it handles) before any
 * child exists; spawn_process() restores the mask in the child. */
#pragma once

#include <sys/types.h>

typedef struct Manager Manager;
typedef struct ChildWatch ChildWatch;

/* wstatus as from waitpid(). */
typedef void (*ChildExitHandler)(pid_t pid, int wstatus, void *userdata);

int children_watch(Manager *m, pid_t pid, ChildExitHandler cb, void *userdata);
void children_unwatch(Manager *m, pid_t pid);
/* Reaps everything that has exited; called on SIGCHLD. Returns how many. */
int children_reap(Manager *m);
/* Frees the registry (at exit). */
void children_done(Manager *m);

/* "exited 1", "killed by SIGKILL", "dumped core (SIGSEGV)" into buf. */
const char *wstatus_to_string(int wstatus, char *buf, size_t size);
