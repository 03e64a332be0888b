/* Unit tests for agent/http/deadline-queue.c: every sequence of up to five
 * operations (put at one of four deadlines, remove, pop what is due at a
 * time) on three entries is checked against a model, an array kept in
 * order by (deadline, when put); after each step the links must match it
 * both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "agent/http/deadline-queue.h"
#include "macro.h"

#define N_ENTRIES 3
#define DEPTH 5

typedef struct Model {
        unsigned n;
        unsigned id[N_ENTRIES];          /* in due order */
        usec_t deadline[N_ENTRIES];      /* by id; 0: not queued */
} Model;

typedef struct Op {
        enum { OP_PUT, OP_REMOVE, OP_POP } kind;
        unsigned id;
        usec_t t;                        /* put: the deadline; pop: now */
} Op;

static Op ops[64];
static size_t n_ops;

static void model_remove(Model *m, unsigned id) {
        unsigned k = 0;

        if (m->deadline[id] == 0)
                return;
        for (unsigned i = 0; i < m->n; i++)
                if (m->id[i] != id)
                        m->id[k++] = m->id[i];
        m->n = k;
        m->deadline[id] = 0;
}

static void model_put(Model *m, unsigned id, usec_t t) {
        unsigned at;

        model_remove(m, id);
        m->deadline[id] = t == 0 ? 1 : t;
        /* After every entry not later: equal deadlines keep their order. */
        for (at = m->n; at > 0 && m->deadline[m->id[at - 1]] > m->deadline[id]; at--)
                m->id[at] = m->id[at - 1];
        m->id[at] = id;
        m->n++;
}

static int model_pop(Model *m, usec_t t) {
        unsigned id;

        if (m->n == 0 || m->deadline[m->id[0]] > t)
                return -1;
        id = m->id[0];
        model_remove(m, id);
        return (int)id;
}

static void check(const DeadlineQueue *q, const DeadlineEntry e[], const Model *m, const char *where) {
        const DeadlineEntry *p = q->head, *prev = NULL;

        for (unsigned i = 0; i < m->n; i++, prev = p, p = p->next) {
                if (!p || p != &e[m->id[i]] || p->prev != prev || p->deadline != m->deadline[m->id[i]])
                        fail_msg("%s: entry %u of the queue is not the model's", where, i);
        }
        if (p || q->tail != prev)
                fail_msg("%s: the queue is longer than the model, or its tail is wrong", where);
        for (unsigned id = 0; id < N_ENTRIES; id++)
                if (deadline_entry_queued(&e[id]) != (m->deadline[id] != 0))
                        fail_msg("%s: entry %u queued or not, unlike the model", where, id);
        assert_int_equal(deadline_queue_next(q), m->n ? m->deadline[m->id[0]] : USEC_INFINITY);
}

static void apply(DeadlineQueue *q, DeadlineEntry e[], Model *m, const Op *op) {
        if (op->kind == OP_PUT) {
                deadline_queue_put(q, &e[op->id], op->t);
                model_put(m, op->id, op->t);
        } else if (op->kind == OP_REMOVE) {
                deadline_queue_remove(q, &e[op->id]);
                model_remove(m, op->id);
        } else {
                DeadlineEntry *got = deadline_queue_pop_due(q, op->t);
                int want = model_pop(m, op->t);

                assert_ptr_equal(got, want < 0 ? NULL : &e[want]);
        }
}

static unsigned long explore(const Op *seq[], size_t depth) {
        DeadlineQueue q = { 0 };
        DeadlineEntry e[N_ENTRIES] = { 0 };
        Model m = { 0 };
        unsigned long runs = 1;

        for (size_t i = 0; i < depth; i++) {
                apply(&q, e, &m, seq[i]);
                check(&q, e, &m, "after a step");
        }
        if (depth == DEPTH)
                return runs;
        for (size_t k = 0; k < n_ops; k++) {
                seq[depth] = &ops[k];
                runs += explore(seq, depth + 1);
        }
        return runs;
}

static void test_every_sequence(void **state) {
        const Op *seq[DEPTH];

        n_ops = 0;
        for (unsigned id = 0; id < N_ENTRIES; id++) {
                for (usec_t t = 0; t <= 3; t++)
                        ops[n_ops++] = (Op){ OP_PUT, id, t };
                ops[n_ops++] = (Op){ OP_REMOVE, id, 0 };
        }
        for (usec_t t = 0; t <= 4; t++)
                ops[n_ops++] = (Op){ OP_POP, 0, t };
        /* Every sequence visited: 1 + 20 + 20^2 + ... + 20^5 states. */
        assert_int_equal(n_ops, 20);
        assert_int_equal(explore(seq, 0), 3368421);
}

/* The server's case: deadlines in order, each new one last; re-arming
 * the earliest moves it to the end. */
static void test_in_order(void **state) {
        DeadlineQueue q = { 0 };
        DeadlineEntry a = { 0 }, b = { 0 }, c = { 0 };

        assert_int_equal(deadline_queue_next(&q), USEC_INFINITY);
        assert_null(deadline_queue_pop_due(&q, USEC_INFINITY));
        deadline_queue_put(&q, &a, 10);
        deadline_queue_put(&q, &b, 20);
        deadline_queue_put(&q, &c, 20);
        deadline_queue_put(&q, &a, 30);
        assert_int_equal(deadline_queue_next(&q), 20);
        assert_null(deadline_queue_pop_due(&q, 19));
        assert_ptr_equal(deadline_queue_pop_due(&q, 25), &b);
        assert_ptr_equal(deadline_queue_pop_due(&q, 25), &c);
        assert_null(deadline_queue_pop_due(&q, 25));
        assert_false(deadline_entry_queued(&b));
        deadline_queue_remove(&q, &b); /* not queued: nothing */
        assert_ptr_equal(deadline_queue_pop_due(&q, USEC_INFINITY), &a);
        assert_null(q.head);
        assert_null(q.tail);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_in_order),
                cmocka_unit_test(test_every_sequence),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
