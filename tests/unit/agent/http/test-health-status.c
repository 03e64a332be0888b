/* Unit tests for agent/http/health-status.c: the status /health leads
 * with: written-out rows for the cases that matter, every combination of
 * the facts against the rule, and the names.  The rule: a failed chain
 * service is "failed" whatever else holds; then stopping, a config
 * fallback, a failed network, a missing secret, a desktop held down
 * (its secret's files not written) or no provider CLI able to run is
 * "degraded"; then
 * services not started or not all ready, or a secret still being asked
 * for, is "starting". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/http/health-status.h"
#include "macro.h"

/* Columns: services_started, chain_failed, chain_not_ready (the failed
 * count among them), stopping, config_error, network_failed, and (rows
 * at the end) secrets_pending, secrets_missing, desktop_held. */
typedef struct Row {
        bool started;
        size_t failed, not_ready;
        bool stopping, config_error, network_failed;
        HealthStatus expect;
        bool pending, missing, held;
} Row;

#define OK HEALTH_OK
#define ST HEALTH_STARTING
#define DG HEALTH_DEGRADED
#define FL HEALTH_FAILED

static const Row rows[] = {
        /* Nothing fallen back. */
        { false, 0, 0, false, false, false, ST }, /* no supervisor yet */
        { true,  0, 0, false, false, false, OK },
        { true,  0, 2, false, false, false, ST },
        { true,  1, 1, false, false, false, FL },
        { true,  1, 3, false, false, false, FL },
        { false, 1, 1, false, false, false, FL }, /* not reachable, but failed still wins */
        /* Stopping. */
        { false, 0, 0, true,  false, false, DG },
        { true,  0, 0, true,  false, false, DG },
        { true,  0, 2, true,  false, false, DG },
        { true,  1, 1, true,  false, false, FL },
        /* The config fell back (PID 1). */
        { false, 0, 0, false, true,  false, DG },
        { true,  0, 0, false, true,  false, DG },
        { true,  0, 2, false, true,  false, DG },
        { true,  1, 1, false, true,  false, FL },
        /* The network failed. */
        { false, 0, 0, false, false, true,  DG },
        { true,  0, 0, false, false, true,  DG },
        { true,  0, 2, false, false, true,  DG },
        { true,  1, 1, false, false, true,  FL },
        /* Several at once. */
        { true,  0, 0, true,  true,  false, DG },
        { true,  0, 0, true,  false, true,  DG },
        { true,  0, 0, false, true,  true,  DG },
        { true,  0, 0, true,  true,  true,  DG },
        { false, 0, 0, true,  true,  true,  DG },
        { true,  0, 2, true,  true,  true,  DG },
        { true,  1, 1, true,  true,  true,  FL },
        { true,  2, 3, true,  true,  true,  FL },
        /* The host's secrets: asked for (MMDS) is starting, missing is
         * degraded (the host cannot use the VM), a failed service still
         * wins. */
        { true,  0, 0, false, false, false, ST, true,  false },
        { true,  0, 0, false, false, false, DG, false, true  },
        { true,  0, 0, false, false, false, DG, true,  true  },
        { true,  0, 2, false, false, false, ST, true,  false },
        { true,  1, 1, false, false, false, FL, false, true  },
        { true,  0, 0, true,  false, false, DG, true,  false },
        /* The desktop held down (x11vnc and websockify not ready): degraded,
         * not starting; a failed service still wins. */
        { true,  0, 2, false, false, false, DG, false, false, true },
        { true,  0, 2, false, false, false, DG, true,  false, true },
        { true,  1, 2, false, false, false, FL, false, false, true },
};

static void test_rows(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const Row *r = &rows[i];
                HealthFacts f = {
                        .services_started = r->started, .chain_failed = r->failed,
                        .chain_not_ready = r->not_ready, .stopping = r->stopping,
                        .config_error = r->config_error, .network_failed = r->network_failed,
                        .secrets_pending = r->pending, .secrets_missing = r->missing,
                        .desktop_held = r->held,
                };
                HealthStatus got = health_status_decide(&f);
                if (got != r->expect)
                        fail_msg("row %zu: %s, expected %s", i, health_status_to_string(got),
                                 health_status_to_string(r->expect));
        }
}

/* Every combination of the boolean facts (failed and not-ready as 0/1),
 * so a fact added without rows above still meets the rule's order. */
static void test_every_combination(void **state) {
        for (unsigned bits = 0; bits < 1024; bits++) {
                HealthFacts f = {
                        .services_started = bits & 1, .chain_failed = (bits >> 1) & 1,
                        .chain_not_ready = ((bits >> 1) & 1) | ((bits >> 2) & 1), .stopping = (bits >> 3) & 1,
                        .config_error = (bits >> 4) & 1, .network_failed = (bits >> 5) & 1,
                        .secrets_pending = (bits >> 6) & 1, .secrets_missing = (bits >> 7) & 1,
                        .desktop_held = (bits >> 8) & 1, .clis_unavailable = (bits >> 9) & 1,
                };
                HealthStatus expect = f.chain_failed ? FL
                        : f.stopping || f.config_error || f.network_failed || f.secrets_missing || f.desktop_held ||
                          f.clis_unavailable
                        ? DG
                        : !f.services_started || f.chain_not_ready || f.secrets_pending ? ST : OK;
                assert_int_equal(health_status_decide(&f), expect);
        }
}

static void test_names(void **state) {
        assert_string_equal(health_status_to_string(HEALTH_OK), "ok");
        assert_string_equal(health_status_to_string(HEALTH_STARTING), "starting");
        assert_string_equal(health_status_to_string(HEALTH_DEGRADED), "degraded");
        assert_string_equal(health_status_to_string(HEALTH_FAILED), "failed");
        assert_null(health_status_to_string(_HEALTH_STATUS_MAX));
        assert_int_equal(health_status_from_string("degraded"), HEALTH_DEGRADED);
        assert_int_equal(health_status_from_string("unknown"), _HEALTH_STATUS_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rows),
                cmocka_unit_test(test_every_combination),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
