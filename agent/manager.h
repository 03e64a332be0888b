/* The Manager: everything the running agent owns, passed to every module
 * instead of globals.  main wires it up (agent/run.c); modules keep their
 * own state behind their own pointer here. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "netinit/ipcfg.h"
#include "time-util.h"

typedef struct Supervisor Supervisor;
typedef struct HttpServer HttpServer;
typedef struct LoginManager LoginManager;
typedef struct ChildWatch ChildWatch;

/* Milestones, CLOCK_BOOTTIME µs (kernel start = 0); 0 = not reached. */
typedef struct BootTimes {
        usec_t exec;     /* process start, from /proc/self/stat */
        usec_t network;  /* netinit applied (or skipped) */
        usec_t http;     /* :8080 listening */
        usec_t ready;    /* whole display chain ready, first time */
} BootTimes;

typedef enum NetStatus {
        NET_NOT_CONFIGURED, /* netinit off, or no ip= */
        NET_APPLIED,
        NET_FAILED,
} NetStatus;

typedef struct Manager {
        sd_event *event;
        Config config;
        char config_error[256];   /* PID 1 fell back to defaults: why ("" = none) */
        bool is_pid1;
        bool under_systemd;       /* NOTIFY_SOCKET set */
        usec_t start_monotonic;   /* for uptime_s */
        char build_id[256];       /* first line of build_id_path, "" = unknown */
        BootTimes boot;

        NetStatus net_status;
        IpcfgPlan net_plan;
        IpcfgApplyResult net_result;
        char net_error[256];

        Supervisor *supervisor;
        HttpServer *http;
        LoginManager *logins;     /* NULL until the login work wires it */
        ChildWatch *children;     /* children.c: pid -> exit handler */
        bool stopping;

        /* Added by the agent core (manager.c, notify.c, run.c). */
        bool notified_ready;      /* READY=1 sent */
        int shutdown_phase;       /* manager.c: services, TERM, KILL, final */
        sd_event_source *shutdown_timer;
        int exit_code;            /* what run_main returns when the loop ends */
        struct sd_bus *system_bus;/* notify.c: asking systemd to shut the machine down */

        /* Added by the http work: /health's activeSessions.  Set by the
         * login work; NULL = 0 sessions. */
        unsigned (*active_sessions)(struct Manager *m);
} Manager;

/* Starts the orderly shutdown (services in reverse dependency order, then
 * exit or, as PID 1, sync + reboot/poweroff).  Safe to call twice. */
void manager_request_shutdown(Manager *m, const char *reason);

/* The status for /health: "ok", "starting", "degraded" or "failed". */
const char *manager_health_status(Manager *m);

/* Added by the agent core (manager.c).  manager_new() makes the sd-event
 * loop and the defaults; run.c fills the rest.  manager_free() frees what
 * the Manager owns (the supervisor, the HTTP server, the child registry,
 * the config) and accepts NULL. */
int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
/* Adds the signal sources (SIGCHLD reaps; SIGTERM/SIGINT/SIGPWR shut down;
 * SIGHUP is logged and ignored).  The signals must be blocked already. */
int manager_add_signals(Manager *m);
/* POST /shutdown: the machine, not only the agent.  As PID 1 the same as
 * manager_request_shutdown(); as a systemd system service (config
 * system_shutdown) it asks systemd for reboot.target / poweroff.target,
 * which then stops the agent with SIGTERM; otherwise it stops the agent. */
void manager_request_machine_shutdown(Manager *m, const char *reason);
/* Whether the agent is a service of systemd's system manager (then, like
 * the machine's own init, it may configure the machine's network). */
bool manager_is_system_service(Manager *m);
/* Called by the supervisor (or anyone) when a service changes state, so
 * the Manager can record boot.ready and update STATUS=. */
void manager_services_changed(Manager *m);
