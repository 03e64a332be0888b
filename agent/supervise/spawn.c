/* Implementation of spawn.h: fork + execve without a shell.  The child
 * resets every signal disposition and unblocks every signal (the agent
 * blocks the ones it reads through signalfd, and a blocked mask survives
 * exec), becomes a process-group (or session) leader so it can be killed
 * as a group, and gets exactly fds 0-2 (and 3 when asked): everything else
 * is closed with close_range() even if someone forgot O_CLOEXEC.  Given a
 * cgroup, it writes itself into it next, while still root and before
 * anything is exec'd.  With private_tmp it then enters a mount and an
 * IPC namespace of its own and mounts its empty tmpfs there, still root.
 * With a
 * uid it drops to that user last, after everything that needs root: no
 * supplementary group but extra_gid when given, then the gid, then the
 * uid (all three ids each), so nothing of root's is left to regain, but
 * for the capabilities asked for (ambient_caps): kept across the uid
 * change, then made the only permitted, effective, inheritable and
 * ambient ones, which is what exec leaves a non-root program; its
 * bounding set is cut to them and it gets no_new_privs; with max_procs,
 * RLIMIT_NPROC bounds its user's tasks.  As in tini: 127 when exec fails
 * with ENOENT, 126 otherwise (and when it cannot drop); from the chdir
 * on, the child also says on its stderr (the service's log) what failed
 * and why, which the exit code cannot. */
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/securebits.h>

#include "fileio.h"
#include "launch.h"
#include "macro.h"
#include "mount-util.h"
#include "spawn.h"

extern char **environ;

/* In the child: moves the source fds out of the way (a source may be one of
 * 0-3) and then onto their targets.  dup2() clears O_CLOEXEC on the target. */
static int child_setup_fds(const SpawnOptions *o) {
        int src[4] = { o->stdin_fd, o->stdout_fd, o->stderr_fd, o->extra_fd };
        int n = o->extra_fd >= 0 ? 4 : 3;
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null_fd < 0)
                return -1;
        if (src[2] < 0)
                src[2] = src[1];
        for (int i = 0; i < 3; i++)
                if (src[i] < 0)
                        src[i] = null_fd;
        for (int i = 0; i < n; i++) {
                src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10);
                if (src[i] < 0)
                        return -1;
        }
        for (int i = 0; i < n; i++)
                if (dup2(src[i], i) < 0)
                        return -1;
        (void)close_range(n, ~0U, 0);
        return 0;
}

/* In the child, once fd 2 is the service's: one line, then the exit.  The
 * agent is single-threaded, so stdio and strerror() are safe after fork. */
static _noreturn_ void child_fail(const SpawnOptions *o, const char *what, const char *path, int code) {
        int e = errno;

        if (o->uid != 0)
                dprintf(STDERR_FILENO, "cannot %s %s as uid %u: %s\n", what, path, (unsigned)o->uid, strerror(e));
        else
                dprintf(STDERR_FILENO, "cannot %s %s: %s\n", what, path, strerror(e));
        _exit(code);
}

/* In the child, after setresuid() with PR_SET_KEEPCAPS: only caps are left
 * (permitted, effective, inheritable), and raised as ambient ones so that
 * they survive the exec of a program without file capabilities. */
