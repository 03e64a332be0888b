/* The Manager: everything the running agent owns, in one place, instead of
 * globals.  run.c builds it in boot order and wires the layers together
 * through the options and hooks each one takes; no layer below sees the
 * Manager itself. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "agent/config/config.h"
#include "launch.h"
#include "machine-id.h"
#include "netinit/netinit.h"
#include "notify.h"
#include "time-util.h"
#include "desktop-setup.h"

typedef struct Children Children;
typedef struct Supervisor Supervisor;
typedef struct HttpServer HttpServer;
typedef struct LoginManager LoginManager;
typedef struct CallbackRoutes CallbackRoutes;
typedef struct LoginRoutes LoginRoutes;
typedef struct Handoff Handoff;
typedef struct Browser Browser;
typedef struct HostSecrets HostSecrets;
typedef struct HttpWaitList HttpWaitList;
typedef struct CliInstalled CliInstalled;
typedef struct Restore Restore;

/* Milestones, CLOCK_BOOTTIME µs (kernel start = 0); 0 = not reached. */
typedef struct BootTimes {
        usec_t exec;     /* process start, from /proc/self/stat */
        usec_t network;  /* netinit applied (or skipped) */
        usec_t http;     /* :8080 listening */
        usec_t ready;    /* whole display chain ready, first time */
} BootTimes;

typedef struct Manager {
        sd_event *event;
        Config config;
        char config_error[256];   /* PID 1 fell back to defaults: why ("" = none) */
        bool is_pid1;
        bool own_ipc_ns;          /* the agent made its services an IPC namespace of their own */
        MachineIdRequest machine_id; /* systemd.machine_id= as read with the vmba.* keys (PID 1) */
        int novnc_socket;         /* websockify's listening socket, the agent's (display.h) */
        /* The IPv6 side of the HTTP and noVNC ports when those listen on
         * 0.0.0.0, held by the agent (tcp_port_hold_ipv6()); -EBADF: none. */
        int http_v6_hold, novnc_v6_hold;
        usec_t start_monotonic;   /* for uptime_s */
        char build_id[256];       /* first line of build_id_path, "" = unknown */
        CliInstalled *clis;       /* the pinned CLIs and what is installed (/health); NULL: none */
        BootTimes boot;
        Notifier notifier;

        /* netinit at start (run.c): the plan (parsed even when not
         * applied), what was applied, and why not. */
        NetinitOutcome net;

        HostSecrets *secrets;     /* the control token and the desktop secret */
        Desktop desktop;          /* its users, files and secret's state (desktop-setup.c) */
        uint64_t cli_caps;        /* the capabilities a CLI with a callback port keeps (port-floor.h) */
        int port_floor;           /* net.ipv4.ip_unprivileged_port_start read at start; -1: unknown */
        uid_t cli_uid;            /* cli_user's (not root, no display user's), when cli_error is "" */
        gid_t cli_gid;            /* its group: every CLI runs with it */
        uid_t cli_uids[CONFIG_CLI_USERS_MAX]; /* <cli_user>1..N: one per live CLI login */
        size_t n_cli_uids;
        char cli_error[256];      /* why the provider CLIs cannot run */
        Children *children;       /* every child exit arrives here (SIGCHLD) */
        Launcher launcher;        /* spawn + children, for the layers above */
        Supervisor *supervisor;
        char *cgroup_base;        /* where the services' cgroups are (cgroup.h); NULL: none */
        HttpServer *http;
        HttpWaitList *ready_waiters; /* GET /health/ready?wait= */
        Browser *browser;
        LoginManager *logins;
        LoginRoutes *login_routes;
        CallbackRoutes *callback_routes;
        Handoff *handoff;
        Restore *restore;         /* snapshot restores (restore.c); NULL: off */

        bool stopping;
        int shutdown_phase;       /* manager.c: services, TERM, KILL, final */
        sd_event_source *shutdown_timer;
        int exit_code;            /* what run_main returns when the loop ends */
} Manager;

/* Makes the sd-event loop, the child registry and the defaults; run.c
 * fills the rest.  manager_free() frees what the Manager owns and accepts
 * NULL. */
int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Adds the signal sources (SIGCHLD reaps; SIGTERM/SIGINT/SIGPWR shut down;
 * SIGHUP is logged and ignored).  The signals must be blocked already. */
int manager_add_signals(Manager *m);

/* Starts the orderly shutdown (services in reverse dependency order, then
 * exit or, as PID 1, sync + reboot/poweroff).  Safe to call twice. */
void manager_request_shutdown(Manager *m, const char *reason);
/* POST /shutdown: the machine, not only the agent.  As PID 1 the same as
 * manager_request_shutdown(); as a systemd system service (config
 * system_shutdown) it asks systemd for reboot.target / poweroff.target,
 * which then stops the agent with SIGTERM; otherwise it stops the agent. */
void manager_request_machine_shutdown(Manager *m, const char *reason);
/* Whether the agent is a service of systemd's system manager (then, like
 * the machine's own init, it may configure the machine's network). */
bool manager_is_system_service(Manager *m);
