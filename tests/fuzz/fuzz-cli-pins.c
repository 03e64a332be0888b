/* libFuzzer target for clis.json parsing.  Beyond "no crash": only 0 or
 * -EINVAL/-ENOMEM; an error has a one-line message; parsed pins have what
 * the cache script, the image builder and /health rely on (every field
 * set, entries relative without "..", providers unique), and any text's
 * "version" is read without crashing. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/login/cli-pins.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CliPins *p = NULL;
        char err[256] = "", *version = NULL;
        int r;

        if (size > 64 * 1024)
                return 0;
        r = cli_pins_parse((const char *)data, size, &p, err, sizeof err);
        CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r < 0) {
                CHECK(!p);
                CHECK(r == -ENOMEM || (err[0] && !strchr(err, '\n')));
        } else {
                CHECK(p && p->node_suite && p->node_package && p->node_version && p->n <= CLI_PINS_MAX);
                for (size_t i = 0; i < p->n; i++) {
                        const CliPin *c = &p->pins[i];
                        char *json = cli_pin_package_json(c);
                        CHECK(c->provider && c->package && c->version && c->command && c->entry);
                        CHECK(c->entry[0] != '/' && !fuzz_has_dotdot(c->entry));
                        CHECK(json && !fuzz_has_dotdot(json));
                        free(json);
                        for (size_t k = 0; k < i; k++)
                                CHECK(strcmp(p->pins[k].provider, c->provider) != 0);
                }
                cli_pins_free(p);
        }
        r = cli_pins_package_version((const char *)data, size, &version);
        CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        CHECK((r == 0) == (version != NULL));
        free(version);
        return 0;
}
