/* The supervisor's pure state machine (see sv-fsm.h).  One function per
 * state, each a switch over every event, so the compiler's -Wswitch checks
 * that no event is forgotten and tests/unit/test-sv-fsm.c checks every
 * cell.  The shape follows s6-supervise: an explicit state × event table,
 * deadlines owned by states, no sleeping.
 *
 * The restart rule in one place: a process that exits while wanted and
 * restartable goes to BACKOFF, unless it is over its start budget (FAILED);
 * a process that exits because a dependency went away goes to WAITING and
 * starts again once every dependency is READY.  A restart is a stop whose
 * exit starts the service again at once: no backoff, no budget, since it
 * was asked for (new secrets), not a failure.  So is a ready service's
 * exit the adapter says was someone closing it (the prestarted browser's
 * last window), which the policy alone cannot tell from a failure.  One
 * closed again and again with no use in between quits by itself (the
 * adapter says that too): it comes back after a backoff instead, as a
 * failed start would, but is never FAILED for it, since a person may be
 * the one closing it.
 *
 * FAILED over the budget is not for ever: after the recovery delay (RETRY)
 * the service starts again with a fresh budget, since what failed it
 * (memory pressure, a file in its way) may have gone; its dependents, in
 * WAITING meanwhile, follow once it is READY.  FAILED for a missing binary
 * or user is never retried: neither appears by itself in a VM's image, and
 * the files a service must own are written once, at the agent's start. */
#include <stddef.h>

#include "macro.h"
#include "string-table.h"
#include "sv-fsm.h"

#define T(s, a) ((SvTransition){ .state = (s), .actions = (a) })

static const char *const service_state_table[_SERVICE_STATE_MAX] = {
        [SERVICE_INACTIVE] = "inactive", [SERVICE_WAITING] = "waiting",
        [SERVICE_STARTING] = "starting", [SERVICE_READY] = "ready",
        [SERVICE_STOPPING] = "stopping", [SERVICE_BACKOFF] = "backoff",
        [SERVICE_FAILED] = "failed",
};

static const char *const sv_event_table[_SV_EVENT_MAX] = {
        [SV_EVENT_START] = "start", [SV_EVENT_STOP] = "stop",
        [SV_EVENT_DEPS_READY] = "deps-ready", [SV_EVENT_DEP_LOST] = "dep-lost",
        [SV_EVENT_PROBE_OK] = "probe-ok", [SV_EVENT_READY_TIMEOUT] = "ready-timeout",
        [SV_EVENT_EXITED] = "exited", [SV_EVENT_STOP_TIMEOUT] = "stop-timeout",
        [SV_EVENT_BACKOFF_DONE] = "backoff-done", [SV_EVENT_SPAWN_FAILED] = "spawn-failed",
        [SV_EVENT_NOT_FOUND] = "not-found", [SV_EVENT_RESTART] = "restart",
        [SV_EVENT_RETRY] = "retry",
};

DEFINE_STRING_TABLE_LOOKUP(service_state, ServiceState);
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(sv_event, SvEvent);

/* Where a wanted service goes when it may start now. */
static SvTransition start_or_wait(const SvInput *in) {
        return in->deps_ready ? T(SERVICE_STARTING, SV_ACTION_SPAWN) : T(SERVICE_WAITING, 0);
}

static SvTransition with(SvTransition t, unsigned actions) {
        t.actions |= actions;
        return t;
}

/* A start attempt failed (exit before or after ready, spawn error). */
static SvTransition failed_start(const SvInput *in, unsigned extra) {
        if (!in->want || !in->restart)
                return T(SERVICE_INACTIVE, extra);
        if (in->over_budget)
                return T(SERVICE_FAILED, extra | SV_ACTION_RETRY_LATER);
        return T(SERVICE_BACKOFF, extra);
}

static SvTransition from_idle(ServiceState s, SvEvent e, const SvInput *in) {
        /* INACTIVE and WAITING: no process. */
        switch (e) {
        case SV_EVENT_START:
                return start_or_wait(in);
        case SV_EVENT_STOP:
                return T(SERVICE_INACTIVE, 0);
        case SV_EVENT_DEPS_READY:
                return s == SERVICE_WAITING && in->want ? T(SERVICE_STARTING, SV_ACTION_SPAWN) : T(s, 0);
        case SV_EVENT_NOT_FOUND:
                /* Checked before a start could spawn (its user is missing);
                 * not retried: see the top. */
                return T(SERVICE_FAILED, 0);
        case SV_EVENT_DEP_LOST:
        case SV_EVENT_PROBE_OK:
        case SV_EVENT_READY_TIMEOUT:
        case SV_EVENT_EXITED:
        case SV_EVENT_STOP_TIMEOUT:
        case SV_EVENT_BACKOFF_DONE:
        case SV_EVENT_SPAWN_FAILED:
        case SV_EVENT_RESTART: /* nothing runs: it starts with what is new */
        case SV_EVENT_RETRY:
        case _SV_EVENT_MAX:
        case _SV_EVENT_INVALID:
                break;
        }
        return T(s, 0);
}

