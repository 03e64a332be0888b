/* libFuzzer target for the pure parts of agent/login/callback-relay.c:
 * who listens on a port, from /proc/net/tcp or tcp6 text, which queries
 * may go into a request line, and the port a redirect_uri names.  The
 * first input byte picks tcp6 (its top bit) and the port (the rest, 127
 * meaning Codex's 1455); the rest is the file's text.  Beyond "no crash": the answer is one of the
 * three documented; "the CLI's user alone" needs a line whose state field
 * is "0A" whole and whose uid field is the CLI's uid whole, and "another
 * user" never names the CLI's uid; a query taken has no blank, control or
 * non-ASCII byte; a redirect_uri's port is taken only from the exact
 * loopback URL that names it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/login/callback-relay.h"
#include "fuzz.h"

#define UID 1000

/* Whether some line after the first has "0A" as its 4th blank-separated
 * field and 1000 as its 8th (digits only, leading zeros allowed), each
 * whole. */
static bool has_cli_listener_line(const char *text) {
        const char *nl = strchr(text, '\n');
        char *copy = strdup(nl ? nl + 1 : ""), *save = NULL;
        bool found = false;

        CHECK(copy);
        for (char *line = strtok_r(copy, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
                char *fsave = NULL, *f[8] = {};
                size_t n = 0;

                for (char *w = strtok_r(line, " \t", &fsave); w && n < 8; w = strtok_r(NULL, " \t", &fsave))
                        f[n++] = w;
                found = n == 8 && !strcmp(f[3], "0A") && !strcmp(f[7] + strspn(f[7], "0"), "1000");
        }
        free(copy);
        return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uid_t other = UID;
        char *text;
        uint16_t port;
        bool v6;
        int r;

        if (size < 1)
                return 0;
        v6 = data[0] & 0x80;
        port = (data[0] & 0x7f) == 0x7f ? 1455 : data[0] & 0x7f;
        text = fuzz_text(data + 1, size - 1);
        if (!text)
                return 0;
        r = callback_relay_listener_owner(text, v6, port, UID, &other);
        CHECK(r == 1 || r == 0 || r == -ENOENT);
        if (r == 1)
                CHECK(has_cli_listener_line(text) && other == UID);
        if (r == 0)
                CHECK(other != UID);
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
