/* See home-remove.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fileio.h"
#include "home-remove.h"
#include "home-tmpfs.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

#define AWAY_NAME_MAX (sizeof HOME_REMOVING_PREFIX + 20)
#define RENAME_TRIES 1000
/* How long a stopping agent waits for the removers it killed. */
#define REMOVERS_GONE_MSEC 2000

typedef struct Removal {
        HomeRemover *h;
        pid_t pid; /* 0: the slot is free */
        char name[AWAY_NAME_MAX];
} Removal;

struct HomeRemover {
        const Launcher *launcher;
        const char *dir;
        char *exe;
        uint64_t serial; /* of the next name aside */
        Removal removals[HOME_REMOVERS_MAX];
};

int home_remover_new(const Launcher *launcher, const char *dir, const char *exe, HomeRemover **ret) {
        HomeRemover *h = calloc(1, sizeof *h);

        if (!h)
                return -ENOMEM;
        h->exe = strdup(exe);
        if (!h->exe) {
                free(h);
                return -ENOMEM;
        }
        h->launcher = launcher;
        h->dir = dir;
        for (size_t i = 0; i < HOME_REMOVERS_MAX; i++)
                h->removals[i].h = h;
        *ret = h;
        return 0;
}

/* Waits up to REMOVERS_GONE_MSEC in all until each of pidfds[0..n) has
 * exited (or is a zombie), then closes them. */
static void removers_wait_gone(int *pidfds, size_t n) {
        struct pollfd p[HOME_REMOVERS_MAX];
        int left = REMOVERS_GONE_MSEC;

        for (size_t i = 0; i < n; i++)
                p[i] = (struct pollfd){ .fd = pidfds[i], .events = POLLIN };
        for (size_t done = 0; done < n && left > 0;) {
                usec_t t = now(CLOCK_MONOTONIC);
                int k = poll(p, n, left);

                if (k < 0 && errno != EINTR)
                        break;
                left -= (int)((now(CLOCK_MONOTONIC) - t) / USEC_PER_MSEC);
                done = 0;
                for (size_t i = 0; i < n; i++) {
                        if (p[i].revents)
                                p[i].fd = -1; /* gone: poll() skips it */
                        done += p[i].fd < 0;
                }
        }
        for (size_t i = 0; i < n; i++)
                safe_close(pidfds[i]);
}

/* The children at work are killed (their group) and forgotten; with
 * wait, what they were doing in the kernel is over when this returns
 * (a tree they were removing is the caller's again), unless one is stuck
 * past REMOVERS_GONE_MSEC. */
static void removals_stop(HomeRemover *h, bool wait) {
        int pidfds[HOME_REMOVERS_MAX];
        size_t n = 0;

        for (size_t i = 0; i < HOME_REMOVERS_MAX; i++) {
                pid_t pid = h->removals[i].pid;
                int fd;

                if (pid <= 0)
                        continue;
                /* Opened before the kill: the pid is not reaped yet, so
                 * it is still this child's. */
                fd = wait ? pidfd_open(pid, 0) : -1;
                launcher_kill_forget(h->launcher, pid);
                h->removals[i].pid = 0;
                if (fd >= 0)
                        pidfds[n++] = fd;
        }
        removers_wait_gone(pidfds, n);
}

HomeRemover *home_remover_free(HomeRemover *h) {
        if (!h)
                return NULL;
        removals_stop(h, false);
        free(h->exe);
        free(h);
        return NULL;
}

unsigned home_remover_busy(const HomeRemover *h) {
        unsigned n = 0;

        for (size_t i = 0; i < HOME_REMOVERS_MAX; i++)
                n += h->removals[i].pid > 0;
        return n;
}

static Removal *removal_of(HomeRemover *h, const char *name) {
        for (size_t i = 0; i < HOME_REMOVERS_MAX; i++)
                if (h->removals[i].pid > 0 && streq(h->removals[i].name, name))
                        return &h->removals[i];
        return NULL;
}

static void on_removed(pid_t pid, int wstatus, void *userdata) {
        Removal *x = userdata;
        HomeRemover *h = x->h;
        char b[64];

        x->pid = 0;
        if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
                log_debug("Removed %s/%s.", h->dir, x->name);
                /* A slot is free: the next tree waiting aside.  Not after
                 * a failure, which would only fail again at once. */
                home_remover_collect(h, false);
        } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) < 126)
                log_warning_errno(-WEXITSTATUS(wstatus), "Could not remove %s/%s (left for later): %m", h->dir,
                                  x->name);
        else /* 126, 127: its exec failed once spawn no longer waited for it */
                log_warning("Could not remove %s/%s (left for later): its remover %s.", h->dir, x->name,
                            wstatus_to_string(wstatus, b, sizeof b));
}

