/* Implementation of children.h: the pid -> handler registry and the reaper,
 * and the cgroups the Launcher makes for its children (scopes).  Linked
 * lists: the agent has a handful of children at a time. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "children.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "poll-util.h"
#include "proc-util.h"
#include "spawn.h"
#include "time-util.h"

typedef struct ChildWatch ChildWatch;

struct ChildWatch {
        pid_t pid;
        LaunchExitFn cb;
        void *userdata;
        ChildWatch *next;
};

/* A Launcher child's cgroup (SpawnOptions.cgroup_name).  Kept by name
 * until it is removed: a start of the same name takes over one that is
 * still emptying, rather than racing its removal. */
typedef struct Scope Scope;

struct Scope {
        char *name;     /* <cgroup_name>.scope */
        Cgroup *cgroup;
        pid_t pid;      /* its child; 0 once reaped or forgotten */
        uint64_t cpu_base; /* the cgroup's CPU time when its child started */
        CgroupMemory memory; /* its memory.max and OOM events when its child started */
        Scope *next;
};

#define SCOPE_SUFFIX ".scope"

struct Children {
        ChildWatch *watches;
        sd_event *event;      /* for a scope's removal once it emptied */
        char *cgroup_base;    /* NULL: no scopes, cgroup_name is ignored */
        bool memory;          /* the memory controller is enabled below cgroup_base */
        Scope *scopes;
        /* The CPU time of the child that ended last, read from its scope's
         * cgroup before that was killed and removed: for its owner, which
         * hears of the end after (launch_cpu_usec()). */
        struct {
                pid_t pid;
                int r;        /* 0, or -errno: -ENOENT when it had no scope */
                uint64_t usec;
                LaunchMemory memory; /* .max 0: none (launch_memory()) */
        } ended;
};

