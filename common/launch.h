/* Starting processes without a shell, described as data, and the interface
 * through which a layer that does not own the process table starts one.
 * The supervisor's spawn (agent/supervise/spawn.c) executes a SpawnOptions;
 * its child registry reaps.  The agent wires both into a Launcher and hands
 * that down, so the login CLI runner, the HOMEs' remover and the browser's
 * window arranger start processes and hear of their exit without
 * depending on the supervisor; the Launcher also makes and removes the
 * cgroup a child asks for by name (cgroup_name). */
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* PATH when none is set: for the lookup, and what PID 1 exports. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The size of each private /tmp, /var/tmp, /dev/shm and /run/lock (SpawnOptions.private_tmp),
 * in MiB: room for what a program puts there by name (its TMPDIR is
 * elsewhere), not for filling the VM's memory. */
#define SPAWN_PRIVATE_TMP_MB 32u

typedef struct SpawnOptions {
        char *const *argv;   /* argv[0] is looked up in path when it has no '/' */
        char *const *envp;   /* NULL: inherit the agent's environment */
        const char *path;    /* PATH for lookup; NULL: getenv("PATH") or DEFAULT_PATH */
        const char *cwd;     /* NULL: "/" */
        int stdin_fd;        /* -1: /dev/null */
        int stdout_fd;       /* -1: /dev/null */
        int stderr_fd;       /* -1: same as stdout */
        int extra_fd;        /* -1 none; else passed as fd 3 (e.g. Xvfb -displayfd 3) */
        bool controlling_tty;/* stdin_fd is a pty slave: setsid() + TIOCSCTTY */
        uid_t uid;           /* 0: the agent's own; else the child drops to uid/gid */
        gid_t gid;           /* with uid: the primary group */
        gid_t extra_gid;     /* with uid: its one supplementary group (the X server's, to reach its
                              * socket); 0: none */
        uint64_t ambient_caps; /* with uid: capabilities it keeps (bits 1 << CAP_*), as ambient ones;
                                * nothing else in its bounding set, no_new_privs */
        bool no_new_privs;   /* nothing it execs gains privileges (a setuid binary runs as the caller) */
        uint32_t max_procs;  /* with uid: RLIMIT_NPROC, the tasks uid may have at once (fork fails
                              * past it); 0: no limit */
        const char *cgroup_procs; /* NULL: none; else a cgroup's cgroup.procs, which the child writes
                                   * itself into before anything else runs in it (it stays root's until
                                   * then): nothing it starts is outside that cgroup */
        const char *cgroup_name; /* Launcher.start only (spawn_process() ignores it): NULL, or the name
                                  * (filename_is_valid()) of a cgroup of the launcher's own for the child
                                  * and all it starts, a process that left its group or session too */
        int oom_score_adj;   /* the least oom_score_adj it runs with: 0 (the default) resets a negative
                              * one the agent has (OOMScoreAdjust= of its unit, which protects the
                              * agent alone); more makes the kernel's OOM killer take it first (a
                              * provider CLI); one the agent has above it is kept */
        uint64_t memory_max; /* Launcher.start only, with cgroup_name: that cgroup's memory.max in
                              * bytes, where the launcher has the memory controller (0: none) */
        bool private_tmp;    /* a mount namespace of its own, nothing mounted there going back, with
                              * empty tmpfs on private_tmp_dirs (mount-util.h; SPAWN_PRIVATE_TMP_MB
                              * each, 1777, nosuid, nodev; one that is missing is left so) and a
                              * new /dev/mqueue, and an IPC namespace of its own: what it leaves
                              * where anyone may write by name (files, SysV IPC, POSIX queues) goes
                              * with it, seen by no other process */
        char *error;         /* NULL, or error_size bytes the spawn writes: "" and, when a step in the
                              * child failed (before or at its exec: the spawn's -errno), what failed
                              * and why ("execute /usr/bin/x as uid 1000: Resource temporarily
                              * unavailable"); a caller's buffer in a const SpawnOptions */
        size_t error_size;
} SpawnOptions;

/* A started child's cgroup's memory.max (bytes) and, since the child
 * started, the processes the kernel's OOM killer killed in it and the
 * times it reached that memory.max (no kill then: the machine's memory
 * ran out). */
typedef struct LaunchMemory {
        uint64_t max;
        uint64_t oom_kills;
        uint64_t at_max;
        uint64_t reclaims; /* the times it reached that memory.max and the kernel reclaimed in it
                            * (memory.events' "max"), killed or not */
        uint64_t refaults; /* pages of it the kernel evicted and it then read back (memory.stat's
                            * workingset refaults): what tells thrashing from a full file cache */
} LaunchMemory;

/* wstatus as from waitpid(). */
typedef void (*LaunchExitFn)(pid_t pid, int wstatus, void *userdata);

