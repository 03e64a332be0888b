/* What isolating a provider CLI costs per start.  Each run starts
 * /bin/true through the agent's own Launcher (children_launcher():
 * spawn_process(), and the scope cgroup when asked for) in one of these
 * modes:
 *
 *   plain        nothing but spawn_process()'s own setup (the baseline);
 *   uid          an unprivileged uid/gid, no_new_privs and RLIMIT_NPROC
 *                1024, as the CLIs get them (cli_tasks_max's default);
 *   private_tmp  SpawnOptions.private_tmp;
 *   cgroup       SpawnOptions.cgroup_name, a scope below CGROUP_BASE;
 *   all          the three together, as login.c starts a CLI;
 *
 * and records two times from just before launcher_start():
 *
 *   exec    to the child's execve as the kernel stamped it (the proc
 *           connector's PROC_EVENT_EXEC, CLOCK_MONOTONIC): what the start
 *           costs, free of the reaper's and of /bin/true's own run;
 *   reaped  to the exit reaped (SIGCHLD on sd-event, children_reap()),
 *           the scope's cgroup killed and removed before that: the whole
 *           cycle, namespaces' teardown at exit included.
 *
 * Rounds interleave the modes, the first in a round rotating; one round
 * of warm-up is not counted.  One line per sample on stdout:
 * "MODE EXEC_NS REAPED_NS", EXEC_NS -1 when the connector dropped the
 * event (its buffer overflowed).  bench/spawn-isolation runs it.  Root.
 *
 *   bench-spawn RUNS UID GID CGROUP_BASE|- MODE... */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <systemd/sd-event.h>

#include "agent/supervise/children.h"
#include "agent/supervise/spawn.h"
#include "macro.h"
#include "parse-util.h"

#define MODES_MAX 8

typedef struct Mode {
        const char *name;
        bool uid, tmp, cgroup;
} Mode;

static const Mode modes[] = {
        { "plain" },
        { "uid", .uid = true },
        { "private_tmp", .tmp = true },
        { "cgroup", .cgroup = true },
        { "all", .uid = true, .tmp = true, .cgroup = true },
};

/* One run's state, shared by the event handlers. */
typedef struct Run {
        Children *children;
        pid_t pid;            /* 0 while none is being measured */
        int64_t exec_ns;      /* -1 until its exec is seen */
        int64_t reaped_ns;    /* -1 until reaped */
        int wstatus;
} Run;

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A NETLINK_CONNECTOR socket subscribed to the proc connector's events
 * (every fork, exec and exit on the machine: a big buffer). */
static int cn_open(void) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
        char req[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))] = {};
        struct nlmsghdr *nl = (struct nlmsghdr *)req;
        struct cn_msg *cn = NLMSG_DATA(nl);
        enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
        int size = 16 << 20, fd;

        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
        if (fd < 0)
                return -errno;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
        *nl = (struct nlmsghdr){ .nlmsg_len = NLMSG_LENGTH(sizeof *cn + sizeof op), .nlmsg_type = NLMSG_DONE };
        *cn = (struct cn_msg){ .id = { .idx = CN_IDX_PROC, .val = CN_VAL_PROC }, .len = sizeof op };
        memcpy(cn->data, &op, sizeof op);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || send(fd, req, nl->nlmsg_len, 0) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

/* Reads what is queued; the exec of run->pid, when there, into exec_ns.
 * An overflow (ENOBUFS) lost events: that sample has none. */
static int on_cn(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Run *run = userdata;
        char buf[4096];
        ssize_t n;

        while ((n = recv(fd, buf, sizeof buf, 0)) > 0 || (n < 0 && (errno == EINTR || errno == ENOBUFS))) {
                struct nlmsghdr *nl = (struct nlmsghdr *)buf;
                struct proc_event ev;

                if (n <= 0 || !NLMSG_OK(nl, (size_t)n) ||
                    nl->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof ev))
                        continue;
                memcpy(&ev, ((struct cn_msg *)NLMSG_DATA(nl))->data, sizeof ev);
                if (run->pid > 0 && ev.what == PROC_EVENT_EXEC && ev.event_data.exec.process_pid == run->pid)
                        run->exec_ns = (int64_t)ev.timestamp_ns;
        }
        return 0;
}

static void on_child_exit(pid_t pid, int wstatus, void *userdata) {
        Run *run = userdata;

        run->reaped_ns = now_ns();
        run->wstatus = wstatus;
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Run *run = userdata;

        (void)children_reap(run->children);
        return 0;
}

