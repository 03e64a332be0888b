/* libFuzzer target for agent/host/restore-plan.c: the MMDS handover as the
 * host (or anyone who controls the answer) wrote it.  Beyond "no crash": a
 * parsed network never holds a blank or a quote, the generation is within
 * its bound, and the decision on what was parsed is a known verdict with
 * steps only when it is REDO. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host/restore-plan.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const RestoreIdentity ids[] = {
                { "g1", "t1", "desktop-secret-one" }, { NULL, NULL, NULL }, { "1", NULL, "desktop-secret-one" },
        };
        RestoreHandover h = {};
        char *text = fuzz_text(data, size);
        int r;

        if (!text)
                return 0;
        r = restore_handover_parse(text, &h);
        CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0) {
                CHECK(!h.network || (*h.network && !strpbrk(h.network, " \t\r\n\"'\\")));
                CHECK(!h.generation || (*h.generation && strlen(h.generation) <= RESTORE_GENERATION_MAX));
                CHECK(h.time_ms >= -1);
                for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
                        RestorePlan p = restore_plan_decide(&ids[i], &h);

                        CHECK(restore_verdict_to_string(p.verdict));
                        CHECK((p.steps != 0) == (p.verdict == RESTORE_REDO));
                }
                restore_handover_done(&h);
        }
        free(text);
        return 0;
}
