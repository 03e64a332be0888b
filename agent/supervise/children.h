/* Child processes: one registry for the whole agent.  The owner of SIGCHLD
 * (the manager) calls children_reap(), which reaps every child
 * (waitpid(-1, WNOHANG) in a loop, as PID 1 must, orphans included) and
 * dispatches each exit to whoever registered that pid.  The supervisor
 * registers its services here; children_launcher() exposes spawn + watch
 * as the Launcher interface (common/launch.h) for the layers above that
 * start processes too (login CLIs, the HOMEs' remover, the browser's
 * window arranger), with a cgroup of its own for a child that asks for
 * one (SpawnOptions.cgroup_name) once children_set_cgroup_base() gave
 * where; its kill_uid counts none of what such a cgroup's kill hit and
 * has not ended yet (killed again and waited for all the same).
 * SIGCHLD (and the other signals the manager handles) is blocked before
 * any child exists; spawn_process() restores the mask in the child. */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

#include "launch.h"

typedef struct Children Children;

int children_new(Children **ret);
/* Frees the registry; the processes are not touched, but for what is left
 * in the cgroups its Launcher made, which is killed, and those removed
 * (at most 2 s each for them to empty).  NULL-safe. */
Children *children_free(Children *c);

int children_watch(Children *c, pid_t pid, LaunchExitFn cb, void *userdata);
void children_unwatch(Children *c, pid_t pid);
/* Reaps everything that has exited; called on SIGCHLD.  Returns how many. */
int children_reap(Children *c);

/* SIGKILLs every live process that descends from this one and runs as uid
 * (its real uid), one that left its process group with setsid() included
 * (orphans reparent to the agent: PID 1 or a subreaper), and looks again
 * until a pass finds no new one (a child forked meanwhile).  For a user
 * whose servers face the network, before the secrets they serve change:
 * whatever a hole in them left running is gone first; for the provider
 * CLIs' user once no CLI runs: what they started in sessions of their own
 * goes with them.  Nothing but each process's status is read (another
 * user's memory could stall the read).  With wait_gone, returns once
 * they are gone (what they were doing in the kernel done: no file of
 * theirs appears after), or after 2 s for one stuck in the kernel.  Never
 * for root (-EPERM).  The number signalled, or -errno when /proc cannot
 * be read.  The exits are reaped as usual (children_reap()). */
int children_kill_uid(uid_t uid, bool wait_gone);

/* Sends sig once to every live process that descends from this one,
 * whatever its uid, one that left its process group with setsid()
 * included, as children_kill_uid() finds them.  For the agent's stop
 * when it is not PID 1 (PID 1 signals every process, kill(-1)): what
 * escaped its service's process group is orphaned to the agent, a
 * subreaper, and would outlive it.  The number signalled, or -errno when
 * /proc cannot be read; the exits are reaped as usual. */
int children_signal_all(int sig);

/* spawn_process() + children_watch() as a Launcher; c must outlive it. */
Launcher children_launcher(Children *c);
/* Where the Launcher's children that ask for a cgroup (cgroup_name) get
 * it: <base>/<cgroup_name>.scope, beside the services' cgroups
 * (cgroup_base_setup()); base NULL: nowhere (the default), e borrowed
 * (for a removal that waits for a cgroup to empty).  0 or -ENOMEM. */
int children_set_cgroup_base(Children *c, sd_event *e, const char *base);

/* Enables the memory controller below the cgroup base (cgroup.h), so that
 * a child that asks for a memory.max (SpawnOptions.memory_max) gets it in
 * its cgroup.  -EOPNOTSUPP without a base or without the controller
 * there, -errno, with why (a phrase); children then get none. */
int children_memory_setup(Children *c, char *why, size_t size);
