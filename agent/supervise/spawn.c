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
 * RLIMIT_NPROC bounds its user's tasks.  A step that fails, the exec
 * included, is reported to the parent on a pipe of its own (as
 * posix_spawn() does; the exec closes it, O_CLOEXEC), which reaps the
 * child and returns the error: the caller hears of a spawn that failed,
 * and why, not of an exit 126 or 127.  Only when the parent stopped
 * waiting (SPAWN_EXEC_WAIT_USEC) does the child say it on its stderr (the
 * service's log) and exit as tini does: 127 when exec fails with ENOENT,
 * 126 otherwise. */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

#include "errbuf.h"
#include "fileio.h"
#include "launch.h"
#include "log.h"
#include "macro.h"
#include "mount-util.h"
#include "poll-util.h"
#include "spawn.h"
#include "time-util.h"

extern char **environ;

/* What the child does before its exec, in order: what its report names
 * when one fails (step_message()). */
typedef enum SpawnStep {
        STEP_GROUP,
        STEP_FDS,
        STEP_CGROUP,
        STEP_OOM_SCORE,
        STEP_PRIVATE_TMP,
        STEP_TTY,
        STEP_CWD,
        STEP_LIMIT_CAPS,
        STEP_NO_NEW_PRIVS,
        STEP_NPROC,
        STEP_DROP,
        STEP_EXEC,
        _STEP_MAX,
} SpawnStep;

static const char *const step_what[_STEP_MAX] = {
        [STEP_GROUP] = "make a process group or session to run",
        [STEP_FDS] = "set up the file descriptors to run",
        [STEP_CGROUP] = "move into",
        [STEP_OOM_SCORE] = "set the OOM score adjustment to run",
        [STEP_PRIVATE_TMP] = "make a private /tmp, /var/tmp, /dev/shm and /run/lock to run",
        [STEP_TTY] = "take its controlling terminal to run",
        [STEP_CWD] = "enter",
        [STEP_LIMIT_CAPS] = "limit the capabilities to run",
        [STEP_NO_NEW_PRIVS] = "set no_new_privs to run",
        [STEP_NPROC] = "limit the processes of its user to run",
        [STEP_DROP] = "drop privileges to run",
        [STEP_EXEC] = "execute",
};

/* What the child writes to the parent when a step fails: one write of
 * less than PIPE_BUF, so the parent reads all of it or nothing. */
typedef struct ChildReport {
        int32_t step;
        int32_t error;
} ChildReport;

/* "execute /usr/bin/x as uid 1000: Resource temporarily unavailable":
 * the step, what it was done to, and why, as one line. */
static void step_message(const SpawnOptions *o, const char *binary, SpawnStep step, int error, char *buf,
                         size_t size) {
        const char *object = step == STEP_CGROUP ? o->cgroup_procs : step == STEP_CWD ? (o->cwd ?: "/") : binary;
        char uid[32] = "";

        if (o->uid != 0)
                snprintf(uid, sizeof uid, " as uid %u", (unsigned)o->uid);
        snprintf(buf, size, "%s %s%s: %s", step_what[step], object, uid, strerror(error));
        string_one_line(buf);
}

/* In the child: moves the source fds out of the way (a source may be one of
 * 0-3) and then onto their targets, and the report fd above them (it is
 * the only other fd left, O_CLOEXEC: its exec closes it).  dup2() clears
 * O_CLOEXEC on the target. */
static int child_setup_fds(const SpawnOptions *o, int *report_fd) {
        int src[4] = { o->stdin_fd, o->stdout_fd, o->stderr_fd, o->extra_fd };
        int n = o->extra_fd >= 0 ? 4 : 3, report;
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null_fd < 0)
                return -1;
        report = fcntl(*report_fd, F_DUPFD_CLOEXEC, 10);
        if (report < 0)
                return -1;
        *report_fd = report;
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
        (void)close_range(n, report - 1, 0);
        (void)close_range(report + 1, ~0U, 0);
        return 0;
}

