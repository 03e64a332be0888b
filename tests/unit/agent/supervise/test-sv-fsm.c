/* Unit tests for agent/sv-fsm.c: every state × event cell with the usual
 * inputs (wanted, dependencies ready, within budget, restartable), then
 * the cells whose result depends on an input, with each input flipped.
 * Every way into FAILED says whether it is retried (RETRY_LATER): over
 * the budget yes, a missing binary or user no.
 * test_table_is_exhaustive fails when a state or event is added without
 * rows here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "macro.h"
#include "agent/supervise/sv-fsm.h"

#define I_ (SERVICE_INACTIVE)
#define W_ (SERVICE_WAITING)
#define S_ (SERVICE_STARTING)
#define R_ (SERVICE_READY)
#define P_ (SERVICE_STOPPING)
#define B_ (SERVICE_BACKOFF)
#define F_ (SERVICE_FAILED)

#define SPAWN SV_ACTION_SPAWN
#define TERM SV_ACTION_TERM
#define KILL SV_ACTION_KILL
#define UP SV_ACTION_NOTIFY_UP
#define DOWN SV_ACTION_NOTIFY_DOWN
#define LATER SV_ACTION_RETRY_LATER
#define FRESH SV_ACTION_FRESH_BUDGET

/* Inputs: "base" = wanted, deps ready, in budget, restartable. */
enum { BASE, NOWANT, NODEPS, OVER, NORESTART, RESTARTING, RESTARTING_OVER, RESTARTING_NODEPS, IDLE, IDLE_OVER,
       IDLE_NOWANT, IDLE_ONLY };

typedef struct Row {
        ServiceState from;
        SvEvent event;
        int input;
        ServiceState to;
        unsigned actions;
} Row;

