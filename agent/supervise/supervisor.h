/* The supervisor: services are data (ServiceDef), their lifecycle is the
 * pure state machine in sv-fsm.c, and this adapter spawns, probes, kills
 * and reaps on an sd-event loop.  It is given what it uses: the loop, the
 * child registry, the service list and its timing options; it reports
 * upward only through the hooks it is handed (a change, a status line).
 *
 * A service FAILED over its start budget is started again, with a fresh
 * budget, failed_retry_s after it failed, while it is still wanted (not
 * stopped since); its dependents wait meanwhile and follow once it is
 * READY.  One FAILED for a missing binary, user or owned file is not
 * retried; an exec that fails in the child (a script's interpreter
 * missing, its user's task limit) is a spawn that failed, retried as any,
 * and an exit 127 is an exit like any other. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <sys/types.h>

#include "children.h"
#include "macro.h"
#include "service-def.h"
#include "sv-fsm.h"
#include "time-util.h"

typedef struct Supervisor Supervisor;

typedef struct SupervisorOptions {
        sd_event *event;
        Children *children;           /* registry the service exits arrive through */
        const char *bin_path;         /* PATH for finding service binaries */
        uint32_t restart_burst;       /* starts allowed per window before FAILED */
        uint32_t restart_window_s;
        uint32_t failed_retry_s;      /* FAILED over the budget: started again after this; 0: never */
        uint32_t backoff_initial_ms;  /* first restart delay (doubles, with jitter) */
        uint32_t backoff_max_ms;
        uint32_t ready_timeout_ms;    /* default for services that set none */
        uint32_t stop_timeout_ms;     /* default for services that set none */
        const char *passwd_path;      /* where services' users are looked up; NULL: /etc/passwd */
        const char *cgroup_base;      /* each service gets the cgroup <base>/<name>.service (cgroup.h);
                                       * NULL: its process group is all that is killed */
        bool memory;                  /* the memory controller is enabled below cgroup_base: services'
                                       * memory_max_mb apply (else they are ignored) */
        uint32_t memory_period_ms;    /* a READY service that reaches its memory.max is read again this
                                       * much later, and said to crawl when it reached it again by then
                                       * (sv-memory.h); 0: SV_MEMORY_PERIOD_USEC */
        uint32_t memory_thrash_kill_ms; /* a READY service thrashing at its memory.max this long is
                                       * killed (sv-memory.h); 0: never */
} SupervisorOptions;

typedef struct SupervisorHooks {
        /* A service changed state (after the whole event is handled). */
        void (*on_change)(void *userdata);
        /* A progress line for sd_notify STATUS= ("x11vnc ready (3/4)",
         * "Display chain ready"); line is only valid during the call. */
        void (*on_status)(const char *line, void *userdata);
        /* Strings that must never reach the log (the desktop secret, which
         * websockify prints): a service's output lines have them replaced
         * by "[REDACTED]".  NULL-terminated, borrowed for the call; asked
         * for each line, so a secret that changes is followed.  May be NULL. */
        const char *const *(*secrets)(void *userdata);
        void *userdata;
} SupervisorHooks;

/* Takes over *defs (finalized; *defs is emptied) and prepares the services;
 * nothing is started.  o and its strings must outlive the supervisor. */
int supervisor_new(const SupervisorOptions *o, ServiceDefs *defs, const SupervisorHooks *hooks,
                   Supervisor **ret);
/* Frees; any process group still running is SIGKILLed, and what is left
 * in the services' cgroups (stop_all first for an orderly stop); the
 * cgroups are removed.  NULL-safe. */
Supervisor *supervisor_free(Supervisor *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Supervisor *, supervisor_free);

/* Starts every service that is not on-demand, in dependency order: each
 * one spawns once all its dependencies are READY. */
int supervisor_start_all(Supervisor *s);
/* Stops everything in reverse dependency order: a service gets SIGTERM
 * (to its process group) once all its dependents are down, and SIGKILL
 * after its stop timeout.  done(userdata) is called once, from the event
 * loop, when no service process is left (possibly before this returns
 * when nothing runs).  Nothing restarts afterwards. */
int supervisor_stop_all(Supervisor *s, void (*done)(void *userdata), void *userdata);

size_t supervisor_n_services(Supervisor *s);
/* Fills *ret for service i (0-based, dependency order); -ERANGE past the end. */
int supervisor_get_status(Supervisor *s, size_t i, ServiceStatus *ret);
/* The CPU time of a service, summed over its runs (each process spawned,
 * with all it started), read from its cgroup: each ended run's as its
 * cgroup was removed (what it left there, killed with it, included; a
 * run that takes over the cgroup while it still empties goes on
 * counting in it), the live run's now.  Without cgroups its CPU time is
 * unknown: counted is false and usec is no measure of it (0). */