int children_new(Children **ret) {
        Children *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

static Scope *scope_free(Scope *s) {
        if (!s)
                return NULL;
        cgroup_free(s->cgroup);
        free(s->name);
        free(s);
        return NULL;
}

Children *children_free(Children *c) {
        if (!c)
                return NULL;
        while (c->watches) {
                ChildWatch *w = c->watches;
                c->watches = w->next;
                free(w);
        }
        while (c->scopes) {
                Scope *s = c->scopes;
                c->scopes = s->next;
                scope_free(s);
        }
        free(c->cgroup_base);
        free(c);
        return NULL;
}

int children_set_cgroup_base(Children *c, sd_event *e, const char *base) {
        char *b = NULL;

        if (base && !(b = strdup(base)))
                return -ENOMEM;
        free(c->cgroup_base);
        c->cgroup_base = b;
        c->event = e;
        return 0;
}

int children_memory_setup(Children *c, char *why, size_t size) {
        int r;

        if (!c->cgroup_base) {
                snprintf(why, size, "no cgroups");
                return -EOPNOTSUPP;
        }
        r = cgroup_memory_setup(c->cgroup_base, why, size);
        c->memory = r >= 0;
        return r;
}

/* Frees the scopes that no child has and whose cgroup is gone. */
static void scopes_prune(Children *c) {
        for (Scope **p = &c->scopes; *p;) {
                Scope *s = *p;

                if (s->pid > 0 || cgroup_exists(s->cgroup)) {
                        p = &s->next;
                        continue;
                }
                *p = s->next;
                scope_free(s);
        }
}

static Scope *scope_of_pid(Children *c, pid_t pid) {
        for (Scope *s = c->scopes; s; s = s->next)
                if (s->pid == pid)
                        return s;
        return NULL;
}

/* The scope of that name, kept or new. */
static int scope_get(Children *c, const char *name, Scope **ret) {
        _cleanup_(freep) Scope *s = NULL;
        int r;

        for (Scope *k = c->scopes; k; k = k->next)
                if (streq(k->name, name)) {
                        *ret = k;
                        return 0;
                }
        s = calloc(1, sizeof *s);
        if (!s || !(s->name = strdup(name)))
                return -ENOMEM;
        r = cgroup_new(c->event, c->cgroup_base, name, &s->cgroup);
        if (r < 0) {
                free(s->name);
                return r;
        }
        s->next = c->scopes;
        *ret = c->scopes = TAKE_PTR(s);
        return 0;
}

/* The memory.max o asks for, on s's cgroup (made) where the memory
 * controller is there; one that cannot be set is logged, and the child
 * runs without it (the OOM killer's choice is then its oom_score_adj).
 * Else none: a cgroup taken over from an agent before that had a limit
 * (login_memory_max_mb since set to 0, or the controller's setup failed
 * this time) would keep that one, which the log says it has not. */
static void scope_limit_memory(Children *c, Scope *s, const SpawnOptions *o) {
        uint64_t bytes = c->memory ? o->memory_max : 0;
        int r = cgroup_memory_limit(s->cgroup, bytes, &s->memory);

        if (r < 0 && bytes)
                log_warning_errno(r, "No memory.max for %s in its cgroup %s: %m", o->argv[0], s->name);
        else if (r < 0)
                log_warning_errno(r, "Cannot lift the memory.max an agent before left for %s in its "
                                  "cgroup %s: %m", o->argv[0], s->name);
}

/* The cgroup o asks for, made: its scope and cgroup.procs in *ret and
 * *ret_procs (NULL when o asks for none, or there are no cgroups).
 * -EINVAL: not a valid name; -EBUSY: a live child has it; -errno. */
static int scope_open(Children *c, const SpawnOptions *o, Scope **ret, const char **ret_procs) {
        char name[NAME_MAX + 1];
        Scope *s;
        int r;

        *ret = NULL;
        *ret_procs = NULL;
        if (!o->cgroup_name)
                return 0;
        if (!filename_is_valid(o->cgroup_name) ||
            snprintf(name, sizeof name, "%s" SCOPE_SUFFIX, o->cgroup_name) >= (int)sizeof name)
                return -EINVAL;
        if (!c->cgroup_base)
                return 0;
        scopes_prune(c);
        r = scope_get(c, name, &s);
        if (r < 0)
                return r;
        if (s->pid > 0)
                return -EBUSY;
        r = cgroup_make(s->cgroup, ret_procs);
        if (r < 0)
                return r;
        /* A cgroup taken over while it still empties (or left by an agent
         * before) counted the CPU time of the child before, which its end
         * accounted for: the new child's counts from here. */
        if (cgroup_cpu_usec(s->cgroup, &s->cpu_base) < 0)
                s->cpu_base = 0;
        scope_limit_memory(c, s, o);
        *ret = s;
        return 0;
}

/* The CPU time of a scope's child (its cgroup's since the child started);
 * -ENODATA when its cgroup, which is there, has no cpu.stat or no
 * usage_usec in it: -ENOENT says it has no cgroup. */
static int scope_cpu_usec(Scope *s, uint64_t *ret) {
        uint64_t usec;
        int r = cgroup_cpu_usec(s->cgroup, &usec);

        if (r < 0)
                return r == -ENOENT ? -ENODATA : r;
        *ret = usec - MIN(usec, s->cpu_base);
        return 0;
}

/* s's memory.max and its OOM events since its child started. */
static void scope_memory(Scope *s, LaunchMemory *ret) {
        cgroup_memory_since(s->cgroup, &s->memory, ret);
}

/* The child of pid is gone (reaped, or killed and forgotten): what is
 * left in its scope's cgroup is killed, the cgroup removed (once empty).
 * The log counts what left the child's process group (which its owner
 * kills in any case): what only the cgroup could reach. */
static void scope_end(Children *c, pid_t pid) {
        Scope *s = scope_of_pid(c, pid);
        int n;

        c->ended.pid = pid;
        c->ended.r = s ? scope_cpu_usec(s, &c->ended.usec) : -ENOENT;
        c->ended.memory = (LaunchMemory){};
        if (!s)
                return;
        /* Read before the kill, which removes the cgroup. */
        scope_memory(s, &c->ended.memory);
        s->pid = 0;
        n = cgroup_kill(s->cgroup, pid);
        if (n < 0)
                log_warning_errno(n, "Failed to kill what pid %d left in its cgroup %s: %m", (int)pid, s->name);
        else if (n > 0)
                log_info("Killed %d process(es) that pid %d left in its cgroup %s, outside its process group.", n,
                         (int)pid, s->name);
        scopes_prune(c);
}

int children_watch(Children *c, pid_t pid, LaunchExitFn cb, void *userdata) {
        ChildWatch *w = calloc(1, sizeof *w);

        if (!w)
                return -ENOMEM;
        *w = (ChildWatch){ .pid = pid, .cb = cb, .userdata = userdata, .next = c->watches };
        c->watches = w;
        return 0;
}

static ChildWatch *children_take(Children *c, pid_t pid) {
        for (ChildWatch **p = &c->watches; *p; p = &(*p)->next)
                if ((*p)->pid == pid) {
                        ChildWatch *w = *p;
                        *p = w->next;
                        return w;
                }
        return NULL;
}

static bool children_watching(const Children *c, pid_t pid) {
        for (const ChildWatch *w = c->watches; w; w = w->next)
                if (w->pid == pid)
                        return true;
        return false;
}

void children_unwatch(Children *c, pid_t pid) {
        free(children_take(c, pid));
}

int children_reap(Children *c) {
        int n = 0, wstatus;
        pid_t pid;

        while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
                _cleanup_(freep) ChildWatch *w = children_take(c, pid);
                n++;
                /* Before its owner hears of the exit: nothing the child
                 * left runs on while the owner cleans up after it. */
                scope_end(c, pid);
                if (w)
                        w->cb(pid, wstatus, w->userdata);
                else
                        log_debug("Reaped orphan %d.", (int)pid);
        }
        return n;
}