static const Row rows[] = {
        /* INACTIVE */
        { I_, SV_EVENT_START, BASE, S_, SPAWN },
        { I_, SV_EVENT_STOP, BASE, I_, 0 },
        { I_, SV_EVENT_DEPS_READY, BASE, I_, 0 },     /* not wanted: stays */
        { I_, SV_EVENT_DEP_LOST, BASE, I_, 0 },
        { I_, SV_EVENT_PROBE_OK, BASE, I_, 0 },       /* stale */
        { I_, SV_EVENT_READY_TIMEOUT, BASE, I_, 0 },
        { I_, SV_EVENT_EXITED, BASE, I_, 0 },
        { I_, SV_EVENT_STOP_TIMEOUT, BASE, I_, 0 },
        { I_, SV_EVENT_BACKOFF_DONE, BASE, I_, 0 },
        { I_, SV_EVENT_SPAWN_FAILED, BASE, I_, 0 },
        { I_, SV_EVENT_NOT_FOUND, BASE, F_, 0 },      /* a start found no user: never spawned */
        { I_, SV_EVENT_RESTART, BASE, I_, 0 },        /* nothing runs */
        { I_, SV_EVENT_RETRY, BASE, I_, 0 },          /* stale: only FAILED retries */
        /* WAITING */
        { W_, SV_EVENT_START, BASE, S_, SPAWN },
        { W_, SV_EVENT_STOP, BASE, I_, 0 },
        { W_, SV_EVENT_DEPS_READY, BASE, S_, SPAWN },
        { W_, SV_EVENT_DEP_LOST, BASE, W_, 0 },
        { W_, SV_EVENT_PROBE_OK, BASE, W_, 0 },
        { W_, SV_EVENT_READY_TIMEOUT, BASE, W_, 0 },
        { W_, SV_EVENT_EXITED, BASE, W_, 0 },
        { W_, SV_EVENT_STOP_TIMEOUT, BASE, W_, 0 },
        { W_, SV_EVENT_BACKOFF_DONE, BASE, W_, 0 },
        { W_, SV_EVENT_SPAWN_FAILED, BASE, W_, 0 },
        { W_, SV_EVENT_NOT_FOUND, BASE, F_, 0 },
        { W_, SV_EVENT_RESTART, BASE, W_, 0 },        /* starts later with what is new */
        { W_, SV_EVENT_RETRY, BASE, W_, 0 },          /* already retried, waiting for its deps */
        /* STARTING */
        { S_, SV_EVENT_START, BASE, S_, 0 },
        { S_, SV_EVENT_STOP, BASE, P_, TERM },
        { S_, SV_EVENT_DEPS_READY, BASE, S_, 0 },
        { S_, SV_EVENT_DEP_LOST, BASE, P_, TERM },
        { S_, SV_EVENT_PROBE_OK, BASE, R_, UP },
        { S_, SV_EVENT_READY_TIMEOUT, BASE, P_, TERM },
        { S_, SV_EVENT_EXITED, BASE, B_, 0 },
        { S_, SV_EVENT_STOP_TIMEOUT, BASE, S_, 0 },
        { S_, SV_EVENT_BACKOFF_DONE, BASE, S_, 0 },
        { S_, SV_EVENT_SPAWN_FAILED, BASE, B_, 0 },
        { S_, SV_EVENT_NOT_FOUND, BASE, F_, 0 },      /* no binary: never retried */
        { S_, SV_EVENT_RESTART, BASE, P_, TERM },
        { S_, SV_EVENT_RETRY, BASE, S_, 0 },
        /* READY */
        { R_, SV_EVENT_START, BASE, R_, 0 },
        { R_, SV_EVENT_STOP, BASE, P_, TERM | DOWN },
        { R_, SV_EVENT_DEPS_READY, BASE, R_, 0 },
        { R_, SV_EVENT_DEP_LOST, BASE, P_, TERM | DOWN },
        { R_, SV_EVENT_PROBE_OK, BASE, R_, 0 },
        { R_, SV_EVENT_READY_TIMEOUT, BASE, R_, 0 },  /* stale timer */
        { R_, SV_EVENT_EXITED, BASE, B_, DOWN },
        { R_, SV_EVENT_STOP_TIMEOUT, BASE, R_, 0 },
        { R_, SV_EVENT_BACKOFF_DONE, BASE, R_, 0 },
        { R_, SV_EVENT_SPAWN_FAILED, BASE, R_, 0 },
        { R_, SV_EVENT_NOT_FOUND, BASE, R_, 0 },
        { R_, SV_EVENT_RESTART, BASE, P_, TERM | DOWN },
        { R_, SV_EVENT_RETRY, BASE, R_, 0 },
        /* STOPPING */
        { P_, SV_EVENT_START, BASE, P_, 0 },          /* decided at exit */
        { P_, SV_EVENT_STOP, BASE, P_, 0 },
        { P_, SV_EVENT_DEPS_READY, BASE, P_, 0 },
        { P_, SV_EVENT_DEP_LOST, BASE, P_, 0 },
        { P_, SV_EVENT_PROBE_OK, BASE, P_, 0 },
        { P_, SV_EVENT_READY_TIMEOUT, BASE, P_, 0 },
        { P_, SV_EVENT_EXITED, BASE, B_, 0 },         /* e.g. killed after ready timeout */
        { P_, SV_EVENT_STOP_TIMEOUT, BASE, P_, KILL },
        { P_, SV_EVENT_BACKOFF_DONE, BASE, P_, 0 },
        { P_, SV_EVENT_SPAWN_FAILED, BASE, P_, 0 },
        { P_, SV_EVENT_NOT_FOUND, BASE, P_, 0 },
        { P_, SV_EVENT_RESTART, BASE, P_, 0 },        /* decided at exit */
        { P_, SV_EVENT_RETRY, BASE, P_, 0 },
        /* BACKOFF */
        { B_, SV_EVENT_START, BASE, B_, 0 },
        { B_, SV_EVENT_STOP, BASE, I_, 0 },
        { B_, SV_EVENT_DEPS_READY, BASE, B_, 0 },
        { B_, SV_EVENT_DEP_LOST, BASE, W_, 0 },       /* restart after the dependency */
        { B_, SV_EVENT_PROBE_OK, BASE, B_, 0 },
        { B_, SV_EVENT_READY_TIMEOUT, BASE, B_, 0 },
        { B_, SV_EVENT_EXITED, BASE, B_, 0 },
        { B_, SV_EVENT_STOP_TIMEOUT, BASE, B_, 0 },
        { B_, SV_EVENT_BACKOFF_DONE, BASE, S_, SPAWN },
        { B_, SV_EVENT_SPAWN_FAILED, BASE, B_, 0 },
        { B_, SV_EVENT_NOT_FOUND, BASE, B_, 0 },
        { B_, SV_EVENT_RESTART, BASE, B_, 0 },        /* its next start takes what is new */
        { B_, SV_EVENT_RETRY, BASE, B_, 0 },          /* its own timer is BACKOFF_DONE */
        /* FAILED */
        { F_, SV_EVENT_START, BASE, S_, SPAWN | FRESH }, /* explicit start retries */
        { F_, SV_EVENT_STOP, BASE, F_, 0 },           /* keeps its reason visible */
        { F_, SV_EVENT_DEPS_READY, BASE, F_, 0 },
        { F_, SV_EVENT_DEP_LOST, BASE, F_, 0 },
        { F_, SV_EVENT_PROBE_OK, BASE, F_, 0 },
        { F_, SV_EVENT_READY_TIMEOUT, BASE, F_, 0 },
        { F_, SV_EVENT_EXITED, BASE, F_, 0 },
        { F_, SV_EVENT_STOP_TIMEOUT, BASE, F_, 0 },
        { F_, SV_EVENT_BACKOFF_DONE, BASE, F_, 0 },
        { F_, SV_EVENT_SPAWN_FAILED, BASE, F_, 0 },
        { F_, SV_EVENT_NOT_FOUND, BASE, F_, 0 },
        { F_, SV_EVENT_RESTART, BASE, F_, 0 },        /* only a start, asked for or the retry */
        { F_, SV_EVENT_RETRY, BASE, S_, SPAWN | FRESH }, /* the recovery delay is over */

        /* Cells that depend on the inputs. */
        { I_, SV_EVENT_START, NODEPS, W_, 0 },
        { W_, SV_EVENT_START, NODEPS, W_, 0 },
        { W_, SV_EVENT_DEPS_READY, NOWANT, W_, 0 },
        { S_, SV_EVENT_EXITED, OVER, F_, LATER },     /* gives up for now */
        { S_, SV_EVENT_EXITED, NORESTART, I_, 0 },    /* policy: no restart */
        { S_, SV_EVENT_EXITED, NOWANT, I_, 0 },
        { S_, SV_EVENT_SPAWN_FAILED, OVER, F_, LATER }, /* fork failed: memory may come back */
        { S_, SV_EVENT_SPAWN_FAILED, NORESTART, B_, 0 }, /* nothing exited: retried */
        { S_, SV_EVENT_NOT_FOUND, OVER, F_, 0 },      /* not found wins: no retry */
        { R_, SV_EVENT_EXITED, OVER, F_, DOWN | LATER },
        { R_, SV_EVENT_EXITED, NORESTART, I_, DOWN }, /* firefox closed cleanly */
        { R_, SV_EVENT_EXITED, NOWANT, I_, DOWN },
        { R_, SV_EVENT_EXITED, RESTARTING, S_, SPAWN | DOWN }, /* closed, not failing: at once */
        { R_, SV_EVENT_EXITED, RESTARTING_OVER, S_, SPAWN | DOWN }, /* not a failure: not counted */
        { R_, SV_EVENT_EXITED, RESTARTING_NODEPS, W_, DOWN },
        /* Closed again and again with no use in between: it quits by
         * itself, back after a backoff, but never failed for it. */
        { R_, SV_EVENT_EXITED, IDLE, B_, DOWN },
        { R_, SV_EVENT_EXITED, IDLE_OVER, B_, DOWN },
        { R_, SV_EVENT_EXITED, IDLE_NOWANT, I_, DOWN },
        { R_, SV_EVENT_EXITED, IDLE_ONLY, B_, DOWN },   /* not a close: a crash's backoff */
        { S_, SV_EVENT_EXITED, IDLE_ONLY, B_, 0 },
        { P_, SV_EVENT_EXITED, IDLE, S_, SPAWN },       /* a restart's exit: only READY's is a close */
        { P_, SV_EVENT_EXITED, NOWANT, I_, 0 },       /* a requested stop */
        { P_, SV_EVENT_EXITED, NODEPS, W_, 0 },       /* stopped for its dependency */
        { P_, SV_EVENT_EXITED, OVER, F_, LATER },     /* stopped after its ready timeout */
        /* Stopped after its ready timeout: a failed start, which the policy
         * decides as for an exit before ready (restart never: not again). */
        { P_, SV_EVENT_EXITED, NORESTART, I_, 0 },
        { P_, SV_EVENT_EXITED, RESTARTING, S_, SPAWN }, /* a restart: at once, no backoff */
        { P_, SV_EVENT_EXITED, RESTARTING_OVER, S_, SPAWN }, /* asked for: not counted */
        { P_, SV_EVENT_EXITED, RESTARTING_NODEPS, W_, 0 },
        { I_, SV_EVENT_NOT_FOUND, NODEPS, F_, 0 },
        { B_, SV_EVENT_BACKOFF_DONE, NODEPS, W_, 0 },
        { B_, SV_EVENT_BACKOFF_DONE, NOWANT, I_, 0 },
        { F_, SV_EVENT_START, NODEPS, W_, FRESH },
        { F_, SV_EVENT_RETRY, NODEPS, W_, FRESH },    /* its dependency failed too: waits for it */
        { F_, SV_EVENT_RETRY, NOWANT, F_, 0 },        /* stopped meanwhile: stays, keeps its reason */
        { F_, SV_EVENT_RETRY, OVER, S_, SPAWN | FRESH }, /* the budget it was over is forgotten */
        { F_, SV_EVENT_START, NOWANT, S_, SPAWN | FRESH }, /* a start is wanted by definition */
        { I_, SV_EVENT_RETRY, NOWANT, I_, 0 },
        { W_, SV_EVENT_RETRY, NODEPS, W_, 0 },
        { B_, SV_EVENT_RETRY, NOWANT, B_, 0 },
};

