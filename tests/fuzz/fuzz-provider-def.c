/* libFuzzer target for providers.json parsing.  Beyond "no crash": only 0
 * or -EINVAL/-ENOMEM; an error has a one-line message; a parsed set has
 * every invariant the runner relies on (argv and url_patterns non-empty,
 * credential_file relative without "..", every id and alias findable), and
 * an empty credential file is complete exactly when no keys are asked. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/login/provider-def.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProviderSet *s = NULL;
        json_t *empty;
        char err[256] = "";
        int r;

        if (size > 256 * 1024)
                return 0;
        r = provider_set_parse((const char *)data, size, &s, err, sizeof err);
        CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r < 0) {
                CHECK(!s);
                CHECK(r == -ENOMEM || (err[0] && !strchr(err, '\n')));
                return 0;
        }
        CHECK(s && s->n > 0 && s->n <= PROVIDER_MAX);
        empty = json_object();
        CHECK(empty);
        for (size_t i = 0; i < s->n; i++) {
                const ProviderDef *p = &s->defs[i];
                CHECK(p->argv && p->argv[0] && p->url_patterns && p->url_patterns[0]);
                CHECK(p->credential_file[0] != '/' && !fuzz_has_dotdot(p->credential_file));
                CHECK(provider_set_find(s, p->id) == p);
                for (char **a = p->aliases; *a; a++)
                        CHECK(provider_set_find(s, *a) == p);
                CHECK(p->callback_path && p->callback_path[0] == '/');
                CHECK(p->credential_keys);
                CHECK(provider_credentials_complete(p, empty) == !p->credential_keys[0]);
        }
        json_decref(empty);
        provider_set_free(s);
        return 0;
}