/* Spawns so (in scope's cgroup, when it has one) and watches it. */
static int launch_spawn(Children *c, const SpawnOptions *so, Scope *scope, LaunchExitFn on_exit,
                        void *userdata, pid_t *ret_pid) {
        pid_t pid;
        int r;

        r = spawn_process(so, &pid);
        if (r < 0)
                return r;
        r = children_watch(c, pid, on_exit, userdata);
        if (r < 0) {
                /* Unwatched, its exit would never reach its owner. */
                launch_signal(pid, SIGKILL);
                return r;
        }
        if (scope)
                scope->pid = pid;
        *ret_pid = pid;
        return 0;
}

static int launch_start(void *ctx, const SpawnOptions *o, LaunchExitFn on_exit, void *userdata,
                        pid_t *ret_pid) {
        Children *c = ctx;
        SpawnOptions so = *o;
        Scope *scope;
        int r;

        r = scope_open(c, o, &scope, &so.cgroup_procs);
        if (r == -EINVAL || r == -EBUSY)
                return r;
        if (r < 0)
                log_warning_errno(r, "No cgroup %s" SCOPE_SUFFIX " for %s, only its process group is killed: %m",
                                  o->cgroup_name, o->argv[0]);
        r = launch_spawn(c, &so, scope, on_exit, userdata, ret_pid);
        /* Made for nothing, or for a child killed at once: removed. */
        if (r < 0 && scope)
                (void)cgroup_kill(scope->cgroup, 0);
        return r;
}

static int launch_cpu_usec(void *ctx, pid_t pid, uint64_t *ret) {
        Children *c = ctx;
        Scope *s;

        if (pid <= 0)
                return -ENOENT; /* 0 is every ended scope's */
        s = scope_of_pid(c, pid);
        if (s)
                return scope_cpu_usec(s, ret);
        /* A live child without a scope is not the one that ended last,
         * whose pid it may have been given again. */
        if (c->ended.pid != pid || children_watching(c, pid))
                return -ENOENT;
        if (c->ended.r < 0)
                return c->ended.r;
        *ret = c->ended.usec;
        return 0;
}

static int launch_memory(void *ctx, pid_t pid, LaunchMemory *ret) {
        Children *c = ctx;
        LaunchMemory m;
        Scope *s;

        if (pid <= 0)
                return -ENOENT;
        s = scope_of_pid(c, pid);
        if (s)
                scope_memory(s, &m);
        else if (c->ended.pid == pid && !children_watching(c, pid))
                m = c->ended.memory; /* as launch_cpu_usec(): the child that ended last */
        else
                return -ENOENT;
        if (!m.max)
                return -ENOENT;
        *ret = m;
        return 0;
}

static void launch_forget(void *ctx, pid_t pid) {
        children_unwatch(ctx, pid);
        scope_end(ctx, pid);
}

#define KILL_PASSES 32
/* How long a sweep waits for what it killed to be gone: SIGKILL ends a
 * process at its next return from the kernel; one stuck in it longer (a
 * hung file system) is not waited for. */
#define KILL_WAIT_USEC (2 * USEC_PER_SEC)

typedef struct ProcEntry {
        pid_t pid;
        ProcStatus st;
} ProcEntry;