typedef struct ServiceCpu {
        bool counted;     /* it gets a cgroup of its own (SupervisorOptions.cgroup_base) */
        uint64_t usec;    /* over its runs whose time is known */
        uint64_t unknown; /* its runs whose time is not (wholly) in usec: spawned without a cgroup of
                           * their own, or whose cgroup's cpu.stat could not be read as it was removed */
} ServiceCpu;
/* Fills *ret for service i (as supervisor_get_status()), reading its
 * cgroup's cpu.stat now; -ERANGE past the end. */
int supervisor_service_cpu(Supervisor *sv, size_t i, ServiceCpu *ret);
/* true when every service that is not on-demand is READY; otherwise false
 * and a one-line reason ("x11vnc: starting") in reason. */
bool supervisor_chain_ready(Supervisor *s, char *reason, size_t size);

/* Starts an on-demand service (firefox) with extra_argv appended to its
 * argv (NULL-terminated, copied; may be NULL; kept for its automatic
 * restarts until the next call).  0: spawned; 1: not spawned yet, in a
 * backoff, waiting for its dependencies, or still stopping: its restart
 * after the backoff, its spawn once they are ready, or its spawn once it
 * exited (or, its dependencies gone meanwhile, once they are back), is
 * with extra_argv (on_change says when; supervisor_service_waits_for()
 * says what for).  -EALREADY when starting or ready;
 * -ESHUTDOWN once supervisor_stop_all() ran; -ENOENT: no such service;
 * -ESRCH: its user does not exist, -EPERM: its user is root (then it is
 * FAILED, last_error says which, and it never spawns); a spawn made at
 * once that failed, its -errno (-ENOENT: no binary or owned file, with
 * ServiceStatus.not_found, or an exec that failed so, a script's
 * interpreter missing, without; any errno of the exec or a step before it,
 * -EAGAIN at its user's task limit, -EPERM for a refused drop: see
 * spawn_process(); the service failed or backing off as after any failed
 * spawn); in a backoff
 * after a spawn that failed (the restart a start answered 1 waited for,
 * or any before), that spawn's -errno, last_error saying why, and
 * nothing changed: its next restart is no likelier to spawn.  A failed service
 * gets a fresh start budget; a start asked for does not count in the
 * budget, and one that is still stopping starts again once it exited (no
 * backoff). */
int supervisor_start_service(Supervisor *s, const char *name, char *const *extra_argv);
/* What keeps the service from spawning, for someone waiting for its start:
 * in a backoff "its restart after an exit", stopping "the exit of the one
 * stopping", waiting for its dependencies
 * the first one not ready as supervisor_chain_ready() says it ("Xvfb:
 * failed (Xvfb: not found)"): 1 and reason set.  0 and "" otherwise;
 * -ENOENT: no such service. */
int supervisor_service_waits_for(Supervisor *sv, const char *name, char *reason, size_t size);
/* The service was used (the browser showed a URL): its closes
 * (quit_restarts) from now on are a person's, started again at once,
 * however many in a row; one closed more than a few times with no use
 * in between quits by itself, and is started again after a backoff (no
 * error, never FAILED for it).  0, or -ENOENT: no such service. */
int supervisor_service_used(Supervisor *sv, const char *name);
/* Replaces what is appended to the service's argv at its next automatic
 * restart (after a crash, or with its dependencies), without starting
 * it: 0, -ENOMEM, or -ENOENT: no such service. */
int supervisor_set_restart_argv(Supervisor *s, const char *name, char *const *extra_argv);
/* Sets entry ("K=V") in the service's environment from its next spawn
 * on (a restart, or a start), in place of the entry with its key: 0,
 * -EINVAL, -ENOMEM, or -ENOENT: no such service. */
int supervisor_set_env(Supervisor *s, const char *name, const char *entry);
/* Restarts a running (starting or ready) service, e.g. to take a new
 * secret: SIGTERM to its group and, once it exited, a spawn at once (no
 * backoff, not a failure); its dependents go down with it and come back
 * once it is ready, in dependency order.  One that is not running starts
 * later as it would, with what is new: 0.  -ENOENT: no such service;
 * -ESHUTDOWN once supervisor_stop_all() ran. */
int supervisor_restart_service(Supervisor *s, const char *name);
int supervisor_stop_service(Supervisor *s, const char *name);

/* An X server's lock file (/tmp/.X1-lock) or socket (socket_dir/X1) left
 * by a server that died without cleaning up stops a new one from
 * starting; an X server that is not root cannot remove another user's
 * socket in the sticky socket_dir itself, so a socket any local user put
 * there would keep it down.  Removes the lock when the pid it names is
 * gone or it is not a regular file of root's or uid's, and then (or
 * without a lock: -displayfd writes none) the socket, unless a server of
 * root's or of uid (the X server's) accepts connections on it; sock (size
 * bytes) gets the socket's path.  Returns what was removed
 * (STALE_*_REMOVED), 0 for nothing (absent, or held by a live process),
 * <0 error. */
#define STALE_LOCK_REMOVED 1
#define STALE_SOCKET_REMOVED 2
int supervisor_remove_stale_lock(const char *lock_path, const char *socket_dir, uid_t uid, char *sock,
                                 size_t size);