static SvInput input(int which) {
        SvInput in = { .want = true, .deps_ready = true, .over_budget = false, .restart = true };

        switch (which) {
        case NOWANT: in.want = false; break;
        case NODEPS: in.deps_ready = false; break;
        case OVER: in.over_budget = true; break;
        case NORESTART: in.restart = false; break;
        case RESTARTING: in.restarting = true; break;
        case RESTARTING_OVER: in.restarting = in.over_budget = true; break;
        case RESTARTING_NODEPS: in.restarting = true; in.deps_ready = false; break;
        case IDLE: in.restarting = in.quits_idle = true; break;
        case IDLE_OVER: in.restarting = in.quits_idle = in.over_budget = true; break;
        case IDLE_NOWANT: in.restarting = in.quits_idle = true; in.want = false; break;
        case IDLE_ONLY: in.quits_idle = true; break;
        }
        return in;
}

static void test_table_is_exhaustive(void **state) {
        for (int s = 0; s < _SERVICE_STATE_MAX; s++)
                for (int e = 0; e < _SV_EVENT_MAX; e++) {
                        unsigned n = 0;
                        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                                n += rows[i].from == (ServiceState)s && rows[i].event == (SvEvent)e &&
                                     rows[i].input == BASE;
                        if (n != 1)
                                fail_msg("%u base rows for %s × %s", n,
                                         service_state_to_string(s), sv_event_to_string(e));
                }
}

