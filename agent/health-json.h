/* The shapes of GET /health, GET /health/ready and GET /metrics, built from
 * a plain snapshot so they are unit tested without MHD, a supervisor or a
 * clock.  health.c fills the snapshot from the Manager; this file only
 * formats (pure: no syscalls, no MHD headers). */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "netinit/ipcfg.h"
#include "supervisor.h"
#include "time-util.h"

typedef struct HealthHttpCount {
        const char *route;   /* route path, or "other" for unmatched requests */
        unsigned status;
        uint64_t count;
} HealthHttpCount;

typedef struct HealthSnapshot {
        const char *status;        /* manager_health_status() */
        const char *version;
        const char *build_id;      /* "" or NULL: null in JSON */
        usec_t uptime;
        usec_t realtime;           /* CLOCK_REALTIME µs, for "timestamp" */
        unsigned active_sessions;
        const char *config_error;  /* "" or NULL: key omitted */

        /* network: what netinit applied */
        const char *net_status;    /* "applied", "failed", "not_configured" */
        const IpcfgIface *net_iface; /* first configured interface; NULL = none */
        const char *net_device;    /* resolved device name; "" = from the plan */
        const char *net_error;     /* "" or NULL: null */

        /* boot milestones, CLOCK_BOOTTIME µs; 0 = not reached */
        usec_t boot_exec, boot_network, boot_http, boot_ready;

        const ServiceStatus *services;
        size_t n_services;
        /* service_state_to_string() for each state, so this file needs no
         * supervisor code. */
        const char *state_names[_SERVICE_STATE_MAX];

        const HealthHttpCount *http;
        size_t n_http;
} HealthSnapshot;

/* The /health object as compact JSON text, NUL-terminated, owned by the
 * caller (free()).  -ENOMEM on allocation failure. */
int health_build_json(const HealthSnapshot *s, char **ret, size_t *ret_size);

/* The /health/ready object: {"ready":true} or {"ready":false,"reason":...}. */
int health_build_ready_json(bool ready, const char *reason, json_t **ret);

/* Prometheus text exposition format 0.0.4; NUL-terminated, owned by the
 * caller (free()). */
int health_build_metrics(const HealthSnapshot *s, char **ret, size_t *ret_size);

/* "2026-11-21T23:59:01.123Z": the ISO 8601 UTC form of a CLOCK_REALTIME
 * µs value, as JavaScript's toISOString() prints it.  Returns buf. */
#define HEALTH_TIMESTAMP_MAX 64
char *health_format_timestamp(usec_t realtime, char buf[static HEALTH_TIMESTAMP_MAX]);
