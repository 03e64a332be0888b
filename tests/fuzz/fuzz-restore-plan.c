/* libFuzzer target for agent/host/restore-plan.c: the MMDS object, the
 * boot's secrets and the handover, as the host (or anyone who controls the
 * answer) wrote it.  Beyond "no crash": secrets are non-empty and within
 * HOST_SECRET_MAX, nothing is set on a refusal; a
 * parsed network never holds a blank or a quote, the generation is within
 * its bound, and the decision on what was parsed is a known verdict with
 * steps only when it is REDO, the generation adopted only from a first
 * answer, the clock not stepped again for a pending redo, and a machine
 * id installed only where the agent sets it, only in machine-id(5)'s form
 * (32 lowercase hex digits, not all zero). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/restore-plan.h"
#include "fuzz.h"

static bool machine_id_form(const char *id) {
        bool zero = true;

        for (size_t i = 0; i < 32; i++) {
                if (!strchr("0123456789abcdef", id[i]) || !id[i])
                        return false;
                zero = zero && id[i] == '0';
        }
        return id[32] == '\0' && !zero;
}

static void secrets_check(const char *text) {
        static char untouched[] = "untouched";
        char *token = untouched, *desktop = untouched;
        int r = mmds_parse_secrets(text, &token, &desktop, NULL);

        CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r < 0) {
                CHECK(token == untouched && desktop == untouched);
                return;
        }
        CHECK(!token || (*token && strlen(token) <= HOST_SECRET_MAX));
        CHECK(!desktop || (*desktop && strlen(desktop) <= HOST_SECRET_MAX));
        free(token);
        free(desktop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const RestoreIdentity ids[] = {
                { "g1", "t1", "desktop-secret-one" }, { NULL, NULL, NULL }, { "1", NULL, "desktop-secret-one" },
                { NULL, "t1", "desktop-secret-one", .answered = true },
                { "g1", "t1", "desktop-secret-one", .pending = "2", .done = RESTORE_STEP_NETWORK | RESTORE_STEP_CLOCK },
                { "g1", "t1", "desktop-secret-one", .machine_id_ours = true },
                { "g1", "t1", "desktop-secret-one", .machine_id_ours = true, .machine_id_link_foreign = true },
        };
        RestoreHandover h = {};
        char *text = fuzz_text(data, size);
        int r;

        if (!text)
                return 0;
        secrets_check(text);
        r = restore_handover_parse(text, &h, NULL);
        CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0) {
                CHECK(!h.network || (*h.network && !strpbrk(h.network, " \t\r\n\"'\\")));
                CHECK(!h.generation || (*h.generation && strlen(h.generation) <= RESTORE_GENERATION_MAX));
                CHECK(h.time_ms >= -1);
                CHECK(!h.token || (*h.token && strlen(h.token) <= HOST_SECRET_MAX));
                CHECK(!h.desktop_secret || (*h.desktop_secret && strlen(h.desktop_secret) <= HOST_SECRET_MAX));
                for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
                        RestorePlan p = restore_plan_decide(&ids[i], &h);

                        CHECK(restore_verdict_to_string(p.verdict));
                        CHECK((p.steps != 0) == (p.verdict == RESTORE_REDO));
                        /* Adopted only from a first answer; a pending redo
                         * of this generation never steps the clock again. */
                        CHECK(p.verdict != RESTORE_FIRST || (!ids[i].generation && !ids[i].answered));
                        CHECK(!(ids[i].pending && h.generation && !strcmp(ids[i].pending, h.generation)) ||
                              !(p.steps & RESTORE_STEP_CLOCK));
                        CHECK(!(p.steps & RESTORE_STEP_MACHINE_ID) == !p.machine_id[0]);
                        CHECK(!(p.steps & RESTORE_STEP_MACHINE_ID) || (ids[i].machine_id_ours && h.machine_id &&
                                                                        machine_id_form(p.machine_id)));
                        CHECK(!(p.steps & RESTORE_STEP_MACHINE_ID) || !ids[i].machine_id_link_foreign);
                }
                restore_handover_done(&h);
        }
        free(text);
        return 0;
}
