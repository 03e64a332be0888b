/* The shapes of GET /health, GET /health/ready and GET /metrics, built from
 * a plain snapshot so they are unit tested without MHD, a supervisor or a
 * clock.  The agent (agent/health-routes.c) fills the snapshot; this file
 * only formats (pure: no syscalls, no MHD headers, no types of the layers
 * it reports on). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "time-util.h"

typedef struct HealthHttpCount {
        const char *route;   /* route path, or "other" for unmatched requests */
        unsigned status;
        uint64_t count;
} HealthHttpCount;

/* One supervised service. */
typedef struct HealthService {
        const char *name;
        int state;                 /* index into HealthSnapshot.state_names */
        pid_t pid;                 /* 0 when not running */
        unsigned restarts;
        const char *last_exit;     /* NULL: null */
        const char *last_error;    /* NULL: null */
        usec_t ready_boottime;     /* CLOCK_BOOTTIME µs of the last ready; 0 = never */
        usec_t retry_in;           /* failed, started again in this many µs; 0 = no retry to come */
        bool on_demand;
        /* CPU time (/metrics only), summed over its runs whose time is
         * known (µs), and the runs whose time is not; without cgroups
         * (cpu_counted false) its seconds are no measure: left out. */
        bool cpu_counted;
        uint64_t cpu_usec;
        uint64_t cpu_unknown;
} HealthService;

/* What netinit did, as text.  NULL or "" strings are null in JSON. */
typedef struct HealthNetwork {
        const char *status;        /* "applied", "failed", "not_configured" */
        const char *device, *method, *address, *gateway, *error;
        int prefix;                /* < 0: null */
        const char *const *dns;
        size_t n_dns;
        uint32_t mtu;              /* 0: null */
        int port_floor;            /* net.ipv4.ip_unprivileged_port_start; < 0: null */
} HealthNetwork;

/* One pinned provider CLI: its pin and what is installed. */
typedef struct HealthCli {
        const char *provider;
        const char *package;
        const char *pinned;        /* the pinned version */
        const char *installed;     /* the installed version; NULL: missing */
} HealthCli;

/* Snapshot restores (agent/restore.c); reported only when enabled. */
typedef struct HealthRestore {
        bool enabled;
        bool restoring;            /* redoing one now, or refused and waiting */
        const char *generation;    /* NULL: none known yet (null) */
        unsigned restores;
        int64_t last_restore_ms;   /* < 0: none yet (null) */
} HealthRestore;

typedef struct HealthSnapshot {
        const char *status;        /* health_status_to_string(health_status_decide(...)) */
        const char *version;
        const char *build_id;      /* "" or NULL: null in JSON */
        usec_t uptime;
        usec_t realtime;           /* CLOCK_REALTIME µs, for "timestamp" */
        unsigned active_sessions;
        /* The logins' provider CLIs that ended: the CPU time of those
         * whose time is known (µs), and how many it is not known for. */
        uint64_t login_cli_cpu_usec;
        uint64_t login_cli_cpu_unknown;
        const char *auth;          /* "token", "pending", "no-token" */
        const char *desktop;       /* "secret", "pending", "no-secret", "held" */
        const char *config_error;  /* "" or NULL: key omitted */
        const char *cli_error;     /* why no provider CLI can run; "" or NULL: key omitted */

        HealthNetwork network;

        /* boot milestones, CLOCK_BOOTTIME µs; 0 = not reached */
        usec_t boot_exec, boot_network, boot_http, boot_ready;

        const HealthService *services;
        size_t n_services;
        /* The name of every state a service can be in (/metrics lists
         * each), indexed by HealthService.state. */
        const char *const *state_names;
        size_t n_states;

        const HealthCli *clis;
        size_t n_clis;

        const HealthHttpCount *http;
        size_t n_http;
        unsigned http_waiting;     /* requests suspended for their answer */
        unsigned http_connections; /* connections admitted and not yet closed */
        unsigned long long http_loopback_unowned; /* loopback connections of an unknown local user */

        HealthRestore restore;
        bool push_enabled;         /* the push handoff is configured */
        unsigned push_queued;      /* credentials waiting for the host's ACK */
} HealthSnapshot;

/* The /health object as compact JSON text, NUL-terminated, owned by the
 * caller (free()).  -ENOMEM on allocation failure. */
int health_build_json(const HealthSnapshot *s, char **ret, size_t *ret_size);

/* The /health/ready object: {"ready":true} or {"ready":false,"reason":...}. */
int health_build_ready_json(bool ready, const char *reason, json_t **ret);

/* Prometheus text exposition format 0.0.4; NUL-terminated, owned by the
 * caller (free()). */
int health_build_metrics(const HealthSnapshot *s, char **ret, size_t *ret_size);
