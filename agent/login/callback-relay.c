/* Implementation of callback-relay.h.  HTTP/1.0, so the CLI closes the
 * connection when it is done and EOF ends the answer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callback-relay.h"
#include "macro.h"

#define RELAY_MAX (256 * 1024)
#define REQUEST_FMT "GET %s%s%s HTTP/1.0\r\nHost: localhost:%u\r\nConnection: close\r\n\r\n"

bool callback_relay_query_ok(const char *q) {
        for (; q && *q; q++)
                if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
                        return false;
        return true;
}

/* The request carries the OAuth code: its buffer is sized first and
 * written once (asprintf()'s growing buffer would leave unwiped copies). */
static int request_format(uint16_t port, const char *path, const char *q, char **ret, size_t *ret_len) {
        int n = snprintf(NULL, 0, REQUEST_FMT, path, isempty(q) ? "" : "?", q ?: "", port);
        char *out;

        if (n < 0)
                return -EINVAL;
        out = malloc((size_t)n + 1);
        if (!out)
                return -ENOMEM;
        *ret_len = (size_t)snprintf(out, (size_t)n + 1, REQUEST_FMT, path, isempty(q) ? "" : "?", q ?: "", port);
        *ret = out;
        return 0;
}

/* A /proc/net/tcp{,6} address field: 8 (or 32) hex digits, each 32-bit
 * word printed as the kernel holds it (network byte order read natively). */
static bool listener_address_takes_loopback(const char *hex, size_t n, bool v6) {
        uint32_t w[4] = {};
        char word[9] = "";

        if (n != (v6 ? 32u : 8u) || strspn(hex, "0123456789ABCDEFabcdef") < n)
                return false;
        for (size_t i = 0; i < n / 8; i++) {
                memcpy(word, hex + 8 * i, 8);
                w[i] = (uint32_t)strtoul(word, NULL, 16);
        }
        if (!v6)
                return w[0] == htonl(INADDR_LOOPBACK) || w[0] == htonl(INADDR_ANY);
        return (w[0] | w[1] | w[2] | w[3]) == 0 ||
               (w[0] == 0 && w[1] == 0 && w[2] == htonl(0xffff) && w[3] == htonl(INADDR_LOOPBACK));
}

int callback_relay_listener_owner(const char *text, bool v6, uint16_t port, uid_t uid, uid_t *ret_other) {
        int found = -ENOENT;

        /* "sl local_address rem_address st tx:rx tr:when retrnsmt uid ...",
         * the first line a header. */
        for (const char *l = text ? strchr(text, '\n') : NULL; l && *++l; l = strchr(l, '\n')) {
                char local[40], st[4]; /* st: 3 wide, so "0A" is the whole field */
                unsigned long p, u;
                int n = 0;

                if (sscanf(l, " %*s %39s %*s %3s %*s %*s %*s %lu%n", local, st, &u, &n) != 3 || n == 0)
                        continue;
                char *colon = strchr(local, ':');
                if (!colon || !streq(st, "0A") || (p = strtoul(colon + 1, NULL, 16)) != port ||
                    !listener_address_takes_loopback(local, (size_t)(colon - local), v6))
                        continue;
                if (u != uid) {
                        if (ret_other)
                                *ret_other = (uid_t)u;
                        return 0;
                }
                found = 1;
        }
        return found;
}

int callback_relay_start(sd_event *e, uint16_t port, const char *path, const char *query, usec_t timeout,
                         HttpOnceDone done, void *userdata, HttpOnce **ret) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        char *request;
        size_t len;
        int r;

        if (!callback_relay_query_ok(query))
                return -EINVAL;
        r = request_format(port, path, query, &request, &len);
        if (r < 0)
                return r;
        return http_once_start(e, (struct sockaddr *)&sa, sizeof sa, request, len, RELAY_MAX, timeout, done,
                               userdata, ret);
}