static SvTransition from_starting(SvEvent e, const SvInput *in) {
        switch (e) {
        case SV_EVENT_STOP:
        case SV_EVENT_DEP_LOST:
        case SV_EVENT_READY_TIMEOUT:
        case SV_EVENT_RESTART:
                return T(SERVICE_STOPPING, SV_ACTION_TERM);
        case SV_EVENT_PROBE_OK:
                return T(SERVICE_READY, SV_ACTION_NOTIFY_UP);
        case SV_EVENT_EXITED:
                return failed_start(in, 0);
        case SV_EVENT_SPAWN_FAILED: {
                /* No process was created, so "restart" is implied. */
                SvInput i = *in;
                i.restart = true;
                return failed_start(&i, 0);
        }
        case SV_EVENT_NOT_FOUND:
                return T(SERVICE_FAILED, 0); /* not retried: see the top */
        case SV_EVENT_START:
        case SV_EVENT_DEPS_READY:
        case SV_EVENT_STOP_TIMEOUT:
        case SV_EVENT_BACKOFF_DONE:
        case SV_EVENT_RETRY:
        case _SV_EVENT_MAX:
        case _SV_EVENT_INVALID:
                break;
        }
        return T(SERVICE_STARTING, 0);
}

static SvTransition from_ready(SvEvent e, const SvInput *in) {
        switch (e) {
        case SV_EVENT_STOP:
        case SV_EVENT_DEP_LOST:
        case SV_EVENT_RESTART:
                return T(SERVICE_STOPPING, SV_ACTION_TERM | SV_ACTION_NOTIFY_DOWN);
        case SV_EVENT_EXITED:
                /* Closed by someone, not failing (the adapter says so):
                 * back at once, as after a restart, wanted still; quitting
                 * by itself, after a backoff, whatever the budget. */
                if (in->want && in->restarting && in->quits_idle)
                        return T(SERVICE_BACKOFF, SV_ACTION_NOTIFY_DOWN);
                if (in->want && in->restarting)
                        return with(start_or_wait(in), SV_ACTION_NOTIFY_DOWN);
                return failed_start(in, SV_ACTION_NOTIFY_DOWN);
        case SV_EVENT_START:
        case SV_EVENT_DEPS_READY:
        case SV_EVENT_PROBE_OK:
        case SV_EVENT_READY_TIMEOUT:
        case SV_EVENT_STOP_TIMEOUT:
        case SV_EVENT_BACKOFF_DONE:
        case SV_EVENT_SPAWN_FAILED:
        case SV_EVENT_NOT_FOUND:
        case SV_EVENT_RETRY:
        case _SV_EVENT_MAX:
        case _SV_EVENT_INVALID:
                break;
        }
        return T(SERVICE_READY, 0);
}

static SvTransition from_stopping(SvEvent e, const SvInput *in) {
        switch (e) {
        case SV_EVENT_STOP_TIMEOUT:
                return T(SERVICE_STOPPING, SV_ACTION_KILL);
        case SV_EVENT_EXITED:
                /* We stopped it, so why we did decides, not its exit
                 * status: a stop asked for, for a dependency or for a
                 * restart.  What is left is the stop after its ready
                 * timeout, a failed start: the restart policy decides it
                 * as for an exit before ready (the adapter's restart says
                 * whether the policy restarts a failure). */
                if (!in->want)
                        return T(SERVICE_INACTIVE, 0);
                if (!in->deps_ready)
                        return T(SERVICE_WAITING, 0);
                if (in->restarting)
                        return T(SERVICE_STARTING, SV_ACTION_SPAWN);
                return failed_start(in, 0);
        case SV_EVENT_START:
        case SV_EVENT_STOP:
        case SV_EVENT_DEPS_READY:
        case SV_EVENT_DEP_LOST:
        case SV_EVENT_PROBE_OK:
        case SV_EVENT_READY_TIMEOUT:
        case SV_EVENT_BACKOFF_DONE:
        case SV_EVENT_SPAWN_FAILED:
        case SV_EVENT_NOT_FOUND:
        case SV_EVENT_RESTART: /* decided at exit (input restarting) */
        case SV_EVENT_RETRY:
        case _SV_EVENT_MAX:
        case _SV_EVENT_INVALID:
                break;
        }
        return T(SERVICE_STOPPING, 0);
}