/* 1 when name (aside already) was handed to a child; 0 when no child is
 * free (it waits aside); -errno when none can be started at all. */
static int start_removal(HomeRemover *h, const char *name) {
        char *envp[] = { NULL }; /* nothing of the agent's own */
        char *argv[] = { h->exe, (char *)"remove-tree", (char *)h->dir, (char *)name, NULL };
        SpawnOptions o = { .argv = argv, .envp = envp, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
                           .extra_fd = -1 };
        Removal *x = NULL;
        int r;

        if (!h->launcher)
                return -ENOEXEC;
        for (size_t i = 0; i < HOME_REMOVERS_MAX && !x; i++)
                if (h->removals[i].pid == 0)
                        x = &h->removals[i];
        if (!x)
                return 0;
        if (snprintf(x->name, sizeof x->name, "%s", name) >= (int)sizeof x->name)
                return -ENAMETOOLONG;
        r = launcher_start(h->launcher, &o, on_removed, x, &x->pid);
        if (r < 0) {
                x->pid = 0;
                return r;
        }
        return 1;
}

/* name, aside, goes in a child, or waits aside for one; when none can be
 * started, here and now (nothing of a login's is to stay behind). */
static int remove_aside(HomeRemover *h, int dirfd, const char *name) {
        int r = start_removal(h, name);

        if (r >= 0)
                return 0;
        log_debug_errno(r, "Cannot start a remover for %s/%s, removing it here: %m", h->dir, name);
        return rm_rf_at(dirfd, name);
}

/* The trees aside that no child works on, each to a child while one is
 * free (sync: here, with every child killed first). */
static void collect(HomeRemover *h, bool sync) {
        DIR *d = opendir(h->dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                int r = 0;

                if (!startswith(de->d_name, HOME_REMOVING_PREFIX) || removal_of(h, de->d_name))
                        continue;
                if (sync)
                        r = rm_rf_at(dirfd(d), de->d_name);
                else if (home_remover_busy(h) < HOME_REMOVERS_MAX)
                        r = remove_aside(h, dirfd(d), de->d_name);
                if (r < 0)
                        log_warning_errno(r, "Could not remove %s/%s: %m", h->dir, de->d_name);
        }
        closedir(d);
}

/* The tree aside is root's alone: no CLI user (the login's own, once
 * another login has it) can reach what the login left there while it is
 * being removed.
 * What is there was made by the agent in a directory only root writes. */
static void seal(int dirfd, const char *name) {
        _cleanup_(closep) int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

        if (fd < 0)
                return; /* not a directory: nothing below it to reach */
        if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0700) < 0)
                log_debug_errno(errno, "Cannot make the tree aside root's alone: %m");
}

int home_remover_remove(HomeRemover *h, const char *name, bool sync) {
        _cleanup_(closep) int fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char away[AWAY_NAME_MAX];
        int r;

        if (fd < 0)
                return -errno;
        /* A HOME's tmpfs: what it holds goes with it, and the directory
         * below (a mount point cannot be renamed) is then empty. */
        r = home_tmpfs_unmount_at(fd, name);
        if (r < 0)
                return r;
        if (sync)
                return rm_rf_at(fd, name);
        for (unsigned tries = 0; tries < RENAME_TRIES; tries++) {
                snprintf(away, sizeof away, HOME_REMOVING_PREFIX "%" PRIu64, h->serial++);
                if (renameat2(fd, name, fd, away, RENAME_NOREPLACE) >= 0) {
                        seal(fd, away);
                        /* name is free: a tree that could not go now is
                         * collected later, not this caller's failure. */
                        r = remove_aside(h, fd, away);
                        if (r < 0)
                                log_warning_errno(r, "Could not remove %s/%s (left for later): %m", h->dir, away);
                        return 0;
                }
                if (errno == ENOENT)
                        return 0;
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

void home_remover_collect(HomeRemover *h, bool sync) {
        if (sync) /* they would race the removal here */
                removals_stop(h, true);
        collect(h, sync);
}

int remove_tree_main(int argc, char **argv) {
        _cleanup_(closep) int fd = -EBADF;
        int r;

        if (argc != 3) {
                fprintf(stderr, "Usage: vm-browser-agent remove-tree DIR NAME\n");
                return EINVAL;
        }
        fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = fd < 0 ? -errno : rm_rf_at(fd, argv[2]);
        if (r < 0)
                log_error_errno(r, "remove-tree: cannot remove %s/%s: %m", argv[1], argv[2]);
        /* 126 and up are spawn's and the shell's. */
        return r >= 0 ? 0 : -r < 126 ? -r : EIO;
}
