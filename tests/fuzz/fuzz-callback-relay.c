/* libFuzzer target for the pure parts of agent/login/callback-relay.c:
 * who listens on a port, from /proc/net/tcp or tcp6 text, and which
 * queries may go into a request line.  The first input byte picks tcp6
 * (its top bit) and the port (the rest, 127 meaning Codex's 1455); the
 * rest is the file's text.  Beyond "no crash": the answer is one of
 * the three documented; "the CLI's user alone" needs a listening ("0A")
 * line with that uid in it; a query taken has no blank, control or
 * non-ASCII byte. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/login/callback-relay.h"
#include "fuzz.h"

#define UID 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uid_t other = (uid_t)-7;
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
                CHECK(strstr(text, "0A") && strstr(text, "1000") && other == (uid_t)-7);
        if (r == 0)
                CHECK(other != (uid_t)-7);
        if (callback_relay_query_ok(text))
                for (const char *p = text; *p; p++)
                        CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);
        free(text);
        return 0;
}