static void test_transitions(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const Row *r = &rows[i];
                SvInput in = input(r->input);
                SvTransition t = sv_next(r->from, r->event, &in);

                if (t.state != r->to || t.actions != r->actions)
                        fail_msg("row %zu: %s × %s (input %d) → %s/0x%x, expected %s/0x%x", i,
                                 service_state_to_string(r->from), sv_event_to_string(r->event),
                                 r->input, service_state_to_string(t.state), t.actions,
                                 service_state_to_string(r->to), r->actions);
        }
}

static void test_names(void **state) {
        assert_string_equal(service_state_to_string(SERVICE_BACKOFF), "backoff");
        assert_string_equal(service_state_to_string(SERVICE_FAILED), "failed");
        assert_null(service_state_to_string(_SERVICE_STATE_MAX));
        assert_null(service_state_to_string(_SERVICE_STATE_INVALID));
        assert_string_equal(sv_event_to_string(SV_EVENT_NOT_FOUND), "not-found");
        assert_string_equal(sv_event_to_string(SV_EVENT_RETRY), "retry");
        assert_null(sv_event_to_string(_SV_EVENT_MAX));
        for (int s = 0; s < _SERVICE_STATE_MAX; s++)
                assert_non_null(service_state_to_string(s));
        for (int e = 0; e < _SV_EVENT_MAX; e++)
                assert_non_null(sv_event_to_string(e));
}

