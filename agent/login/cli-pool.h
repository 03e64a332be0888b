/* The pool of users the provider CLIs run as: one user per live CLI
 * login, so that no login's CLI can signal, trace or write into another's
 * (its HOME, its credential file), nor ask the control socket for another
 * login's URL.  A user is taken when a CLI login starts and released once
 * the login is over, its CLI and HOME gone; it is free again only once a
 * sweep of its uid found no process left.  Pure bookkeeping: the sweeps
 * are the caller's (login.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <sys/types.h>

#define CLI_POOL_MAX 64

typedef enum CliSlotState {
        CLI_SLOT_FREE,
        CLI_SLOT_TAKEN,    /* a login's, its CLI or HOME may still be there */
        CLI_SLOT_DRAINING, /* released: free once a sweep finds nothing of its uid */
        _CLI_SLOT_STATE_MAX,
        _CLI_SLOT_STATE_INVALID = -EINVAL,
} CliSlotState;

typedef struct CliPool {
        size_t n;
        uid_t uid[CLI_POOL_MAX];
        CliSlotState state[CLI_POOL_MAX];
} CliPool;

/* n uids, all FREE.  -EINVAL: n is 0 or above CLI_POOL_MAX; -EPERM: a uid
 * is 0; -EEXIST: a uid is there twice. */
int cli_pool_init(CliPool *p, const uid_t *uids, size_t n);
/* The first FREE slot becomes TAKEN: its index, or -EUSERS when none is
 * free (sweep the DRAINING ones first, cli_pool_drained()). */
int cli_pool_take(CliPool *p);
/* A TAKEN slot's login is over: DRAINING.  -ESTALE otherwise. */
int cli_pool_release(CliPool *p, int i);
/* A sweep found no process of a DRAINING slot's uid: FREE.  -ESTALE
 * otherwise. */
int cli_pool_drained(CliPool *p, int i);
/* The slot of uid, or -ENOENT. */
int cli_pool_find(const CliPool *p, uid_t uid);
/* How many slots are in state st. */
size_t cli_pool_count(const CliPool *p, CliSlotState st);