/* Every process /proc lists (those gone while it is read are skipped). */
static int proc_snapshot(ProcEntry **ret, size_t *ret_n) {
        _cleanup_(freep) ProcEntry *v = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d = opendir("/proc");

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_(freep) char *text = NULL;
                char path[64];
                uint64_t pid;
                ProcStatus st;

                if (parse_unsigned(de->d_name, INT_MAX, &pid) < 0 || pid == 0)
                        continue;
                snprintf(path, sizeof path, "/proc/%u/status", (unsigned)pid);
                if (read_full_file(path, 16384, &text, NULL) < 0 || proc_status_parse(text, &st) < 0)
                        continue;
                if (n == cap) {
                        ProcEntry *nv = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof *v);
                        if (!nv) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        v = nv;
                }
                v[n++] = (ProcEntry){ .pid = (pid_t)pid, .st = st };
        }
        closedir(d);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static bool pid_listed(const pid_t *v, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (v[i] == pid)
                        return true;
        return false;
}

static bool descends_from(const ProcEntry *v, size_t n, pid_t pid, pid_t ancestor) {
        /* At most n steps: a ppid loop (a pid reused while /proc was read)
         * cannot keep us here. */
        for (size_t steps = 0; steps <= n && pid > 1; steps++) {
                size_t i;

                for (i = 0; i < n && v[i].pid != pid; i++)
                        ;
                if (i == n)
                        return false;
                pid = v[i].st.ppid;
                if (pid == ancestor)
                        return true;
        }
        return false;
}

typedef enum Checked {
        CHECKED_NO,
        CHECKED_YES,
        CHECKED_CHANGED, /* not as the snapshot saw it: a new parent (reparented, or a pid reused), a new uid */
} Checked;

/* Whether the process in dir (its /proc directory) is still as the
 * snapshot saw it.  Nothing of it but its status is read: another user's
 * memory (its environment, its command line) could stall the read. */
static Checked check(int dir, const ProcEntry *e) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_(closep) int fd = openat(dir, "status", O_RDONLY | O_CLOEXEC);
        ProcStatus st;

        if (fd < 0 || read_full_fd(fd, 16384, &text, NULL) < 0 || proc_status_parse(text, &st) < 0 ||
            proc_status_exited(&st))
                return CHECKED_NO; /* gone */
        if (st.ppid != e->st.ppid || st.uid != e->st.uid)
                return CHECKED_CHANGED;
        return CHECKED_YES;
}

/* The pidfds of the processes a sweep signalled. */
typedef struct Killed {
        struct pollfd *p;
        size_t n;
        size_t left; /* of them, not yet seen gone */
} Killed;

static void killed_done(Killed *k) {
        for (size_t i = 0; i < k->n; i++)
                safe_close(k->p[i].fd);
        free(k->p);
}