/* Starts /bin/true in mode m through l and runs e until it is reaped. */
static int run_one(sd_event *e, const Launcher *l, int cn, Run *run, const Mode *m, uid_t uid, gid_t gid,
                   int64_t *ret_exec, int64_t *ret_reaped) {
        char *const argv[] = { (char *)"/bin/true", NULL };
        char *const envp[] = { (char *)"PATH=/usr/bin:/bin", NULL };
        SpawnOptions o = { .argv = argv, .envp = envp, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = STDERR_FILENO,
                           .extra_fd = -1, .private_tmp = m->tmp, .cgroup_name = m->cgroup ? "bench" : NULL };
        int64_t t0;
        int r;

        if (m->uid) {
                o.uid = uid;
                o.gid = gid;
                o.no_new_privs = true;
                o.max_procs = 1024;
        }
        run->pid = 0;
        (void)on_cn(NULL, cn, 0, run); /* what came before is not ours */
        *run = (Run){ .children = run->children, .exec_ns = -1, .reaped_ns = -1 };
        t0 = now_ns();
        r = launcher_start(l, &o, on_child_exit, run, &run->pid);
        if (r < 0)
                return r;
        while (run->reaped_ns < 0)
                if ((r = sd_event_run(e, UINT64_MAX)) < 0)
                        return r;
        (void)on_cn(NULL, cn, 0, run); /* queued at its exec, before its exit */
        if (!WIFEXITED(run->wstatus) || WEXITSTATUS(run->wstatus) != 0)
                return -ECHILD;
        *ret_exec = run->exec_ns < 0 ? -1 : run->exec_ns - t0;
        *ret_reaped = run->reaped_ns - t0;
        return 0;
}

/* Why mode m cannot be measured here, or NULL. */
static const char *mode_unavailable(const Mode *m, bool have_cgroup, int tmp_check) {
        if (m->cgroup && !have_cgroup)
                return "no cgroup base given (cgroup2 with cgroup.kill)";
        if (m->tmp && tmp_check < 0)
                return "private_tmp: this process cannot make a mount and IPC namespace and mount tmpfs";
        return NULL;
}

static int parse_modes(char **names, int n, bool have_cgroup, const Mode **ret, size_t *ret_n) {
        int tmp_check = spawn_private_tmp_check();
        size_t k = 0;

        for (int i = 0; i < n; i++) {
                const Mode *m = NULL;
                const char *why;

                for (size_t j = 0; j < ELEMENTSOF(modes); j++)
                        if (streq(names[i], modes[j].name))
                                m = &modes[j];
                if (!m || k == MODES_MAX)
                        return -EINVAL;
                why = mode_unavailable(m, have_cgroup, tmp_check);
                if (why)
                        printf("skip %s %s\n", m->name, why);
                else
                        ret[k++] = m;
        }
        *ret_n = k;
        return 0;
}

static int bench(sd_event *e, Children *c, int cn, uint64_t runs, uid_t uid, gid_t gid, const Mode **m, size_t n) {
        Launcher l = children_launcher(c);
        Run run = { .children = c };
        int r;

        r = sd_event_add_io(e, NULL, cn, EPOLLIN, on_cn, &run);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGCHLD, on_sigchld, &run);
        for (uint64_t i = 0; r >= 0 && i <= runs; i++)
                for (size_t j = 0; r >= 0 && j < n; j++) {
                        const Mode *mode = m[(i + j) % n];
                        int64_t exec_ns, reaped_ns;

                        r = run_one(e, &l, cn, &run, mode, uid, gid, &exec_ns, &reaped_ns);
                        if (r < 0)
                                fprintf(stderr, "bench-spawn: %s: %s\n", mode->name,
                                        r == -ECHILD ? "the child failed" : strerror(-r));
                        else if (i > 0) /* round 0 warms up */
                                printf("%s %lld %lld\n", mode->name, (long long)exec_ns, (long long)reaped_ns);
                }
        return r;
}

int main(int argc, char **argv) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        const Mode *m[MODES_MAX];
        uint64_t runs, uid, gid;
        Children *c = NULL;
        sigset_t mask;
        size_t n;
        int cn, r;

        if (argc < 6 || parse_unsigned(argv[1], 1000000, &runs) < 0 || runs == 0 ||
            parse_unsigned(argv[2], UINT32_MAX - 1, &uid) < 0 || uid == 0 ||
            parse_unsigned(argv[3], UINT32_MAX - 1, &gid) < 0 || gid == 0 ||
            parse_modes(argv + 5, argc - 5, !streq(argv[4], "-"), m, &n) < 0) {
                fprintf(stderr, "usage: bench-spawn RUNS UID GID CGROUP_BASE|- MODE...  (uid, gid not 0; modes:"
                                " plain uid private_tmp cgroup all)\n");
                return 2;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        (void)sigprocmask(SIG_BLOCK, &mask, NULL);
        cn = cn_open();
        if (cn < 0) {
                fprintf(stderr, "bench-spawn: no proc connector (CONFIG_PROC_EVENTS, root): %s\n", strerror(-cn));
                return 1;
        }
        r = sd_event_new(&e);
        if (r >= 0)
                r = children_new(&c);
        if (r >= 0 && !streq(argv[4], "-"))
                r = children_set_cgroup_base(c, e, argv[4]);
        if (r >= 0)
                r = bench(e, c, cn, runs, (uid_t)uid, (gid_t)gid, m, n);
        children_free(c);
        close(cn);
        if (r < 0 && r != -ECHILD)
                fprintf(stderr, "bench-spawn: %s\n", strerror(-r));
        return r < 0;
}
