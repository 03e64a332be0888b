/* See cli-pool.h.  A slot goes FREE → TAKEN → DRAINING → FREE and no
 * other way: a uid is handed to a new login only after the previous
 * one's processes were found gone, never straight from TAKEN. */
#include "cli-pool.h"

int cli_pool_init(CliPool *p, const uid_t *uids, size_t n) {
        if (n == 0 || n > CLI_POOL_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (uids[i] == 0)
                        return -EPERM;
                for (size_t k = 0; k < i; k++)
                        if (uids[k] == uids[i])
                                return -EEXIST;
        }
        *p = (CliPool){ .n = n };
        for (size_t i = 0; i < n; i++)
                p->uid[i] = uids[i];
        return 0;
}

static int slot_move(CliPool *p, int i, CliSlotState from, CliSlotState to) {
        if (i < 0 || (size_t)i >= p->n || p->state[i] != from)
                return -ESTALE;
        p->state[i] = to;
        return 0;
}

int cli_pool_take(CliPool *p) {
        for (size_t i = 0; i < p->n; i++)
                if (p->state[i] == CLI_SLOT_FREE) {
                        p->state[i] = CLI_SLOT_TAKEN;
                        return (int)i;
                }
        return -EUSERS;
}

int cli_pool_release(CliPool *p, int i) {
        return slot_move(p, i, CLI_SLOT_TAKEN, CLI_SLOT_DRAINING);
}

int cli_pool_drained(CliPool *p, int i) {
        return slot_move(p, i, CLI_SLOT_DRAINING, CLI_SLOT_FREE);
}

int cli_pool_find(const CliPool *p, uid_t uid) {
        for (size_t i = 0; i < p->n; i++)
                if (p->uid[i] == uid)
                        return (int)i;
        return -ENOENT;
}

size_t cli_pool_count(const CliPool *p, CliSlotState st) {
        size_t n = 0;

        for (size_t i = 0; i < p->n; i++)
                n += p->state[i] == st;
        return n;
}
