/* See home-remove.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fileio.h"
#include "home-remove.h"
#include "log.h"
#include "macro.h"

#define AWAY_NAME_MAX (sizeof HOME_REMOVING_PREFIX + 20)
#define RENAME_TRIES 1000

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

/* The children at work are killed (their group) and forgotten. */
static void removals_stop(HomeRemover *h) {
        for (size_t i = 0; i < HOME_REMOVERS_MAX; i++)
                if (h->removals[i].pid > 0) {
                        launcher_kill_forget(h->launcher, h->removals[i].pid);
                        h->removals[i].pid = 0;
                }
}

HomeRemover *home_remover_free(HomeRemover *h) {
        if (!h)
                return NULL;
        removals_stop(h);
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
        char b[64];

        x->pid = 0;
        if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
                log_debug("Removed %s/%s.", x->h->dir, x->name);
        else if (WIFEXITED(wstatus))
                log_warning_errno(-WEXITSTATUS(wstatus), "Could not remove %s/%s (left for later): %m", x->h->dir,
                                  x->name);
        else
                log_warning("Could not remove %s/%s (left for later): its remover %s.", x->h->dir, x->name,
                            wstatus_to_string(wstatus, b, sizeof b));
}

/* name (aside already) removed by a child, or here when none can. */
static int remove_aside(HomeRemover *h, int dirfd, const char *name) {
        Removal *x = NULL;
        int r;

        for (size_t i = 0; i < HOME_REMOVERS_MAX && !x; i++)
                if (h->removals[i].pid == 0)
                        x = &h->removals[i];
        if (x && h->launcher && snprintf(x->name, sizeof x->name, "%s", name) < (int)sizeof x->name) {
                char *argv[] = { h->exe, (char *)"remove-tree", (char *)h->dir, (char *)name, NULL };
                char *envp[] = { NULL }; /* nothing of the agent's own */
                SpawnOptions o = { .argv = argv, .envp = envp, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1,
                                   .extra_fd = -1 };

                r = launcher_start(h->launcher, &o, on_removed, x, &x->pid);
                if (r >= 0)
                        return 0;
                x->pid = 0;
                log_debug_errno(r, "Cannot start a remover for %s/%s, removing it here: %m", h->dir, name);
        }
        return rm_rf_at(dirfd, name);
}

int home_remover_remove(HomeRemover *h, const char *name, bool sync) {
        _cleanup_(closep) int fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char away[AWAY_NAME_MAX];

        if (fd < 0)
                return -errno;
        if (sync)
                return rm_rf_at(fd, name);
        for (unsigned tries = 0; tries < RENAME_TRIES; tries++) {
                snprintf(away, sizeof away, HOME_REMOVING_PREFIX "%" PRIu64, h->serial++);
                if (renameat2(fd, name, fd, away, RENAME_NOREPLACE) >= 0)
                        return remove_aside(h, fd, away);
                if (errno == ENOENT)
                        return 0;
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

void home_remover_collect(HomeRemover *h, bool sync) {
        _cleanup_(closep) int fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;

        if (fd < 0)
                return;
        if (sync) /* they would race the removal here */
                removals_stop(h);
        d = opendir(h->dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                int r;

                if (!startswith(de->d_name, HOME_REMOVING_PREFIX) || removal_of(h, de->d_name))
                        continue;
                r = sync ? rm_rf_at(fd, de->d_name) : remove_aside(h, fd, de->d_name);
                if (r < 0)
                        log_warning_errno(r, "Could not remove %s/%s: %m", h->dir, de->d_name);
        }
        closedir(d);
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
        return r >= 0 ? 0 : -r <= 255 ? -r : EIO;
}
