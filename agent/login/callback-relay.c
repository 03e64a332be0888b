/* Implementation of callback-relay.h.  HTTP/1.0, so the CLI closes the
 * connection when it is done and EOF ends the answer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callback-relay.h"
#include "fileio.h"
#include "macro.h"
#include "parse-util.h"

#define RELAY_MAX (256 * 1024)
#define HEX_DIGITS "0123456789ABCDEFabcdef"

typedef struct Field {
        const char *s;
        size_t n;
} Field;

#define REQUEST_FMT "GET %s%s%s HTTP/1.0\r\nHost: localhost:%u\r\nConnection: close\r\n\r\n"

bool callback_relay_query_ok(const char *q) {
        for (; q && *q; q++)
                if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
                        return false;
        return true;
}

int callback_relay_redirect_port(const char *uri, const char *path, uint16_t *ret) {
        const char *p;
        size_t n = 0;
        uint64_t v;

        if (!uri || !path)
                return -EINVAL;
        p = startswith(uri, "http://localhost:");
        if (!p)
                p = startswith(uri, "http://127.0.0.1:");
        if (!p)
                return -EINVAL;
        while (p[n] >= '0' && p[n] <= '9')
                n++;
        /* No leading zero: one port, one spelling. */
        if (n == 0 || p[0] == '0' || !streq(p + n, path) || parse_unsigned_span(p, n, UINT16_MAX, &v) < 0)
                return -EINVAL;
        *ret = (uint16_t)v;
        return 0;
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

/* A /proc/net/tcp{,6} address: 8 (or 32) hex digits, each 32-bit word
 * printed as the kernel holds it (network byte order read natively). */
static bool listener_address_takes_loopback(const char *hex, size_t n, bool v6) {
        uint32_t w[4] = {};
        char word[9] = "";

        if (n != (v6 ? 32u : 8u) || strspn(hex, HEX_DIGITS) < n)
                return false;
        for (size_t i = 0; i < n / 8; i++) {
                memcpy(word, hex + 8 * i, 8);
                w[i] = (uint32_t)strtoul(word, NULL, 16);
        }
        if (!v6)
                return w[0] == htonl(INADDR_LOOPBACK) || w[0] == htonl(INADDR_ANY);
        /* ::, or IPv4-mapped 127.0.0.1 or 0.0.0.0 ([::ffff:0.0.0.0]:port is
         * a wildcard IPv4 listener too). */
        return (w[0] | w[1] | w[2] | w[3]) == 0 ||
               (w[0] == 0 && w[1] == 0 && w[2] == htonl(0xffff) &&
                (w[3] == htonl(INADDR_LOOPBACK) || w[3] == htonl(INADDR_ANY)));
}

/* Up to n blank-separated fields of line l (up to its newline); how many
 * it has. */
static size_t line_fields(const char *l, Field *f, size_t n) {
        for (size_t i = 0; i < n; i++) {
                l += strspn(l, " \t");
                f[i] = (Field){ l, strcspn(l, " \t\n") };
                if (f[i].n == 0)
                        return i;
                l += f[i].n;
        }
        return n;
}

/* One line of /proc/net/tcp{,6}, "sl local_address rem_address st
 * tx:rx tr:when retrnsmt uid ...": whether it is a listener (state 0A)
 * that a connection to 127.0.0.1:port reaches; *ret_uid its uid, or
 * UINT64_MAX when that field is no uid (nobody's, so not the CLI's).
 * The fields are taken whole, as the kernel writes them. */
static bool line_listens(const char *l, bool v6, uint16_t port, uint64_t *ret_uid) {
        Field f[8];
        const char *colon;
        size_t n = line_fields(l, f, ELEMENTSOF(f));

        if (n < 4 || f[3].n != 2 || strncmp(f[3].s, "0A", 2) != 0)
                return false;
        colon = memchr(f[1].s, ':', f[1].n);
        if (!colon || f[1].s + f[1].n - colon != 5 || strspn(colon + 1, HEX_DIGITS) < 4 ||
            strtoul(colon + 1, NULL, 16) != port ||
            !listener_address_takes_loopback(f[1].s, (size_t)(colon - f[1].s), v6))
                return false;
        *ret_uid = UINT64_MAX;
        if (n == 8)
                (void)parse_unsigned_span(f[7].s, f[7].n, UINT32_MAX - 1, ret_uid); /* left as it is when no uid */
        return true;
}

int callback_relay_listener_owner(const char *text, bool v6, uint16_t port, uid_t uid, uid_t *ret_other) {
        int found = -ENOENT;

        /* The first line is a header. */
        for (const char *l = text ? strchr(text, '\n') : NULL; l && *++l; l = strchr(l, '\n')) {
                uint64_t u;

                if (!line_listens(l, v6, port, &u))
                        continue;
                if (u != uid) {
                        if (ret_other)
                                *ret_other = u == UINT64_MAX ? (uid_t)-1 : (uid_t)u;
                        return 0;
                }
                found = 1;
        }
        return found;
}

int callback_relay_listener_check(uint16_t port, uid_t uid, uid_t *ret_other, const char **ret_path) {
        static const struct {
                const char *path;
                bool v6;
        } files[] = { { "/proc/net/tcp", false }, { "/proc/net/tcp6", true } };
        int found = -ENOENT;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_(freep) char *text = NULL;
                int r = read_full_file(files[i].path, 16 * 1024 * 1024, &text, NULL);

                if (r == -ENOENT && files[i].v6)
                        continue;
                if (r < 0) {
                        *ret_path = files[i].path;
                        return r;
                }
                r = callback_relay_listener_owner(text, files[i].v6, port, uid, ret_other);
                if (r == 0)
                        return -EPERM;
                if (r > 0)
                        found = 0;
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