/* In the child: step failed with error.  Told to the parent, which reaps
 * us and returns it; when the parent no longer listens (it stopped
 * waiting, SPAWN_EXEC_WAIT_USEC), said on our stderr instead (the
 * service's log, once fds are set up) and the exit says it as in tini:
 * 127 when exec found nothing, 126 otherwise.  The agent is single-threaded,
 * so stdio and strerror() are safe after fork. */
static _noreturn_ void child_fail(const SpawnOptions *o, const char *binary, int report_fd, SpawnStep step,
                                  int error) {
        ChildReport rep = { .step = step, .error = error };
        char msg[512];
        sigset_t pipe_only;

        /* Our SIGPIPE is back to its default: EPIPE rather than death. */
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        (void)sigprocmask(SIG_BLOCK, &pipe_only, NULL);
        if (write(report_fd, &rep, sizeof rep) != (ssize_t)sizeof rep && step > STEP_FDS) {
                step_message(o, binary, step, error, msg, sizeof msg);
                dprintf(STDERR_FILENO, "cannot %s\n", msg);
        }
        _exit(step == STEP_EXEC && error == ENOENT ? 127 : 126);
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

/* In the child: its oom_score_adj at least least.  The agent's own is
 * inherited through fork(): a negative one, which keeps the kernel's OOM
 * killer off the agent (the unit's OOMScoreAdjust=), must protect no
 * program it runs; a higher one than asked (the operator's, for the
 * agent and all it runs) is kept.  Without /proc there is nothing to
 * inherit it from that the child could see: nothing to do. */
static int child_oom_score_adj(int least) {
        char buf[16];
        ssize_t n;
        int fd, r = 0;

        /* Opened for writing only to raise it: a process that changed its
         * uid is not dumpable, its /proc files are root's. */
        fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        if (strtol(buf, NULL, 10) >= least)
                return 0;
        fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof buf, "%d", least);
        if (write(fd, buf, (size_t)n) < 0)
                r = -errno;
        close(fd);
        return r;
}

/* The steps that need root, before the user is dropped: 0, or -errno
 * and *ret_step (the fds, the group and the tty are done by then). */
static int child_as_root(const SpawnOptions *o, SpawnStep *ret_step) {
        int r;

        /* Before the exec: whatever it runs is in the cgroup from its
         * first instruction on, and nothing can have left it. */
        *ret_step = STEP_CGROUP;
        if (o->cgroup_procs && (r = write_setting(o->cgroup_procs, "0")) < 0)
                return r;
        *ret_step = STEP_OOM_SCORE;
        if ((r = child_oom_score_adj(o->oom_score_adj)) < 0)
                return r;
        *ret_step = STEP_PRIVATE_TMP;
        if (o->private_tmp && (r = child_private_tmp()) < 0)
                return r;
        *ret_step = STEP_TTY;
        if (o->controlling_tty && ioctl(0, TIOCSCTTY, 0) < 0)
                return -errno;
        *ret_step = STEP_CWD;
        if (chdir(o->cwd ?: "/") < 0)
                return -errno;
        *ret_step = STEP_LIMIT_CAPS;
        if (o->uid != 0 && o->ambient_caps &&
            (child_limit_caps(o->ambient_caps) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0))
                return -errno;
        *ret_step = STEP_NO_NEW_PRIVS;
        if (o->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        *ret_step = STEP_NPROC;
        if (o->uid != 0 && o->max_procs &&
            setrlimit(RLIMIT_NPROC, &(struct rlimit){ .rlim_cur = o->max_procs, .rlim_max = o->max_procs }) < 0)
                return -errno;
        *ret_step = STEP_DROP;
        if (o->uid != 0 && ((o->ambient_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) ||
                            setgroups(o->extra_gid ? 1 : 0, &o->extra_gid) < 0 ||
                            setresgid(o->gid, o->gid, o->gid) < 0 ||
                            setresuid(o->uid, o->uid, o->uid) < 0 ||
                            (o->ambient_caps && child_keep_caps(o->ambient_caps) < 0)))
                return -errno;
        return 0;
}

static _noreturn_ void child_exec(const SpawnOptions *o, const char *binary, int report_fd) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        SpawnStep step;
        sigset_t all;
        int r;

        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)sigaction(sig, &sa, NULL);
        sigemptyset(&all);
        (void)sigprocmask(SIG_SETMASK, &all, NULL);

        if (o->controlling_tty ? setsid() < 0 : setpgid(0, 0) < 0)
                child_fail(o, binary, report_fd, STEP_GROUP, errno);
        if (child_setup_fds(o, &report_fd) < 0)
                child_fail(o, binary, report_fd, STEP_FDS, errno);
        r = child_as_root(o, &step);
        if (r < 0)
                child_fail(o, binary, report_fd, step, -r);

        execve(binary, o->argv, o->envp ?: environ);
        child_fail(o, binary, report_fd, STEP_EXEC, errno);
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

