/* Spawning a child without a shell (the SpawnOptions of common/launch.h):
 * argv array, its own process group (so it is killed as a group), a reset
 * signal mask and dispositions, only the fds given (everything else is
 * O_CLOEXEC), in its cgroup from before the exec when given, with a
 * private /tmp, /var/tmp, /dev/shm, /run/lock and IPC namespace when asked, exit 127
 * when the binary is missing and 126 when it cannot be executed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "launch.h"

/* Forks and execs. The child is the leader of a new process group
 * (or session when controlling_tty).  Returns 0 and the pid. */
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