static void test_backoff(void **state) {
        const usec_t ms = 1000;

        /* rnd 0 gives the lower bound d/2, rnd max just under d. */
        assert_int_equal(sv_backoff_usec(100 * ms, 10000 * ms, 0, 0), 50 * ms);
        assert_int_equal(sv_backoff_usec(100 * ms, 10000 * ms, 0, UINT32_MAX), 99999);
        assert_int_equal(sv_backoff_usec(100 * ms, 10000 * ms, 3, 0), 400 * ms);
        assert_int_equal(sv_backoff_usec(100 * ms, 10000 * ms, 3, 1u << 31), 600 * ms);
        /* Capped at max, and no overflow for huge n. */
        assert_int_equal(sv_backoff_usec(100 * ms, 10000 * ms, 7, 0), 5000 * ms);
        assert_int_equal(sv_backoff_usec(100 * ms, 10000 * ms, 1000, 0), 5000 * ms);
        assert_int_equal(sv_backoff_usec(100 * ms, 10000 * ms, UINT32_MAX, UINT32_MAX), 9999999);
        assert_int_equal(sv_backoff_usec(0, 10000 * ms, 5, 123), 0);
}

static void test_budget(void **state) {
        const usec_t s = 1000000;
        usec_t starts[5] = { 1 * s, 2 * s, 3 * s, 0, 0 };

        assert_false(sv_over_budget(starts, 5, 3, 60 * s, 3 * s - 1)); /* the third is in the future */
        assert_true(sv_over_budget(starts, 5, 3, 60 * s, 3 * s));
        assert_true(sv_over_budget(starts, 5, 3, 60 * s, 61 * s - 1));
        assert_false(sv_over_budget(starts, 5, 3, 60 * s, 61 * s)); /* the first left the window */
        assert_false(sv_over_budget(starts, 5, 4, 60 * s, 3 * s));
        assert_false(sv_over_budget(starts, 5, 0, 60 * s, 3 * s)); /* burst 0: unlimited */
        assert_false(sv_over_budget(NULL, 0, 1, 60 * s, 3 * s));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_is_exhaustive),
                cmocka_unit_test(test_transitions),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_backoff),
                cmocka_unit_test(test_budget),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
