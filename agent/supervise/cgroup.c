/* Implementation of cgroup.h.  Mostly cgroup.procs, cgroup.kill and
 * cgroup.events are used.  The one controller ever enabled is memory, in
 * the base's subtree_control (cgroup_memory_setup()), for the logins'
 * memory.max: the kernel's "no internal processes" rule then holds for
 * the base, which holds none (the agent leaves its own cgroup for a leaf
 * when it creates siblings there, as systemd asks of a delegated
 * subtree; a configured cgroup_root with processes of its own refuses
 * the controller, EBUSY, and is said).  A process that has exited but is not yet reaped (a zombie)
 * no longer counts in cgroup.events' "populated", so a cgroup empties as
 * soon as what cgroup.kill hit is dead. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "fileio.h"
#include "nsfs-util.h"
#include "parse-util.h"
#include "poll-util.h"
#include "proc-util.h"
#include "sv-memory.h"
#include "time-util.h"

/* How long cgroup_free() waits for what it killed to be gone. */
#define CGROUP_FREE_WAIT_USEC (2 * USEC_PER_SEC)

struct Cgroup {
        sd_event *event;
        char *path;
        char *procs;             /* path/cgroup.procs */
        bool made;
        sd_event_source *emptied; /* cgroup.events, while waiting to remove it */
        /* The CPU time of everything that ran in it (cgroup_cpu_total()):
         * of the times it was made and removed before, each read just
         * before its removal; of the one there now, its cpu.stat less
         * what it held when taken over from an agent before this one, as
         * read last. */
        uint64_t cpu_ended, cpu_base, cpu_seen;
        unsigned cpu_unread;     /* removals whose cpu.stat could not be read */
};

