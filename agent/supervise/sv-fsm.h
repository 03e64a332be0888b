/* The supervisor's pure state machine: (state × event, inputs) → new state
 * and the actions the adapter must perform.  No system calls, no clocks:
 * the adapter (supervisor.c) turns spawns, exits, probe results and timer
 * expiries into events, and supplies the facts the machine cannot know by
 * itself (is the service wanted, are its dependencies ready, is it over its
 * start budget, does its restart policy restart this exit).  Timers belong
 * to states: the adapter arms the STARTING (ready timeout), STOPPING (stop
 * timeout) and BACKOFF (restart delay) timer on entering the state and
 * disarms it on leaving, so the machine never has to say so.  FAILED's
 * timer (the recovery delay) is the exception: only some ways into FAILED
 * are worth a retry, so the machine says when to arm it (RETRY_LATER);
 * leaving FAILED disarms it as any other. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "time-util.h"

typedef enum ServiceState {
        SERVICE_INACTIVE, /* not started: on-demand services (firefox) */
        SERVICE_WAITING,  /* waiting for its dependencies to be ready */
        SERVICE_STARTING, /* spawned; readiness probe not yet passed */
        SERVICE_READY,
        SERVICE_STOPPING,
        SERVICE_BACKOFF,  /* exited; restart scheduled */
        SERVICE_FAILED,   /* over its start budget (retried after a delay), or its
                           * binary, user or an owned file is missing (not retried) */
        _SERVICE_STATE_MAX,
        _SERVICE_STATE_INVALID = -22,
} ServiceState;

const char *service_state_to_string(ServiceState s);
ServiceState service_state_from_string(const char *s);

/* What the supervisor reports about one service (/health, /metrics). */
typedef struct ServiceStatus {
        const char *name;       /* borrowed: valid while the supervisor lives */
        const char *user;       /* borrowed, as name; NULL: root */
        ServiceState state;
        pid_t pid;              /* 0 when not running */
        unsigned restarts;      /* processes started after its first (attempts that created none: not) */
        bool spawned;           /* a process of it was started once */
        bool not_found;         /* its last spawn found no binary, (non-root) user or owned file; not
                                 * one whose exec failed (a script's interpreter missing) */
        const char *last_exit;  /* "exited 1", "killed by SIGKILL"; NULL = none */
        const char *last_error; /* "Xvfb: not found"; NULL = none */
        usec_t ready_boottime;  /* CLOCK_BOOTTIME µs of the last ready; 0 = never */
        usec_t retry_in;        /* FAILED and to be started again: µs until then (≥ 1); 0 = not */
        bool on_demand;
        bool ended;             /* wanted, but exited and not to be started again (its restart
                                 * policy): INACTIVE until someone starts it */
} ServiceStatus;

typedef enum SvEvent {
        SV_EVENT_START,         /* start requested (start_all, on-demand start) */
        SV_EVENT_STOP,          /* stop requested */
        SV_EVENT_DEPS_READY,    /* every dependency is READY now */
        SV_EVENT_DEP_LOST,      /* a dependency left READY */
        SV_EVENT_PROBE_OK,      /* the readiness probe passed */
        SV_EVENT_READY_TIMEOUT, /* STARTING for longer than ready_timeout */
        SV_EVENT_EXITED,        /* the main process exited (reaped) */
        SV_EVENT_STOP_TIMEOUT,  /* STOPPING for longer than stop_timeout */
        SV_EVENT_BACKOFF_DONE,  /* the restart delay elapsed */
        SV_EVENT_SPAWN_FAILED,  /* fork/exec setup failed (not "not found") */
        SV_EVENT_NOT_FOUND,     /* the binary, the user or an owned file is missing: no point retrying */
        SV_EVENT_RESTART,       /* restart requested (new secrets): stop, then start at once */
        SV_EVENT_RETRY,         /* FAILED for the recovery delay: a start with a fresh budget */
        _SV_EVENT_MAX,
        _SV_EVENT_INVALID = -22,
} SvEvent;

typedef enum SvAction {
        SV_ACTION_SPAWN       = 1 << 0, /* spawn the process and start its probe */
        SV_ACTION_TERM        = 1 << 1, /* SIGTERM to the process group */
        SV_ACTION_KILL        = 1 << 2, /* SIGKILL to the process group */
        SV_ACTION_NOTIFY_UP   = 1 << 3, /* became READY: dependents may start */
        SV_ACTION_NOTIFY_DOWN = 1 << 4, /* left READY: dependents must stop */
        SV_ACTION_RETRY_LATER = 1 << 5, /* arm FAILED's timer: a RETRY after the recovery delay
                                         * (none when the delay is configured as 0) */
        SV_ACTION_FRESH_BUDGET = 1 << 6, /* forget the start budget's past starts and the backoff
                                          * (before any SPAWN of the same transition) */
} SvAction;

typedef struct SvInput {
        bool want;        /* the service should be running (start not undone by stop) */
        bool deps_ready;  /* all dependencies READY */
        bool over_budget; /* starts in the current window reached the burst */
        bool restart;     /* EXITED only: the restart policy restarts this exit (after a
                           * stop for the ready timeout: restarts a failure) */
        bool restarting;  /* a RESTART, or a stop for a lost dependency, is under way,
                           * or (EXITED in READY) it was closed where that is no failure:
                           * its exit starts it again at once (deps permitting) */
        bool quits_idle;  /* EXITED in READY, with restarting: closed again and again with no
                           * use in between (the adapter counts), so it quits by itself: started
                           * again after a backoff, not at once; still no failure (never FAILED) */
} SvInput;

typedef struct SvTransition {
        ServiceState state;
        unsigned actions; /* SvAction bits */
} SvTransition;

const char *sv_event_to_string(SvEvent e);

/* The whole table.  Events that make no sense in a state (a stale timer, a
 * probe result after the process was stopped) leave it unchanged with no
 * action, so races between sources are harmless. */
SvTransition sv_next(ServiceState state, SvEvent event, const SvInput *in);

/* Restart delay for the n-th consecutive failed start (0-based):
 * initial·2ⁿ capped at max, then "equal jitter": uniformly in [d/2, d]
 * using rnd (any 32-bit random value).  Pure, so it is unit tested. */
usec_t sv_backoff_usec(usec_t initial, usec_t max, unsigned n, uint32_t rnd);

/* Start budget: true when at least burst of the start times (µs, any
 * monotonic clock) fall within window before now. */
bool sv_over_budget(const usec_t *starts, unsigned n_starts, unsigned burst,
                    usec_t window, usec_t now_usec);
