/* libFuzzer target for the services_file parser.  Beyond "no crash": only
 * 0 or -EINVAL/-ENOMEM, an error message that is one non-empty line, and
 * on success a list within SERVICES_MAX in dependency order (each service
 * after everything it depends on) with unique names and a non-empty argv. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/supervise/service-def.h"
#include "fuzz.h"

static void check_defs(const ServiceDefs *d) {
        CHECK(d->n <= SERVICES_MAX);
        for (size_t i = 0; i < d->n; i++) {
                const ServiceDef *s = &d->services[i];
                CHECK(s->name && strlen(s->name) <= SERVICE_NAME_MAX);
                CHECK(s->argv && s->argv[0] && s->argv[0][0]);
                CHECK(probe_type_to_string(s->probe.type) && restart_policy_to_string(s->restart));
                for (size_t j = 0; j < i; j++)
                        CHECK(strcmp(d->services[j].name, s->name) != 0);
                for (char **dep = s->depends_on; dep && *dep; dep++) {
                        int k = service_defs_find(d, *dep);
                        CHECK(k >= 0 && (size_t)k < i);
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ServiceDefs d = {};
        char err[256] = "", *text;
        int r;

        text = fuzz_text(data, size);
        if (!text)
                return 0;
        r = service_defs_from_json(text, &d, err, sizeof err);
        CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r == 0)
                check_defs(&d);
        else if (r == -EINVAL)
                CHECK(err[0] && !strchr(err, '\n'));
        service_defs_done(&d);
        free(text);
        return 0;
}