static int cg_path(char *buf, size_t size, const char *dir, const char *file) {
        int n = snprintf(buf, size, "%s/%s", dir, file);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int cg_write(const char *dir, const char *file, const char *value) {
        char path[PATH_MAX];
        int r = cg_path(path, sizeof path, dir, file);

        return r < 0 ? r : write_setting(path, value);
}

/* <dir>/<file>'s text (at most max bytes) into *ret, or -errno. */
static int cg_read(const char *dir, const char *file, size_t max, char **ret) {
        char path[PATH_MAX];
        int r = cg_path(path, sizeof path, dir, file);

        return r < 0 ? r : read_full_file(path, max, ret, NULL);
}

static bool cg_has(const char *dir, const char *file) {
        char path[PATH_MAX];

        return cg_path(path, sizeof path, dir, file) >= 0 && access(path, F_OK) >= 0;
}

/* The usage_usec of the cgroup at dir, or -errno. */
static int cg_usage(const char *dir, uint64_t *ret) {
        _cleanup_(freep) char *text = NULL;
        int r = cg_read(dir, "cpu.stat", 4096, &text);

        return r < 0 ? r : proc_cpu_stat_usage(text, ret);
}

static int is_cgroup2(const char *path) {
        struct statfs sfs;

        if (statfs(path, &sfs) < 0)
                return -errno;
        return sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Whether pid counts as outside process group pgid (0: every pid does).  A
 * SIGKILLed process cannot change its group, so one still in pgid was hit
 * by a kill of that group, and is merely not gone yet; one gone meanwhile
 * is not counted. */
static bool cg_outside(pid_t pid, pid_t pgid) {
        pid_t g;

        if (pgid <= 0)
                return true;
        g = getpgid(pid);
        return g < 0 ? errno != ESRCH : g != pgid;
}

/* 1 while cgroup.events says populated, 0 once not, or -errno. */
static int cg_populated(int events_fd) {
        char buf[256];
        ssize_t n = pread(events_fd, buf, sizeof buf - 1, 0);
        const char *p;

        if (n < 0)
                return -errno;
        buf[n] = '\0';
        p = strstr(buf, "populated ");
        return p ? p[strlen("populated ")] == '1' : -EIO;
}

static int base_configured(const char *path, char **ret, char *why, size_t size) {
        int r = is_cgroup2(path);

        if (r <= 0) {
                snprintf(why, size, "%s is not a cgroup2 directory", path);
                return r < 0 ? r : -ENOTDIR;
        }
        if (!cg_has(path, "cgroup.kill")) {
                snprintf(why, size, "no cgroup.kill in %s (Linux 5.14+, not the root cgroup)", path);
                return -EOPNOTSUPP;
        }
        if (access(path, W_OK) < 0) {
                r = -errno;
                snprintf(why, size, "%s not writable: %s", path, strerror(-r));
                return r;
        }
        *ret = strdup(path);
        return *ret ? 0 : -ENOMEM;
}

/* Moves the agent into base's leaf; base then holds no process of its own. */
static int base_enter_leaf(const char *base, char *why, size_t size) {
        char leaf[PATH_MAX];
        int r = cg_path(leaf, sizeof leaf, base, CGROUP_AGENT_LEAF);

        if (r < 0)
                return r;
        if (mkdir(leaf, 0755) < 0 && errno != EEXIST) {
                r = -errno;
                snprintf(why, size, "%s not writable: %s", base, strerror(-r));
                return r;
        }
        if (!cg_has(leaf, "cgroup.kill")) {
                (void)rmdir(leaf);
                snprintf(why, size, "no cgroup.kill (Linux 5.14+)");
                return -EOPNOTSUPP;
        }
        r = cg_write(leaf, "cgroup.procs", "0");
        if (r < 0)
                snprintf(why, size, "cannot move the agent into %s: %s", leaf, strerror(-r));
        return r;
}

/* 0 when the cgroup2 mount at CGROUP_MOUNT shows the root of the agent's
 * cgroup namespace: one made outside it (an init given a cgroup namespace
 * but the host's mount) shows the host's hierarchy, where the agent's
 * paths from /proc/self/cgroup would name the host's cgroups. */
static int mount_is_own(char *why, size_t size) {
        _cleanup_(freep) char *mountinfo = NULL, *root = NULL;
        int r = read_full_file("/proc/self/mountinfo", 1024 * 1024, &mountinfo, NULL);

        if (r >= 0)
                r = proc_mountinfo_root(mountinfo, CGROUP_MOUNT, &root);
        if (r < 0) {
                snprintf(why, size, "cannot read the mount at " CGROUP_MOUNT ": %s", strerror(-r));
                return r;
        }
        if (!streq(root, "/")) {
                snprintf(why, size, "the cgroup2 mount at " CGROUP_MOUNT " is not this cgroup namespace's (its root: %s)",
                         root);
                return -EPERM;
        }
        return 0;
}

static int base_own(bool pid1, char **ret, char *why, size_t size) {
        _cleanup_(freep) char *text = NULL, *own = NULL, *base = NULL;
        int r = is_cgroup2(CGROUP_MOUNT);

        if (r <= 0) {
                snprintf(why, size, "cgroup2 not mounted at " CGROUP_MOUNT);
                return r < 0 ? r : -ENOMEDIUM;
        }
        r = mount_is_own(why, size);
        if (r < 0)
                return r;
        r = read_full_file("/proc/self/cgroup", 64 * 1024, &text, NULL);
        if (r >= 0)
                r = proc_cgroup2_path(text, &own);
        if (r < 0) {
                snprintf(why, size, "no cgroup2 path in /proc/self/cgroup: %s", strerror(-r));
                return r;
        }
        if (asprintf(&base, CGROUP_MOUNT "%s", streq(own, "/") ? "" : own) < 0)
                return -ENOMEM;
        /* Anywhere else it is someone else's cgroup: that of whoever made
         * the PID namespace of an init without a cgroup namespace (a test),
         * or of whoever started the agent by hand. */
        if (pid1 && !nsfs_inode_is("/proc/self/ns/pid", NSFS_PID_INIT_INO) &&
            nsfs_inode_is("/proc/self/ns/cgroup", NSFS_CGROUP_INIT_INO)) {
                snprintf(why, size, "PID 1 of a PID namespace without a cgroup namespace of its own");
                return -EPERM;
        }
        if (pid1 && !streq(own, "/")) {
                snprintf(why, size, "PID 1 outside the root of its cgroup namespace (in %s)", own);
                return -EPERM;
        }
        if (!pid1 && getxattr(base, "trusted.delegate", NULL, 0) < 0) {
                snprintf(why, size, "%s is not delegated to the agent (Delegate=yes)", base);
                return -EPERM;
        }
        r = base_enter_leaf(base, why, size);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(base);
        return 0;
}

int cgroup_base_setup(const char *configured, bool pid1, char **ret, char *why, size_t size) {
        if (!isempty(configured))
                return base_configured(configured, ret, why, size);
        return base_own(pid1, ret, why, size);
}

int cgroup_new(sd_event *e, const char *base, const char *name, Cgroup **ret) {
        _cleanup_(cgroup_freep) Cgroup *cg = calloc(1, sizeof *cg);

        if (!cg)
                return -ENOMEM;
        cg->event = e;
        if (asprintf(&cg->path, "%s/%s", base, name) < 0) {
                cg->path = NULL;
                return -ENOMEM;
        }
        if (asprintf(&cg->procs, "%s/cgroup.procs", cg->path) < 0) {
                cg->procs = NULL;
                return -ENOMEM;
        }
        *ret = TAKE_PTR(cg);
        return 0;
}

/* The CPU time of the cgroup there now, since this Cgroup has it (read
 * now, and kept as the last read), or -errno. */
static int cg_cpu_now(Cgroup *cg, uint64_t *ret) {
        uint64_t usec;
        int r = cgroup_cpu_usec(cg, &usec);

        if (r < 0)
                return r;
        /* Never less than read before: a counter does not go back. */
        cg->cpu_seen = MAX(cg->cpu_seen, usec - MIN(usec, cg->cpu_base));
        *ret = cg->cpu_seen;
        return 0;
}

/* It was removed: its time (r: the read just before, usec) is added to
 * what ended; an unreadable one adds what was read last, and counts. */
static void cg_removed(Cgroup *cg, int r, uint64_t usec) {
        cg->cpu_ended += r >= 0 ? usec : cg->cpu_seen;
        cg->cpu_unread += r < 0;
        cg->cpu_base = cg->cpu_seen = 0;
        cg->made = false;
}

/* Removes the cgroup when it is empty: 1 when removed (or gone), 0 when
 * not yet, -errno.  Its CPU time is read once it is empty: nothing runs
 * there to add to it before the rmdir (only the agent, on this thread,
 * moves a process in). */
static int cg_try_remove(Cgroup *cg, int events_fd) {
        uint64_t usec = 0;
        int r = cg_populated(events_fd), k;

        if (r != 0)
                return r < 0 ? r : 0;
        k = cg_cpu_now(cg, &usec);
        if (rmdir(cg->path) < 0 && errno != ENOENT)
                return -errno;
        cg_removed(cg, k, usec);
        cg->emptied = sd_event_source_disable_unref(cg->emptied);
        return 1;
}

static int on_events(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void)cg_try_remove(userdata, fd);
        return 0;
}

/* Now, or once cgroup.events says it emptied. */
static int cg_remove(Cgroup *cg) {
        char path[PATH_MAX];
        int fd, r;

        r = cg_path(path, sizeof path, cg->path, "cgroup.events");
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                cg_removed(cg, -ENOENT, 0); /* removed by someone else: its last read counts */
                return 0;
        }
        /* Empty already (its main process was all it held): removed now. */
        r = cg_try_remove(cg, fd);
        if (r != 0) {
                safe_close(fd);
                return MIN(r, 0);
        }
        /* The kernel signals a change of cgroup.events as POLLPRI. */
        r = sd_event_add_io(cg->event, &cg->emptied, fd, EPOLLPRI, on_events, cg);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        (void)sd_event_source_set_io_fd_own(cg->emptied, true);
        /* Emptied before the watch began: no event will come for it. */
        r = cg_try_remove(cg, fd);
        return MIN(r, 0);
}

