/* libFuzzer target for agent/http/health-json.c's hand-written JSON writer:
 * arbitrary bytes as build_id, config_error, a service name and its last
 * error must always give valid JSON that jansson re-serializes to the very
 * same bytes, and the metrics text must stay one sample per line (the
 * service's name a label of each of its samples, its retry's and its CPU
 * time's included). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http/health-json.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const states[] = { "ready", "failed" };
        const char *dns[1];
        /* Its retry and CPU samples carry the name too. */
        HealthService sv = { .state = 0, .pid = 7, .retry_in = 1, .cpu_counted = true, .cpu_usec = 1 };
        HealthSnapshot s = { .status = "ok", .version = "0.1.0", .network = { .status = "applied" },
                             .state_names = states, .n_states = 2 };
        char *buf, *text = NULL, *again, *metrics = NULL;
        size_t n = 0;
        json_t *o;

        if (size > 4096)
                return 0;
        buf = fuzz_text(data, size);
        if (!buf)
                return 0;
        /* The same bytes in every string field: the NUL-terminated prefix. */
        s.build_id = s.config_error = s.cli_error = s.network.error = s.network.device = buf;
        dns[0] = buf;
        s.network.dns = dns;
        s.network.n_dns = 1;
        sv.name = sv.last_error = sv.last_exit = buf;
        s.services = &sv;
        s.n_services = 1;
        CHECK(health_build_json(&s, &text, &n) == 0);
        CHECK(strlen(text) == n);
        o = json_loads(text, 0, NULL);
        CHECK(o);
        again = json_dumps(o, JSON_COMPACT);
        CHECK(again && strcmp(again, text) == 0);
        CHECK(health_build_metrics(&s, &metrics, NULL) == 0);
        for (char *line = metrics; *line; line = strchr(line, '\n') + 1) {
                CHECK(strchr(line, '\n'));
                CHECK(line[0] == '#' || strncmp(line, "vmba_", 5) == 0);
        }
        json_decref(o);
        free(again);
        free(text);
        free(metrics);
        free(buf);
        return 0;
}
