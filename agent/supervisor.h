/* The supervisor: services are data (ServiceDef), their lifecycle is the
 * pure state machine in sv-fsm.c, and this adapter spawns, probes, kills
 * and reaps on the Manager's sd-event loop.
 *
 * CONTRACT shared with the HTTP (/health, /metrics) and login work: the
 * status accessors and on-demand start below.  The rest of this header
 * belongs to the supervisor work. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "time-util.h"

typedef struct Supervisor Supervisor;

typedef enum ServiceState {
        SERVICE_INACTIVE, /* not started: on-demand services (firefox) */
        SERVICE_WAITING,  /* waiting for its dependencies to be ready */
        SERVICE_STARTING, /* spawned; readiness probe not yet passed */
        SERVICE_READY,
        SERVICE_STOPPING,
        SERVICE_BACKOFF,  /* exited; restart scheduled */
        SERVICE_FAILED,   /* over its start budget, or its binary is missing */
        _SERVICE_STATE_MAX,
        _SERVICE_STATE_INVALID = -22,
} ServiceState;

const char *service_state_to_string(ServiceState s);

typedef struct ServiceStatus {
        const char *name;       /* borrowed: valid while the supervisor lives */
        ServiceState state;
        pid_t pid;              /* 0 when not running */
        unsigned restarts;
        const char *last_exit;  /* "exited 1", "killed by SIGKILL"; NULL = none */
        const char *last_error; /* "Xvfb: not found in PATH"; NULL = none */
        usec_t ready_boottime;  /* CLOCK_BOOTTIME µs of the last ready; 0 = never */
        bool on_demand;
} ServiceStatus;

size_t supervisor_n_services(Supervisor *s);
/* Fills *ret for service i (0-based, dependency order); -ERANGE past the end. */
int supervisor_get_status(Supervisor *s, size_t i, ServiceStatus *ret);
/* true when every service that is not on-demand is READY; otherwise false
 * and a one-line reason ("x11vnc: starting") in reason. */
bool supervisor_chain_ready(Supervisor *s, char *reason, size_t size);

/* Starts an on-demand service (firefox) with extra_argv appended to its
 * argv (NULL-terminated, copied; may be NULL; kept for its automatic
 * restarts until the next call).  -EALREADY when starting or ready;
 * -ESHUTDOWN once supervisor_stop_all() ran; -ENOENT: no such service.
 * A failed service gets a fresh start budget. */
int supervisor_start_service(Supervisor *s, const char *name, char *const *extra_argv);
int supervisor_stop_service(Supervisor *s, const char *name);

/* ---- Lifecycle, for the core (agent/run.c). ---- */
typedef struct Manager Manager;

/* Loads the services (Config.services_file, else the built-in display stack
 * from vnc/display.c) and prepares them; nothing is started.  A bad
 * services file is logged naming the service and key, and gives -EINVAL.
 * Every failure is logged here, so the caller need not log it again. */
int supervisor_new(Manager *m, Supervisor **ret);
/* Frees; any process group still running is SIGKILLed (stop_all first for
 * an orderly stop). */
Supervisor *supervisor_free(Supervisor *s);
/* Starts every service that is not on-demand, in dependency order: each
 * one spawns once all its dependencies are READY. */
int supervisor_start_all(Supervisor *s);
/* Stops everything in reverse dependency order: a service gets SIGTERM
 * (to its process group) once all its dependents are down, and SIGKILL
 * after its stop timeout.  done(userdata) is called once, from the event
 * loop, when no service process is left (possibly before this returns
 * when nothing runs).  Nothing restarts afterwards. */
int supervisor_stop_all(Supervisor *s, void (*done)(void *userdata), void *userdata);
/* Progress lines for sd_notify STATUS= ("x11vnc ready (3/4)", "Display
 * chain ready"); line is only valid during the call. */
void supervisor_set_status_hook(Supervisor *s, void (*cb)(const char *line, void *userdata),
                                void *userdata);
