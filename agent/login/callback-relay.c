/* Implementation of callback-relay.h.  HTTP/1.0, so the CLI closes the
 * connection when it is done and EOF ends the answer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callback-relay.h"
#include "login-json.h"
#include "macro.h"
#include "parse-util.h"
#include "sock-diag.h"

#define RELAY_MAX (256 * 1024)
#define REQUEST_FMT "GET %s%s%s HTTP/1.0\r\nHost: localhost:%u\r\nConnection: close\r\n\r\n"

bool callback_relay_query_ok(const char *q) {
        for (const char *p = q; p && *p; p++)
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                        return false;
        /* The agent checks the first state; a CLI may read the last, or
         * a key written with escapes. */
        return login_query_keys_plain(q) && login_query_count(q, "state") <= 1 && login_query_count(q, "code") <= 1;
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

/* r, owner: a lookup's; 0 when it found uid. */
static int owner_is(int r, uid_t owner, uid_t uid, uid_t *ret_other) {
        if (r < 0)
                return r;
        if (owner != uid) {
                if (ret_other)
                        *ret_other = owner;
                return -EPERM;
        }
        return 0;
}

int callback_relay_listener_check(uint16_t port, uid_t uid, uid_t *ret_other) {
        uid_t owner = 0;
        int r = sock_diag_loopback_listener_owner(port, &owner);

        return owner_is(r, owner, uid, ret_other);
}

int callback_relay_connection_check(int fd, uid_t uid, uid_t *ret_other) {
        uid_t owner = 0;
        int r = sock_diag_connection_owner(fd, &owner);

        return owner_is(r, owner, uid, ret_other);
}

int callback_relay_start(sd_event *e, uint16_t port, const char *path, const char *query, usec_t timeout,
                         HttpOnceConnected connected, HttpOnceDone done, void *userdata, HttpOnce **ret) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        char *request;
        size_t len;
        HttpOnce *h;
        int r;

        if (!callback_relay_query_ok(query) || !connected)
                return -EINVAL;
        r = request_format(port, path, query, &request, &len);
        if (r < 0)
                return r;
        r = http_once_start(e, (struct sockaddr *)&sa, sizeof sa, request, len, RELAY_MAX, timeout, done,
                            userdata, &h);
        if (r < 0)
                return r;
        http_once_set_connected(h, connected);
        if (ret)
                *ret = h;
        return 0;
}