static int child_keep_caps(uint64_t caps) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        for (int i = 0; i < 2; i++)
                d[i].effective = d[i].permitted = d[i].inheritable = (uint32_t)(caps >> (32 * i));
        if (syscall(SYS_capset, &h, d) < 0)
                return -1;
        for (int cap = 0; cap < 64; cap++)
                if ((caps & (UINT64_C(1) << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                        return -1;
        return 0;
}

/* In the child, still root: a program that keeps capabilities keeps no
 * others in its bounding set and cannot gain any through exec (setuid or
 * file capabilities), for itself or what it runs (Xvfb runs xkbcomp
 * through sh, which inherits the ambient ones). */
static int child_limit_caps(uint64_t caps) {
        for (int cap = 0; cap < 64; cap++) {
                if (caps & (UINT64_C(1) << cap))
                        continue;
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
                        return errno == EINVAL ? 0 : -1; /* past the kernel's last capability */
        }
        return 0;
}

/* In the child, still root: a mount namespace whose mounts stay there
 * (the agent's / may be shared, and would take them back; the agent's
 * later mounts still come in), new tmpfs on the private_tmp_dirs
 * (mount-util.h), and an IPC namespace, whose queues a new mqueue file
 * system shows.  A
 * directory that is missing has nothing to hide (only root could make
 * it), nor has a kernel without POSIX queues. */
static int child_private_tmp(void) {
        char options[128];
        int r;

        if (unshare(CLONE_NEWNS | CLONE_NEWIPC) < 0)
                return -errno;
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                return -errno;
        r = tmpfs_options(options, sizeof options, SPAWN_PRIVATE_TMP_MB, 01777, 0, 0);
        if (r < 0)
                return r;
        for (size_t i = 0; private_tmp_dirs[i]; i++)
                if (mount("tmpfs", private_tmp_dirs[i], "tmpfs", MS_NOSUID | MS_NODEV, options) < 0 &&
                    errno != ENOENT)
                        return -errno;
        if (mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
            errno != ENOENT && errno != ENODEV)
                return -errno;
        return 0;
}

int spawn_private_tmp_check(void) {
        pid_t pid;
        int ws;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int r = child_private_tmp();

                _exit(r < 0 ? -r : 0);
        }
        while (waitpid(pid, &ws, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(ws))
                return -EIO;
        return -WEXITSTATUS(ws);
}

static _noreturn_ void child_exec(const SpawnOptions *o, const char *binary) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t all;
        int r;

        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)sigaction(sig, &sa, NULL);
        sigemptyset(&all);
        (void)sigprocmask(SIG_SETMASK, &all, NULL);

        if (o->controlling_tty) {
                if (setsid() < 0)
                        _exit(126);
        } else if (setpgid(0, 0) < 0)
                _exit(126);
        if (child_setup_fds(o) < 0)
                _exit(126);
        /* Before the exec: whatever it runs is in the cgroup from its
         * first instruction on, and nothing can have left it. */
        if (o->cgroup_procs && (r = write_setting(o->cgroup_procs, "0")) < 0) {
                errno = -r;
                child_fail(o, "move into", o->cgroup_procs, 126);
        }
        if (o->private_tmp && (r = child_private_tmp()) < 0) {
                errno = -r;
                child_fail(o, "make a private /tmp, /var/tmp, /dev/shm and /run/lock to run", binary, 126);
        }
        if (o->controlling_tty && ioctl(0, TIOCSCTTY, 0) < 0)
                _exit(126);
        if (chdir(o->cwd ?: "/") < 0)
                child_fail(o, "enter", o->cwd ?: "/", 126);
        if (o->uid != 0 && o->ambient_caps &&
            (child_limit_caps(o->ambient_caps) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0))
                child_fail(o, "limit the capabilities to run", binary, 126);
        if (o->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(o, "set no_new_privs to run", binary, 126);
        if (o->uid != 0 && o->max_procs &&
            setrlimit(RLIMIT_NPROC, &(struct rlimit){ .rlim_cur = o->max_procs, .rlim_max = o->max_procs }) < 0)
                child_fail(o, "limit the processes of its user to run", binary, 126);
        if (o->uid != 0 && ((o->ambient_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) ||
                            setgroups(o->extra_gid ? 1 : 0, &o->extra_gid) < 0 ||
                            setresgid(o->gid, o->gid, o->gid) < 0 ||
                            setresuid(o->uid, o->uid, o->uid) < 0 ||
                            (o->ambient_caps && child_keep_caps(o->ambient_caps) < 0)))
                child_fail(o, "drop privileges to run", binary, 126);

        execve(binary, o->argv, o->envp ?: environ);
        child_fail(o, "execute", binary, errno == ENOENT ? 127 : 126);
}

bool spawn_can_keep_caps(uint64_t caps) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};
        uint64_t permitted;
        int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);

        if (bits < 0 || (bits & (1 << SECURE_NO_CAP_AMBIENT_RAISE)) || syscall(SYS_capget, &h, d) < 0)
                return false;
        permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
        /* The child cuts its bounding set to caps first. */
        if (!(d[0].effective & (UINT32_C(1) << CAP_SETPCAP)))
                return false;
        for (int cap = 0; cap < 64; cap++)
                if ((caps & (UINT64_C(1) << cap)) &&
                    (!(permitted & (UINT64_C(1) << cap)) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1))
                        return false;
        return true;
}

int spawn_process(const SpawnOptions *o, pid_t *ret_pid) {
        _cleanup_(freep) char *binary = NULL;
        pid_t pid;
        int r;

        if (!o || !o->argv || !o->argv[0])
                return -EINVAL;
        r = find_executable(o->argv[0], o->path, &binary);
        if (r < 0)
                return r;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                child_exec(o, binary);

        /* Also from the parent, so a kill(-pid) right after we return cannot
         * race the child's own setpgid(). EACCES: it already exec'd. */
        if (!o->controlling_tty)
                (void)setpgid(pid, pid);
        *ret_pid = pid;
        return 0;
}

int spawn_cpu_usec(pid_t pid, uint64_t *ret) {
        _cleanup_(freep) char *text = NULL;
        unsigned long long utime, stime;
        char path[32];
        const char *p;
        long tck = sysconf(_SC_CLK_TCK);
        int r;

        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        r = read_full_file(path, 4096, &text, NULL);
        if (r < 0)
                return r;
        /* After the comm field, which may itself hold ") ": field 3 on. */
        p = strrchr(text, ')');
        if (!p || tck <= 0 ||
            sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return -EIO;
        *ret = (utime + stime) * (1000000ULL / (unsigned long long)tck);
        return 0;
}
