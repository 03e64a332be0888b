/* Spawning a child without a shell: argv array, its own process group (so
 * it is killed as a group), a reset signal mask and dispositions, only the
 * fds given (everything else is O_CLOEXEC), exit 127 when the binary is
 * missing and 126 when it cannot be executed.
 * CONTRACT shared by the supervisor and the login runner. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* PATH when none is set: for the lookup here, and what PID 1 exports. */
#define SPAWN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct SpawnOptions {
        char *const *argv;   /* argv[0] is looked up in path when it has no '/' */
        char *const *envp;   /* NULL: inherit the agent's environment */
        const char *path;    /* PATH for lookup; NULL: getenv("PATH") or a default */
        const char *cwd;     /* NULL: "/" */
        int stdin_fd;        /* -1: /dev/null */
        int stdout_fd;       /* -1: /dev/null */
        int stderr_fd;       /* -1: same as stdout */
        int extra_fd;        /* -1 none; else passed as fd 3 (e.g. Xvfb -displayfd 3) */
        bool controlling_tty;/* stdin_fd is a pty slave: setsid() + TIOCSCTTY */
} SpawnOptions;

/* Looks argv[0] up in path: 0 and the full path in ret (caller frees), or -ENOENT. */
int spawn_find_binary(const char *name, const char *path, char **ret);
/* Forks and execs. The child is the leader of a new process group
 * (or session when controlling_tty).  Returns 0 and the pid. */
int spawn_process(const SpawnOptions *o, pid_t *ret_pid);

/* CPU time (user + system, in µs) the process has used so far, all its
 * threads, from /proc/<pid>/stat: how the supervisor tells a slow start
 * (a busy child, e.g. under an emulated CPU) from a hung one. */
int spawn_cpu_usec(pid_t pid, uint64_t *ret);