int cgroup_make(Cgroup *cg, const char **ret_procs) {
        uint64_t usec;

        cg->emptied = sd_event_source_disable_unref(cg->emptied);
        if (mkdir(cg->path, 0755) < 0) {
                if (errno != EEXIST)
                        return -errno;
                /* Still emptying (it is the same service's), or left by an
                 * agent that ran before this one. */
                (void)cg_write(cg->path, "cgroup.kill", "1");
                /* What that agent's processes used is not this one's. */
                if (!cg->made && cg_usage(cg->path, &usec) >= 0)
                        cg->cpu_base = usec;
        } else if (cg->made)
                cg_removed(cg, -ENOENT, 0); /* removed by someone else: its last read counts */
        cg->made = true;
        *ret_procs = cg->procs;
        return 0;
}

bool cgroup_exists(const Cgroup *cg) {
        return cg && cg->made;
}

int cgroup_cpu_usec(Cgroup *cg, uint64_t *ret) {
        if (!cg || !cg->made)
                return -ENOENT;
        return cg_usage(cg->path, ret);
}

void cgroup_cpu_total(Cgroup *cg, uint64_t *ret_usec, unsigned *ret_unread) {
        uint64_t now_usec = 0;

        if (cg && cg->made)
                (void)cg_cpu_now(cg, &now_usec);
        *ret_usec = cg ? cg->cpu_ended + (cg->made ? cg->cpu_seen : 0) : 0;
        if (ret_unread)
                *ret_unread = cg ? cg->cpu_unread : 0;
}

