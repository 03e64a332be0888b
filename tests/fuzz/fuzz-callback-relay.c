/* libFuzzer target for the pure parts of agent/login/callback-relay.c:
 * which queries may go into a request line, and the port a redirect_uri
 * names.  The input is the text.  Beyond "no crash": a query taken has no
 * blank, control or non-ASCII byte; a redirect_uri's port is taken only
 * from the exact loopback URL that names it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/login/callback-relay.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        uint16_t port;

        if (!text)
                return 0;
        if (callback_relay_query_ok(text))
                for (const char *p = text; *p; p++)
                        CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);
        /* The same text as a redirect_uri: a port taken is 1..65535 and
         * the text is exactly one of the two loopback spellings with it. */
        port = 0;
        if (callback_relay_redirect_port(text, "/auth/callback", &port) >= 0) {
                char a[64], b[64];

                CHECK(port > 0);
                snprintf(a, sizeof a, "http://localhost:%u/auth/callback", (unsigned)port);
                snprintf(b, sizeof b, "http://127.0.0.1:%u/auth/callback", (unsigned)port);
                CHECK(!strcmp(text, a) || !strcmp(text, b));
        } else
                CHECK(port == 0);
        free(text);
        return 0;
}
