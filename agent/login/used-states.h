/* The states the latest host-driven OAuth callbacks used up, with the
 * page each got, so that the same callback again (the person reloading
 * it, a browser restoring its tab) gets that page again instead of being
 * refused as a wrong state and counted as a guess against every waiting
 * login.  A used state is worth nothing to a guesser: it matches no
 * waiting login.  Pure: no syscalls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* As many as logins can be at once: a reload comes soon after its
 * callback, and an older one is only counted as a guess again. */
#define USED_STATES_MAX 16

typedef struct UsedState {
        char *state; /* owned; wiped when dropped */
        bool signed_in;
} UsedState;

typedef struct UsedStates {
        UsedState e[USED_STATES_MAX];
        size_t next; /* the slot the next one takes: the oldest when all are full */
} UsedStates;

/* Takes state (owned; NULL or "" is dropped); the oldest entry goes
 * when all are taken. */
void used_states_add(UsedStates *u, char *state, bool signed_in);
/* 1: state was used by a callback that signed in; 0: by one that did
 * not; -ENOENT: not among them.  Every entry is compared, each in
 * constant time (secret_equal()). */
int used_states_find(const UsedStates *u, const char *state);
/* Wipes and frees them all; u may be reused. */
void used_states_done(UsedStates *u);