typedef struct Launcher {
        /* Spawns o (a new process group, or session with controlling_tty)
         * and calls on_exit once, from the event loop, when it has been
         * reaped.  0 and the pid, or -errno (-ENOENT: no such binary;
         * -EBUSY: a live child of this launcher's has o->cgroup_name; a
         * step in the child that failed, its exec included, as
         * o->error says: no child is left, on_exit is never called).
         * With o->cgroup_name and a launcher that has cgroups, the child
         * runs in the cgroup <cgroup_name>.scope (never a service's
         * <name>.service), made for it (one left from before is taken
         * over, what ran in it killed); once the child is reaped (before
         * on_exit) or forgotten, what is left in it is SIGKILLed at once
         * (cgroup.kill) and it is removed.  Without cgroups, or when it
         * cannot be made, the child runs in the agent's own cgroup: only
         * its group goes, as its owner kills it. */
        int (*start)(void *ctx, const SpawnOptions *o, LaunchExitFn on_exit, void *userdata,
                     pid_t *ret_pid);
        /* on_exit is no longer wanted for pid (its owner killed it and is
         * going away); the reaper still collects it.  Its cgroup, if it
         * has one, is killed and removed now. */
        void (*forget)(void *ctx, pid_t pid);
        /* SIGKILLs each process below the agent that runs as uid (never 0:
         * -EPERM), whatever its group or session: what processes of that
         * user left behind.  The number signalled that nothing had killed
         * already (a child's cgroup, see forget), or -errno.  NULL: the
         * launcher cannot (0). */
        int (*kill_uid)(void *ctx, uid_t uid);
        /* The CPU time that a started child's cgroup (cgroup_name), all it
         * started included, used since the child started (not what a
         * child before it used in a cgroup it took over): while it runs,
         * and once it is reaped (read as it was, before its cgroup went)
         * until the next child of the launcher is reaped or forgotten:
         * from its on_exit, or just before launcher_forget().  -ENOENT:
         * it has no cgroup, or is none of the launcher's; -ENODATA: its
         * cgroup has no cpu.stat, or no usage_usec there; -errno: that
         * unreadable.
         * NULL: the launcher has no cgroups (-EOPNOTSUPP). */
        int (*cpu_usec)(void *ctx, pid_t pid, uint64_t *ret);
        /* The memory.max of a started child's cgroup and the OOM kills in
         * it (memory.events), read as cpu_usec is: while it runs, and once
         * reaped (before its cgroup went) until the next child is reaped
         * or forgotten.  -ENOENT: it has no memory.max (no cgroup, no
         * memory controller), or is none of the launcher's.  NULL: the
         * launcher has no cgroups (-EOPNOTSUPP). */
        int (*memory)(void *ctx, pid_t pid, LaunchMemory *ret);
        void *ctx;
} Launcher;

static inline int launcher_start(const Launcher *l, const SpawnOptions *o, LaunchExitFn on_exit,
                                 void *userdata, pid_t *ret_pid) {
        return l->start(l->ctx, o, on_exit, userdata, ret_pid);
}

static inline void launcher_forget(const Launcher *l, pid_t pid) {
        l->forget(l->ctx, pid);
}

/* Sends sig to the group a started child leads, or to the child itself
 * when it has none yet (one that makes its own session has not called
 * setsid()).  pid must not have been reaped: then it still names the
 * child. */
static inline void launch_signal(pid_t pid, int sig) {
        if (kill(-pid, sig) < 0 && errno == ESRCH)
                (void)kill(pid, sig);
}

/* The owner of pid (a process group leader it started) is done with it:
 * its whole group SIGKILLed at once (launch_signal(); its exit was not
 * reported, so it is not reaped), its exit no longer wanted (the reaper
 * collects it), its cgroup (cgroup_name) killed. */
static inline void launcher_kill_forget(const Launcher *l, pid_t pid) {
        launch_signal(pid, SIGKILL);
        launcher_forget(l, pid);
}

static inline int launcher_kill_uid(const Launcher *l, uid_t uid) {
        return l->kill_uid ? l->kill_uid(l->ctx, uid) : 0;
}

static inline int launcher_memory(const Launcher *l, pid_t pid, LaunchMemory *ret) {
        return l->memory ? l->memory(l->ctx, pid, ret) : -EOPNOTSUPP;
}

static inline int launcher_cpu_usec(const Launcher *l, pid_t pid, uint64_t *ret) {
        return l->cpu_usec ? l->cpu_usec(l->ctx, pid, ret) : -EOPNOTSUPP;
}

/* Looks name up in path (NULL: $PATH, else DEFAULT_PATH); a name with a
 * '/' is taken as is when executable.  0 and the full path in ret (owned),
 * or -ENOENT. */
int find_executable(const char *name, const char *path, char **ret);

/* The agent's own binary (/proc/self/exe), for children that run one of
 * its verbs; DEFAULT_SELF_EXE when it cannot be read.  Owned; NULL only
 * on ENOMEM. */
#define DEFAULT_SELF_EXE "/usr/sbin/vm-browser-agent"
char *self_exe_path(void);

/* "exited 1", "killed by SIGKILL", "dumped core, killed by SIGSEGV" into
 * buf; returns buf. */
const char *wstatus_to_string(int wstatus, char *buf, size_t size);

/* How a child with a memory.max ended, into buf; returns buf.  The OOM
 * kills in its cgroup first (it was killed with them, memory.oom.group,
 * or ended for what they killed): "killed by the kernel: out of memory
 * (memory.max N MiB)", or "(the VM's)" when its cgroup never reached
 * that; else wstatus_to_string().  mem NULL: it had none. */
const char *exit_to_string(int wstatus, const LaunchMemory *mem, char *buf, size_t size);

/* Why a child that is not ready may crawl, into buf; returns buf: when
 * it kept reaching its memory.max (mem->reclaims) and reading back what
 * the kernel evicted (mem->refaults), "at its memory.max N MiB: the
 * kernel reclaimed its memory K times since it started and read back R
 * pages it had evicted, its code too, as it runs; raise <key>" (key: the
 * setting that gave the limit), else "".  A limit below what the child
 * holds that no reclaim takes back (no swap) kills it; one just above it
 * keeps it crawling instead, busy and never ready, with nothing else to
 * say why.  Reclaims without refaults are a limit full of file cache (a
 * large download), given back cheaply: nothing to raise.  mem NULL: it
 * has none.  MEMORY_PRESSURE_MAX holds any such text with a key of up to
 * 40 bytes. */
#define MEMORY_PRESSURE_MAX 320
const char *memory_pressure_to_string(const LaunchMemory *mem, const char *key, char *buf, size_t size);