/* Takes pidfd over: closed by killed_done(), or now when this fails. */
static int killed_add(Killed *k, int pidfd) {
        struct pollfd *np = realloc(k->p, (k->n + 1) * sizeof *k->p);

        if (!np) {
                safe_close(pidfd);
                return -ENOMEM;
        }
        k->p = np;
        k->p[k->n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        k->left++;
        return 0;
}

/* Closes the pidfds that became readable: 1 when none is left. */
static int killed_gone(void *userdata) {
        Killed *k = userdata;

        for (size_t i = 0; i < k->n; i++)
                if (k->p[i].fd >= 0 && k->p[i].revents) {
                        safe_close(k->p[i].fd);
                        k->p[i].fd = -1; /* poll() skips it now */
                        k->left--;
                }
        return k->left == 0;
}

/* Until every pidfd is readable (its process has exited: what it was
 * doing in the kernel, a write or a rename, is done), at most
 * KILL_WAIT_USEC. */
static void killed_wait(Killed *k) {
        if (poll_until(now(CLOCK_MONOTONIC) + KILL_WAIT_USEC, k->p, k->n, killed_gone, k) == -ETIMEDOUT)
                log_warning("%zu process(es) the sweep killed are still not gone after %u ms.", k->left,
                            (unsigned)(KILL_WAIT_USEC / USEC_PER_MSEC));
}

/* Sends sig to each live descendant of this process that runs as uid
 * (UID_ANY: whatever its uid), once, and looks again until a pass finds
 * nothing new: a child forked meanwhile, or one whose parent exited while
 * /proc was read (reparented to us, it is still ours); then, if asked,
 * waits for them to be gone.  The signal goes through a pidfd taken
 * before the checks read the process's /proc directory: a read that
 * succeeds after the pidfd was taken proves the pidfd names that process,
 * never one that took its pid since (kill() on a kernel without pidfds,
 * and no wait).  The number signalled, but for those listed in dying
 * (signalled and waited for all the same: already killed, they are not
 * what this sweep found), or -errno. */
#define UID_ANY ((uid_t)-1)
static int signal_descendants(uid_t uid, int sig, bool wait_gone, const pid_t *dying, size_t n_dying) {
        _cleanup_(freep) pid_t *done = NULL;
        _cleanup_(killed_done) Killed killed = {};
        size_t n_done = 0, n_signalled = 0;
        pid_t self = getpid();

        for (unsigned pass = 0; pass < KILL_PASSES; pass++) {
                _cleanup_(freep) ProcEntry *v = NULL;
                size_t n = 0;
                bool again = false;
                int r = proc_snapshot(&v, &n);

                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        _cleanup_(closep) int dir = -EBADF, pidfd = -EBADF;
                        char path[64];
                        Checked c;

                        if ((uid != UID_ANY && v[i].st.uid != uid) || proc_status_exited(&v[i].st) ||
                            v[i].pid == self ||
                            !descends_from(v, n, v[i].pid, self))
                                continue;
                        if (pid_listed(done, n_done, v[i].pid))
                                continue;
                        snprintf(path, sizeof path, "/proc/%d", (int)v[i].pid);
                        dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (dir < 0)
                                continue;
                        pidfd = pidfd_open(v[i].pid, 0);
                        if (pidfd < 0 && errno != ENOSYS)
                                continue;
                        c = check(dir, &v[i]);
                        again |= c == CHECKED_CHANGED;
                        if (c != CHECKED_YES)
                                continue;
                        pid_t *nd = realloc(done, (n_done + 1) * sizeof *done);
                        if (!nd)
                                return -ENOMEM;
                        done = nd;
                        done[n_done++] = v[i].pid;
                        again = true;
                        if ((pidfd >= 0 ? pidfd_send_signal(pidfd, sig, NULL, 0) : kill(v[i].pid, sig)) < 0)
                                continue;
                        n_signalled += !pid_listed(dying, n_dying, v[i].pid);
                        if (pidfd >= 0 && (r = killed_add(&killed, TAKE_FD(pidfd))) < 0)
                                return r;
                }
                if (!again)
                        break;
        }
        if (wait_gone)
                killed_wait(&killed);
        return (int)n_signalled;
}

int children_kill_uid(uid_t uid, bool wait_gone) {
        if (uid == 0)
                return -EPERM;
        return signal_descendants(uid, SIGKILL, wait_gone, NULL, 0);
}

int children_signal_all(int sig) {
        return signal_descendants(UID_ANY, sig, false, NULL, 0);
}

/* The processes left in the scopes whose child is gone and that are
 * still emptying: cgroup_kill() hit them (nothing but cgroup_make(), a
 * start of the same name, puts a process in such a scope), so they are
 * dying, however their /proc status looks yet.  A scope that cannot be
 * read adds none. */
static int scopes_dying(Children *c, pid_t **ret, size_t *ret_n) {
        _cleanup_(freep) pid_t *all = NULL;
        size_t n = 0;

        for (Scope *s = c->scopes; s; s = s->next) {
                _cleanup_(freep) pid_t *v = NULL;
                size_t k = 0;
                pid_t *nv;

                if (s->pid > 0 || !cgroup_exists(s->cgroup) || cgroup_pids(s->cgroup, &v, &k) < 0 || k == 0)
                        continue;
                nv = realloc(all, (n + k) * sizeof *all);
                if (!nv)
                        return -ENOMEM;
                all = nv;
                memcpy(all + n, v, k * sizeof *v);
                n += k;
        }
        *ret = TAKE_PTR(all);
        *ret_n = n;
        return 0;
}

/* What a scope's cgroup.kill already hit is killed again (a no-op) and
 * waited for, but not counted: the count is what only the sweep found. */
static int launch_kill_uid(void *ctx, uid_t uid) {
        _cleanup_(freep) pid_t *dying = NULL;
        size_t n_dying = 0;
        int r;

        if (uid == 0)
                return -EPERM;
        r = scopes_dying(ctx, &dying, &n_dying);
        if (r < 0)
                return r;
        return signal_descendants(uid, SIGKILL, true, dying, n_dying);
}

Launcher children_launcher(Children *c) {
        return (Launcher){ .start = launch_start, .forget = launch_forget, .kill_uid = launch_kill_uid,
                           .cpu_usec = launch_cpu_usec, .memory = launch_memory, .ctx = c };
}
