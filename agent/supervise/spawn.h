/* Spawning a child without a shell (the SpawnOptions of common/launch.h):
 * argv array, its own process group (so it is killed as a group), a reset
 * signal mask and dispositions, only the fds given (everything else is
 * O_CLOEXEC), in its cgroup from before the exec when given, with a
 * private /tmp, /var/tmp, /dev/shm, /run/lock and IPC namespace when
 * asked.  What fails in the child before or at its exec (its exec
 * refused, its user's task limit, a script's interpreter missing, the
 * cgroup, the mounts, the privilege drop) is a failed spawn, as
 * posix_spawn() reports it, not an exit of a process that never ran. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "launch.h"
#include "time-util.h"

/* How long spawn_process() waits for the child's exec.  Its steps before
 * are a few system calls, but one may hang (a cgroup write, a mount, a
 * chdir into a file system that does not answer), and the agent's one
 * event loop must not hang with it. */
#define SPAWN_EXEC_WAIT_USEC (5 * USEC_PER_SEC)

/* Forks and execs. The child is the leader of a new process group
 * (or session when controlling_tty).  0 and the pid once it exec'd (or
 * after SPAWN_EXEC_WAIT_USEC without a word from it: then what fails
 * later is its exit, 127 when its exec found nothing and 126 otherwise,
 * with "cannot <what>" on its stderr).  -errno before the fork (-ENOENT,
 * -EACCES: the binary is missing, or not executable); -errno of the step
 * that failed in the child (-EAGAIN: its user's task limit, -ENOENT: its
 * interpreter missing, -ENOEXEC, -EACCES, -EPERM, ...), with that child
 * reaped already and o->error saying what failed ("execute /usr/bin/x as
 * uid 1000: Resource temporarily unavailable"; "" for a failure before
 * the fork). */
int spawn_process(const SpawnOptions *o, pid_t *ret_pid);

/* Whether a child can keep caps (SpawnOptions.ambient_caps): each is in
 * this process's bounding and permitted sets, ambient capabilities may be
 * raised (no SECBIT_NO_CAP_AMBIENT_RAISE), and CAP_SETPCAP is effective
 * (to cut the child's bounding set). */
bool spawn_can_keep_caps(uint64_t caps);

/* Whether a child can be given private_tmp (SpawnOptions): a forked
 * child makes the namespaces and mounts, and exits.  0, or -errno (not
 * root, a container or seccomp refusing them). */
int spawn_private_tmp_check(void);

/* CPU time (user + system, in µs) the process has used so far, all its
 * threads, from /proc/<pid>/stat: how the supervisor tells a slow start
 * (a busy child, e.g. under an emulated CPU) from a hung one. */
int spawn_cpu_usec(pid_t pid, uint64_t *ret);
