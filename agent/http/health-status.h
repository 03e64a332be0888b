/* The one word /health leads with, decided from plain facts so every
 * combination is table tested (tests/unit/agent/http/test-health-status.c).
 * Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum HealthStatus {
        HEALTH_OK,       /* every chain service ready, nothing fell back */
        HEALTH_STARTING, /* a chain service not ready yet (or none started) */
        HEALTH_DEGRADED, /* serving, but stopping, the config or network fell back, a secret is missing,
                          * or no provider CLI can run */
        HEALTH_FAILED,   /* a chain service is over its budget or ended for good: the VM cannot serve */
        _HEALTH_STATUS_MAX,
        _HEALTH_STATUS_INVALID = -22,
} HealthStatus;

const char *health_status_to_string(HealthStatus s);
HealthStatus health_status_from_string(const char *s);

typedef struct HealthFacts {
        bool services_started; /* false: no supervisor (yet) */
        size_t chain_failed;   /* services that are not on-demand, in FAILED or ended (exited, not restarted) */
        size_t chain_not_ready;/* services that are not on-demand, not READY (FAILED included) */
        bool stopping;
        bool config_error;     /* the configuration fell back */
        bool network_failed;
        bool secrets_pending;  /* the token or desktop secret is being asked for (MMDS) */
        bool secrets_missing;  /* no token or no desktop secret: the host cannot use this VM */
        bool desktop_held;     /* the desktop secret's files cannot be written: x11vnc held down */
        bool clis_unavailable; /* providers are defined, but no provider CLI can run (cli_error) */
} HealthFacts;

/* failed beats degraded beats starting beats ok. */
HealthStatus health_status_decide(const HealthFacts *f);
