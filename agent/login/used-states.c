/* See used-states.h. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "secret-util.h"
#include "used-states.h"

void used_states_add(UsedStates *u, char *state, bool signed_in) {
        UsedState *e;

        if (isempty(state)) {
                free(state);
                return;
        }
        e = &u->e[u->next];
        e->state = erase_and_free(e->state);
        *e = (UsedState){ .state = state, .signed_in = signed_in };
        u->next = (u->next + 1) % USED_STATES_MAX;
}

int used_states_find(const UsedStates *u, const char *state) {
        size_t n = strlen(state);
        int r = -ENOENT;

        for (size_t i = 0; i < USED_STATES_MAX; i++)
                if (u->e[i].state && secret_equal(state, n, u->e[i].state) && r < 0)
                        r = u->e[i].signed_in;
        return r;
}

void used_states_done(UsedStates *u) {
        for (size_t i = 0; i < USED_STATES_MAX; i++)
                u->e[i].state = erase_and_free(u->e[i].state);
        u->next = 0;
}
