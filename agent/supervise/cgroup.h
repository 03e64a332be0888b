/* A cgroup v2 of its own for each service (and for each Launcher child
 * that asks for one: children.h): a process that left its service's
 * process group (setsid()) is still in its cgroup, so when the service's
 * main process exits everything it left is killed at once (cgroup.kill,
 * Linux 5.14+) and the cgroup removed.  Where cgroups cannot be had (no
 * cgroup2, not delegated, an older kernel) the supervisor kills process
 * groups only: cgroup_base_setup() says why, once.  Nothing here logs
 * above debug. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "launch.h"
#include "macro.h"

#define CGROUP_MOUNT "/sys/fs/cgroup"
/* The leaf the agent moves itself into when its services' cgroups go
 * below its own: systemd's rule for a delegated subtree is that processes
 * live only in leaves. */
#define CGROUP_AGENT_LEAF "agent"

/* Finds (and prepares) the directory the services' cgroups go in, *ret
 * (owned): configured when not empty (a cgroup2 directory made for the
 * agent, which stays where it is); else the agent's own cgroup (from
 * /proc/self/cgroup, under CGROUP_MOUNT), which must be the root of its
 * cgroup namespace as PID 1 (pid1: the machine's init, or one with a
 * cgroup namespace of its own) and delegated to it otherwise
 * (systemd's Delegate=yes marks it with the trusted.delegate xattr); the
 * agent then moves itself into its leaf CGROUP_AGENT_LEAF there.  -errno
 * with why (a phrase: "cgroup2 not mounted at /sys/fs/cgroup") in why. */
int cgroup_base_setup(const char *configured, bool pid1, char **ret, char *why, size_t size);

typedef struct Cgroup Cgroup;

/* The cgroup base/name; nothing is made yet.  e is borrowed (for the
 * removal of one that is still emptying). */
int cgroup_new(sd_event *e, const char *base, const char *name, Cgroup **ret);
/* Kills what is left in it, removes it (waiting for it to empty at most
 * 2 s).  NULL-safe. */
Cgroup *cgroup_free(Cgroup *cg);
DEFINE_TRIVIAL_CLEANUP_FUNC(Cgroup *, cgroup_free);

/* Makes the cgroup, or takes over the one there (what still runs in it
 * killed first: left by an agent before this one).  0 and the path of its
 * cgroup.procs (borrowed from cg), for a child to move itself into before
 * it execs (SpawnOptions.cgroup_procs), or -errno. */
int cgroup_make(Cgroup *cg, const char **ret_procs);

/* Whether it is there: made, and not removed yet (cgroup_kill() removes
 * one that is still emptying later).  NULL: false. */
bool cgroup_exists(const Cgroup *cg);

/* The CPU time every process of the cgroup used since it was made
 * (cpu.stat), children and escapees included; -ENOENT when it is not
 * made (NULL-safe), -errno. */
int cgroup_cpu_usec(Cgroup *cg, uint64_t *ret);

/* The CPU time of everything that ran in the cgroup while cg had it, in
 * *ret_usec: each time it was made and then removed, read just before
 * its removal (once it emptied: the processes killed with it included),
 * and the one there now, read now; of one taken over from an agent
 * before this one, what it had counted then is not included.  A
 * cpu.stat that cannot be read counts as read last: the total never goes
 * back, and *ret_unread (NULL: not asked) counts the removals that could
 * not read it (what they used after the last read is missing).  NULL:
 * 0 and 0. */
void cgroup_cpu_total(Cgroup *cg, uint64_t *ret_usec, unsigned *ret_unread);

/* SIGKILLs every process in the cgroup (its main process has exited),
 * then removes it: now when it is empty, else once it is (cgroup.events,
 * on the event loop), unless cgroup_make() takes it first.  The number of
 * processes it held outside process group pgid (> 0: that group was
 * SIGKILLed already, and what it hit may not have exited yet: not left
 * behind; 0: all of them), or -errno (0 when it was not made). */
int cgroup_kill(Cgroup *cg, pid_t pgid);

/* The processes in it now (cgroup.procs): 0 and a new array of *ret_n
 * pids (NULL when none), or -errno (-ENOENT when it is not made). */
int cgroup_pids(const Cgroup *cg, pid_t **ret, size_t *ret_n);

