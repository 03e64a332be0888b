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
} Manager;

/* Starts the orderly shutdown (services in reverse dependency order, then
 * exit or, as PID 1, sync + reboot/poweroff).  Safe to call twice. */
void manager_request_shutdown(Manager *m, const char *reason);

/* The status for /health: "ok", "starting", "degraded" or "failed". */
const char *manager_health_status(Manager *m);
