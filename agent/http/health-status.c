/* Implementation of health-status.h. */
#include "health-status.h"
#include "macro.h"
#include "string-table.h"

static const char *const health_status_table[_HEALTH_STATUS_MAX] = {
        [HEALTH_OK] = "ok",
        [HEALTH_STARTING] = "starting",
        [HEALTH_DEGRADED] = "degraded",
        [HEALTH_FAILED] = "failed",
};
DEFINE_STRING_TABLE_LOOKUP(health_status, HealthStatus);

HealthStatus health_status_decide(const HealthFacts *f) {
        /* A failed chain service means the VM cannot serve its purpose,
         * whatever else is true; degraded means serving with something
         * fallen back (a host should look, but the desktop may work). */
        if (f->chain_failed > 0)
                return HEALTH_FAILED;
        if (f->stopping || f->config_error || f->network_failed || f->secrets_missing || f->desktop_held ||
            f->clis_unavailable)
                return HEALTH_DEGRADED;
        if (!f->services_started || f->chain_not_ready > 0 || f->secrets_pending)
                return HEALTH_STARTING;
        return HEALTH_OK;
}