static SvTransition from_backoff(SvEvent e, const SvInput *in) {
        switch (e) {
        case SV_EVENT_STOP:
                return T(SERVICE_INACTIVE, 0);
        case SV_EVENT_DEP_LOST:
                return T(SERVICE_WAITING, 0);
        case SV_EVENT_BACKOFF_DONE:
                return in->want ? start_or_wait(in) : T(SERVICE_INACTIVE, 0);
        case SV_EVENT_START:
        case SV_EVENT_DEPS_READY:
        case SV_EVENT_PROBE_OK:
        case SV_EVENT_READY_TIMEOUT:
        case SV_EVENT_EXITED:
        case SV_EVENT_STOP_TIMEOUT:
        case SV_EVENT_SPAWN_FAILED:
        case SV_EVENT_NOT_FOUND:
        case SV_EVENT_RESTART: /* its next start takes what is new */
        case SV_EVENT_RETRY:
        case _SV_EVENT_MAX:
        case _SV_EVENT_INVALID:
                break;
        }
        return T(SERVICE_BACKOFF, 0);
}

static SvTransition from_failed(SvEvent e, const SvInput *in) {
        /* An explicit start or the retry gets out, with a fresh budget;
         * failed stays failed through stop so /health keeps saying why. */
        switch (e) {
        case SV_EVENT_START:
                return with(start_or_wait(in), SV_ACTION_FRESH_BUDGET);
        case SV_EVENT_RETRY:
                /* Not once it was stopped (by hand, or the agent's stop). */
                if (!in->want)
                        return T(SERVICE_FAILED, 0);
                return with(start_or_wait(in), SV_ACTION_FRESH_BUDGET);
        case SV_EVENT_STOP:
        case SV_EVENT_DEPS_READY:
        case SV_EVENT_DEP_LOST:
        case SV_EVENT_PROBE_OK:
        case SV_EVENT_READY_TIMEOUT:
        case SV_EVENT_EXITED:
        case SV_EVENT_STOP_TIMEOUT:
        case SV_EVENT_BACKOFF_DONE:
        case SV_EVENT_SPAWN_FAILED:
        case SV_EVENT_NOT_FOUND:
        case SV_EVENT_RESTART: /* only a start, asked for or the retry */
        case _SV_EVENT_MAX:
        case _SV_EVENT_INVALID:
                break;
        }
        return T(SERVICE_FAILED, 0);
}

SvTransition sv_next(ServiceState state, SvEvent event, const SvInput *in) {
        switch (state) {
        case SERVICE_INACTIVE:
        case SERVICE_WAITING:
                return from_idle(state, event, in);
        case SERVICE_STARTING:
                return from_starting(event, in);
        case SERVICE_READY:
                return from_ready(event, in);
        case SERVICE_STOPPING:
                return from_stopping(event, in);
        case SERVICE_BACKOFF:
                return from_backoff(event, in);
        case SERVICE_FAILED:
                return from_failed(event, in);
        case _SERVICE_STATE_MAX:
        case _SERVICE_STATE_INVALID:
                break;
        }
        return T(state, 0);
}

usec_t sv_backoff_usec(usec_t initial, usec_t max, unsigned n, uint32_t rnd) {
        usec_t d = initial;

        for (unsigned i = 0; i < n && d < max; i++)
                d *= 2;
        d = MIN(d, max);
        /* d/2 + rnd·(d/2)/2³²: in [d/2, d). */
        return d / 2 + (usec_t)(((unsigned __int128)(d - d / 2) * rnd) >> 32);
}

bool sv_over_budget(const usec_t *starts, unsigned n_starts, unsigned burst,
                    usec_t window, usec_t now_usec) {
        unsigned c = 0;

        if (burst == 0)
                return false; /* 0: no budget, restart forever */
        for (unsigned i = 0; i < n_starts; i++)
                if (starts[i] != 0 && starts[i] <= now_usec && now_usec - starts[i] < window)
                        c++;
        return c >= burst;
}