/* 1 once poll() said the pollfd userdata is ready (or hung up). */
static int fd_readable(void *userdata) {
        return ((struct pollfd *)userdata)->revents != 0;
}

/* In the parent: what the child reported on fd, waited for at most
 * SPAWN_EXEC_WAIT_USEC.  0 when it exec'd (the pipe closed with its
 * O_CLOEXEC end, at the exec: EOF), died before (EOF too: its exit says
 * why), or did not get there in time (a step hanging: taken as started,
 * as the agent's one event loop must not hang with it); else -errno, and
 * the step that failed in *ret_step. */
static int exec_wait(int fd, SpawnStep *ret_step) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ChildReport rep;
        ssize_t n;
        int r = poll_until(now(CLOCK_MONOTONIC) + SPAWN_EXEC_WAIT_USEC, &p, 1, fd_readable, &p);

        if (r == -ETIMEDOUT)
                log_debug("A child did not exec within %u ms; taken as started.",
                          (unsigned)(SPAWN_EXEC_WAIT_USEC / USEC_PER_MSEC));
        if (r < 0)
                return 0; /* or poll() failed: cannot tell; taken as started, its exit will say */
        do
                n = read(fd, &rep, sizeof rep);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof rep || rep.step < 0 || rep.step >= _STEP_MAX)
                return 0;
        *ret_step = (SpawnStep)rep.step;
        return rep.error > 0 ? -rep.error : -EIO;
}

int spawn_process(const SpawnOptions *o, pid_t *ret_pid) {
        _cleanup_(freep) char *binary = NULL;
        _cleanup_(closep) int report_r = -EBADF;
        SpawnStep step = STEP_EXEC;
        int p[2], r;
        pid_t pid;

        if (o && o->error && o->error_size > 0)
                o->error[0] = '\0';
        if (!o || !o->argv || !o->argv[0])
                return -EINVAL;
        r = find_executable(o->argv[0], o->path, &binary);
        if (r < 0)
                return r;
        /* As posix_spawn() does: the child reports a failure before (or
         * at) its exec here; its exec closes the pipe. */
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        report_r = p[0];

        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(p[1]);
                return r;
        }
        if (pid == 0) {
                /* Its own read end would keep its report from failing
                 * (EPIPE) once we stopped listening. */
                (void)close(p[0]);
                child_exec(o, binary, p[1]);
        }
        safe_close(p[1]);

        /* Also from the parent, so a kill(-pid) right after we return cannot
         * race the child's own setpgid(). EACCES: it already exec'd. */
        if (!o->controlling_tty)
                (void)setpgid(pid, pid);
        r = exec_wait(report_r, &step);
        if (r < 0) {
                /* Reaped here, so no caller ever sees a pid for it.  No
                 * other reaper can take it first: the agent's
                 * (children_reap(), waitpid(-1) on SIGCHLD, in every mode,
                 * PID 1 too) runs from the same single-threaded event
                 * loop, which is not running during this call; the SIGCHLD
                 * left pending only makes it find nothing of this child. */
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                if (o->error && o->error_size > 0)
                        step_message(o, binary, step, -r, o->error, o->error_size);
                return r;
        }
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