/* Enables the memory controller for the cgroups below base (its
 * cgroup.subtree_control), for cgroup_set_memory_max().  -EOPNOTSUPP when
 * base does not have it (a hybrid layout, whose v1 hierarchy holds it;
 * not delegated), -errno, with why (a phrase) in why. */
int cgroup_memory_setup(const char *base, char *why, size_t size);

/* Its memory.max, in bytes (over it, what it runs is reclaimed, then
 * OOM-killed: all of it at once, memory.oom.group; never swapped,
 * memory.swap.max 0); once made, after
 * cgroup_memory_setup() on its base.  0: none, as a new cgroup has it
 * (memory.max and memory.swap.max "max", memory.oom.group 0), for one
 * taken over from an agent before that set a limit (the memory
 * controller it enabled in the base stays); 0 too without the memory
 * controller there.  -ENOENT when not made, -errno. */
int cgroup_set_memory_max(Cgroup *cg, uint64_t bytes);

/* Its memory.events since it was made (or taken over: an earlier one's
 * too): the times it reached its memory.max and the OOM killer was
 * called for it ("oom"), the processes the OOM killer killed in it, for
 * that or for the whole machine's memory ("oom_kill"), and the times it
 * reached its memory.max and the kernel reclaimed in it instead ("max":
 * each charge over it; a program held just above what it cannot give
 * back counts thousands a second, its code read back from disk). */
typedef struct CgroupOom {
        uint64_t at_max;
        uint64_t kills;
        uint64_t reclaims;
} CgroupOom;

/* 0, -ENOENT when not made or without the memory controller there,
 * -errno. */
int cgroup_oom_events(const Cgroup *cg, CgroupOom *ret);

/* Pages of it that the kernel evicted and then had to read back (memory.stat
 * workingset_refault_anon + workingset_refault_file; before Linux 5.9
 * workingset_refault alone; a key not there counts 0): rising while
 * memory.events' "max" does, it thrashes at its memory.max.  0, -ENOENT
 * when not made or without the memory controller there, -errno. */
int cgroup_memory_refaults(const Cgroup *cg, uint64_t *ret);

/* Its memory.pressure's "full avg10" (PSI: the share of the last 10 s in
 * which all its processes waited for memory), in hundredths of a
 * percent; -1 without PSI.  0, -ENOENT when not made, -errno. */
int cgroup_memory_stall(const Cgroup *cg, int *ret);

/* SIGKILLs every process in it now (cgroup.kill), as the OOM killer does
 * with memory.oom.group; it stays made.  0, -ENOENT when not made,
 * -errno. */
int cgroup_kill_all(Cgroup *cg);

/* Watches its memory.events on e (inotify, IN_MODIFY: the kernel signals
 * a change of it so, at most one per 10 ms, and a plain file written in
 * place does too), cb called for each change; *ret owned by the caller.
 * -ENOENT when not made, -errno. */
int cgroup_memory_events_watch(const Cgroup *cg, sd_event *e, sd_event_inotify_handler_t cb, void *userdata,
                               sd_event_source **ret);

/* A cgroup's memory.max (bytes, 0: none) and its OOM events and refaults
 * when that was set: what its child's are counted from. */
typedef struct CgroupMemory {
        uint64_t max;
        CgroupOom base;
        uint64_t refaults_base; /* cgroup_memory_refaults(); UINT64_MAX when unreadable then: none
                                 * counted since (a count from any time before is no child's) */
} CgroupMemory;

/* cgroup_set_memory_max(), and in *ret the limit, the OOM events and the
 * refaults so far (a cgroup taken over has its child before's), for
 * cgroup_memory_since().  bytes 0: none, lifting one that an agent
 * before left on a cgroup taken over.  *ret is zeroed first: on an
 * error, no limit.  -errno as cgroup_set_memory_max(). */
int cgroup_memory_limit(Cgroup *cg, uint64_t bytes, CgroupMemory *ret);

/* The limit m holds and the OOM events and refaults in cg since it was
 * set (all 0 when m has none; each file's 0 when it is unreadable). */
void cgroup_memory_since(const Cgroup *cg, const CgroupMemory *m, LaunchMemory *ret);
/* cgroup_memory_since() from memory.events alone, refaults 0: for an
 * exit, which exit_to_string() says from the OOM events only, without
 * reading memory.stat (some 50 counters the kernel gathers at each
 * read). */
void cgroup_memory_events_since(const Cgroup *cg, const CgroupMemory *m, LaunchMemory *ret);