/* The processes in cg outside process group pgid (0: all), or -errno. */
static int cg_count(const Cgroup *cg, pid_t pgid) {
        _cleanup_(freep) pid_t *v = NULL;
        size_t n;
        int k = 0, r = cgroup_pids(cg, &v, &n);

        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                k += cg_outside(v[i], pgid);
        return k;
}

int cgroup_kill(Cgroup *cg, pid_t pgid) {
        int n, r;

        if (!cg->made)
                return 0;
        /* Before the kill, which does not wait for what it kills. */
        n = cg_count(cg, pgid);
        /* Unreadable, or only pgid's left (their group's kill may not have
         * reached them yet, if it ran at all): killed all the same. */
        if (n != 0 || pgid > 0) {
                r = cg_write(cg->path, "cgroup.kill", "1");
                if (r < 0)
                        return r;
        }
        r = cg_remove(cg);
        return r < 0 ? r : MAX(n, 0);
}

int cgroup_pids(const Cgroup *cg, pid_t **ret, size_t *ret_n) {
        _cleanup_(freep) char *text = NULL;
        _cleanup_(freep) pid_t *v = NULL;
        size_t n = 0;
        int r;

        if (!cg || !cg->made)
                return -ENOENT;
        r = read_full_file(cg->procs, 1024 * 1024, &text, NULL);
        if (r < 0)
                return r;
        for (const char *p = text, *e; (e = strchr(p, '\n')); p = e + 1) {
                uint64_t pid;
                pid_t *nv;

                if (parse_unsigned_span(p, (size_t)(e - p), INT32_MAX, &pid) < 0)
                        continue;
                nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv)
                        return -ENOMEM;
                v = nv;
                v[n++] = (pid_t)pid;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

typedef struct RemoveWait {
        Cgroup *cg;
        int events_fd;
} RemoveWait;

static int cg_try_remove_wait(void *userdata) {
        RemoveWait *w = userdata;

        return cg_try_remove(w->cg, w->events_fd);
}

/* At the end, with no event loop left to wait on: at most
 * CGROUP_FREE_WAIT_USEC for what was killed to be gone. */
static void cg_remove_wait(Cgroup *cg) {
        char path[PATH_MAX];
        _cleanup_(closep) int fd = -EBADF;

        if (cg_path(path, sizeof path, cg->path, "cgroup.events") < 0 ||
            (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return;
        /* The kernel signals a change of cgroup.events as POLLPRI. */
        (void)poll_until(now(CLOCK_MONOTONIC) + CGROUP_FREE_WAIT_USEC, &(struct pollfd){ .fd = fd, .events = POLLPRI }, 1,
                         cg_try_remove_wait, &(RemoveWait){ .cg = cg, .events_fd = fd });
}

int cgroup_memory_setup(const char *base, char *why, size_t size) {
        _cleanup_(freep) char *text = NULL;
        int r = cg_read(base, "cgroup.controllers", 4096, &text);

        if (r < 0) {
                snprintf(why, size, "cannot read %s/cgroup.controllers: %s", base, strerror(-r));
                return r;
        }
        if (!proc_controllers_have(text, "memory")) {
                text[strcspn(text, "\n")] = '\0';
                snprintf(why, size,
                         "the memory controller is not available in %s (its cgroup.controllers: \"%s\"; in a hybrid "
                         "layout it is the v1 hierarchy's, or it is not delegated)",
                         base, text);
                return -EOPNOTSUPP;
        }
        r = cg_write(base, "cgroup.subtree_control", "+memory");
        if (r < 0)
                snprintf(why, size, "cannot enable the memory controller in %s/cgroup.subtree_control: %s", base,
                         strerror(-r));
        return r;
}

int cgroup_set_memory_max(Cgroup *cg, uint64_t bytes) {
        char value[32] = "max";
        int r;

        if (!cg->made)
                return -ENOENT;
        if (bytes > 0)
                snprintf(value, sizeof value, "%" PRIu64, bytes);
        r = cg_write(cg->path, "memory.max", value);
        /* None asked, and no memory controller there: nothing limits it. */
        if (r == -ENOENT && bytes == 0)
                return 0;
        if (r < 0)
                return r;
        /* Past memory.max it would page to the swap (where the VM has
         * one) and crawl on instead of ending.  No file: no swap
         * accounting in this kernel, nothing to bound. */
        r = cg_write(cg->path, "memory.swap.max", bytes > 0 ? "0" : "max");
        if (r < 0 && r != -ENOENT)
                return r;
        /* What the OOM killer takes in it is all of it: a CLI without the
         * helper it started (or the other way round) is no login. */
        return cg_write(cg->path, "memory.oom.group", bytes > 0 ? "1" : "0");
}

int cgroup_oom_events(const Cgroup *cg, CgroupOom *ret) {
        _cleanup_(freep) char *text = NULL;
        CgroupOom o;
        int r;

        if (!cg || !cg->made)
                return -ENOENT;
        r = cg_read(cg->path, "memory.events", 4096, &text);
        if (r >= 0)
                r = proc_keyed_value(text, "oom", &o.at_max);
        if (r >= 0)
                r = proc_keyed_value(text, "oom_kill", &o.kills);
        if (r >= 0)
                r = proc_keyed_value(text, "max", &o.reclaims);
        if (r < 0)
                return r;
        *ret = o;
        return 0;
}

/* memory.stat's value of key, 0 when it has none. */
static int stat_value(const char *text, const char *key, uint64_t *ret) {
        int r = proc_keyed_value(text, key, ret);

        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        return r;
}

int cgroup_memory_refaults(const Cgroup *cg, uint64_t *ret) {
        _cleanup_(freep) char *text = NULL;
        uint64_t anon = 0, file = 0, all = 0;
        int r;

        if (!cg || !cg->made)
                return -ENOENT;
        /* About 50 lines of at most 40 bytes; room for more keys. */
        r = cg_read(cg->path, "memory.stat", 65536, &text);
        if (r >= 0)
                r = stat_value(text, "workingset_refault_anon", &anon);
        if (r >= 0)
                r = stat_value(text, "workingset_refault_file", &file);
        if (r >= 0)
                r = stat_value(text, "workingset_refault", &all);
        if (r < 0)
                return r;
        *ret = anon + file + all;
        return 0;
}

int cgroup_memory_stall(const Cgroup *cg, int *ret) {
        _cleanup_(freep) char *text = NULL;
        int r;

        if (!cg || !cg->made)
                return -ENOENT;
        r = cg_read(cg->path, "memory.pressure", 4096, &text);
        /* Not there: a kernel without PSI (or booted with psi=0); not
         * readable: PSI turned off for it (cgroup.pressure 0). */
        if (r == -ENOENT || r == -EOPNOTSUPP) {
                *ret = -1;
                return 0;
        }
        if (r < 0)
                return r;
        r = sv_memory_parse_stall(text);
        if (r < 0)
                return r;
        *ret = r;
        return 0;
}

int cgroup_kill_all(Cgroup *cg) {
        if (!cg || !cg->made)
                return -ENOENT;
        return cg_write(cg->path, "cgroup.kill", "1");
}

int cgroup_memory_events_watch(const Cgroup *cg, sd_event *e, sd_event_inotify_handler_t cb, void *userdata,
                               sd_event_source **ret) {
        char path[PATH_MAX];
        int r;

        if (!cg || !cg->made)
                return -ENOENT;
        r = cg_path(path, sizeof path, cg->path, "memory.events");
        if (r < 0)
                return r;
        return sd_event_add_inotify(e, ret, path, IN_MODIFY, cb, userdata);
}

int cgroup_memory_limit(Cgroup *cg, uint64_t bytes, CgroupMemory *ret) {
        int r;

        *ret = (CgroupMemory){};
        r = cgroup_set_memory_max(cg, bytes);
        if (r < 0 || bytes == 0)
                return r;
        ret->max = bytes;
        if (cgroup_oom_events(cg, &ret->base) < 0)
                ret->base = (CgroupOom){};
        if (cgroup_memory_refaults(cg, &ret->refaults_base) < 0)
                ret->refaults_base = UINT64_MAX;
        return 0;
}

void cgroup_memory_events_since(const Cgroup *cg, const CgroupMemory *m, LaunchMemory *ret) {
        CgroupOom o;

        *ret = (LaunchMemory){ .max = m->max };
        if (m->max && cgroup_oom_events(cg, &o) >= 0) {
                ret->oom_kills = o.kills - MIN(o.kills, m->base.kills);
                ret->at_max = o.at_max - MIN(o.at_max, m->base.at_max);
                ret->reclaims = o.reclaims - MIN(o.reclaims, m->base.reclaims);
        }
}

void cgroup_memory_since(const Cgroup *cg, const CgroupMemory *m, LaunchMemory *ret) {
        uint64_t refaults;

        cgroup_memory_events_since(cg, m, ret);
        if (m->max && cgroup_memory_refaults(cg, &refaults) >= 0)
                ret->refaults = refaults - MIN(refaults, m->refaults_base);
}

Cgroup *cgroup_free(Cgroup *cg) {
        if (!cg)
                return NULL;
        cg->emptied = sd_event_source_disable_unref(cg->emptied);
        if (cg->made) {
                /* Empty or not: a kill of an empty cgroup is a no-op. */
                (void)cg_write(cg->path, "cgroup.kill", "1");
                cg_remove_wait(cg);
        }
        free(cg->path);
        free(cg->procs);
        free(cg);
        return NULL;
}
