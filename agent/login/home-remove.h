/* Removing the logins' HOMEs without holding the agent's event loop.
 * The CLI user fills a HOME: it may be as wide as the disk allows, and
 * the removal of a million entries takes seconds, during which nothing
 * else (health, other logins) would be answered.  A HOME's tmpfs, when
 * it has one, is detached first (which frees what it holds); then the
 * HOME is renamed at once, below login_home (where only root writes),
 * to a name no login has (HOME_REMOVING_PREFIX + a serial), so a new
 * login of the same id starts in a fresh one at once; a child, the
 * agent's own binary with the verb remove-tree, removes the renamed
 * tree (rm_rf_at(): no symlink followed, no other file system
 * entered).  The tree aside is made root's, 0700, at once: other
 * logins' CLIs (the same user) cannot reach what it holds.  With
 * HOME_REMOVERS_MAX children at work it waits aside for the next free
 * one; when no child can be started (no launcher, the launcher fails)
 * and with sync it is removed here and now.  A tree a child could not
 * remove (still written into), or one an earlier run of the agent left,
 * keeps its name: home_remover_collect() removes those that no child
 * works on. */
#pragma once

#include <stdbool.h>

#include "launch.h"
#include "macro.h"

/* The names below login_home: a login's HOME, and one set aside. */
#define HOME_LOGIN_PREFIX "login-"
#define HOME_REMOVING_PREFIX ".removing-"
#define HOME_REMOVERS_MAX 8 /* children at work at once */

typedef struct HomeRemover HomeRemover;

/* launcher and dir (login_home, absolute) are borrowed and must outlive
 * it; exe: the agent's binary the children run (copied).  0 or -ENOMEM. */
int home_remover_new(const Launcher *launcher, const char *dir, const char *exe, HomeRemover **ret);
/* The children at work are killed and forgotten (what they leave is
 * collected by the next run).  NULL-safe. */
HomeRemover *home_remover_free(HomeRemover *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(HomeRemover *, home_remover_free);

/* Removes <dir>/<name> and all below it: its tmpfs (home-tmpfs.h)
 * detached, then renamed aside and handed to a child, or with sync (the
 * agent stops: no loop left to hold) here.
 * 0 when name is free (nothing there is 0 too; a tree aside that could
 * not go is logged and collected later), or -errno: the rename failed,
 * or with sync the removal did. */
int home_remover_remove(HomeRemover *h, const char *name, bool sync);
/* Removes what was renamed aside and is not being removed by a child:
 * each handed to a child while one is free (sync: here, also those a
 * child worked on, once the children are killed and gone). */
void home_remover_collect(HomeRemover *h, bool sync);
/* How many children are at work. */
unsigned home_remover_busy(const HomeRemover *h);

/* The verb: remove-tree DIR NAME, rm_rf_at() of NAME below DIR.  Exits 0,
 * else with the errno of the first failure as its status (EINVAL: usage;
 * EIO for one past 255), so that its parent can name the cause. */
int remove_tree_main(int argc, char **argv);
