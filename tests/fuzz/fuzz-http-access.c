/* libFuzzer target for agent/http/http-access.c, http-gate.c and
 * common/in-addr-util.c.  Input: "<cidr>\n<authorization header, also
 * the request target>\n<16 address bytes>".  Beyond "no crash": a
 * parsed CIDR has a prefix within its family's width and always matches
 * its own address; a bearer token lies inside the header, is non-empty
 * and has no blank at either end; the token always equals itself and
 * never a one-byte change; the target's parts are what check_target()
 * says, and a target taken has no blank or control byte. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/http/http-access.h"
#include "agent/http/http-gate.h"
#include "in-addr-util.h"
#include "macro.h"
#include "secret-util.h"
#include "fuzz.h"

static void check_cidr(const char *s, const uint8_t *addr16) {
        struct sockaddr_in in = { .sin_family = AF_INET };
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
        Cidr c;

        if (cidr_parse(s, &c) < 0)
                return;
        CHECK(c.family == AF_INET ? c.prefix <= 32 : c.family == AF_INET6 && c.prefix <= 128);
        memcpy(&in.sin_addr, c.addr, 4);
        memcpy(&in6.sin6_addr, c.addr, 16);
        if (c.family == AF_INET)
                CHECK(cidr_match(&c, (struct sockaddr *)&in));
        else if (c.addr[0] != 0) /* ::ffff:a.b.c.d peers count as IPv4 */
                CHECK(cidr_match(&c, (struct sockaddr *)&in6));
        memcpy(&in6.sin6_addr, addr16, 16);
        (void)cidr_match(&c, (struct sockaddr *)&in6);
        (void)sockaddr_is_loopback((struct sockaddr *)&in6);
}

static void check_bearer(const char *h) {
        size_t n = 0;
        const char *t = http_bearer_token(h, &n);
        char *copy;

        if (!t)
                return;
        CHECK(t >= h && t + n <= h + strlen(h) && n > 0);
        CHECK(t[0] != ' ' && t[0] != '\t' && t[n - 1] != ' ' && t[n - 1] != '\t');
        copy = strndup(t, n);
        CHECK(copy);
        CHECK(secret_equal(t, n, copy));
        copy[n / 2] ^= 1;
        CHECK(!secret_equal(t, n, copy) || copy[n / 2] == '\0');
        free(copy);
}

/* The raw request target: a prefix only for absolute-form, "http://" and
 * an authority within its bound, without userinfo or escape; the path
 * after it, in the same text, is that text's end or "/". */
static void check_target(const char *t) {
        char authority[HTTP_AUTHORITY_MAX + 1];
        int r = http_target_split(t, authority);
        size_t n = strlen(authority);
        const char *path;

        CHECK(r >= 0 || (r == -EINVAL && n == 0));
        if (r < 0)
                return;
        for (const unsigned char *p = (const unsigned char *)t; *p; p++)
                CHECK(*p > ' ' && *p != 0x7f);
        CHECK(r == 0 ? n == 0 && t[0] == '/' : (size_t)r == 7 + n && n > 0);
        CHECK(n <= HTTP_AUTHORITY_MAX && !strchr(authority, '@') && !strchr(authority, '%'));
        CHECK(r == 0 || (strncasecmp(t, "http://", 7) == 0 && strncmp(t + 7, authority, n) == 0));
        path = http_target_path(t, (size_t)r);
        CHECK(path && (path == t + r || (t[r] == '\0' && streq(path, "/"))));
}

/* The gate's header parsers and its decision, with the header line as
 * every header value that is there, the first address byte as the
 * route's flags and the next two as the framing facts: the answer is
 * always one the gate may give, with a message, and a malformed field
 * within the limits is a 400 that closes the connection. */
static void check_gate(const char *h, uint8_t bits, uint8_t framing, uint8_t more) {
        static const HttpGateLimits limits = { .max_url = 4096, .max_header = 16384, .max_body = 65536 };
        unsigned hosts = (framing >> 4) & 3, content_lengths = framing >> 6;
        HttpGateInput in = {
                .uri_len = strlen(h), .header_size = strlen(h), .match = HTTP_MATCH_FOUND, .allow = "GET",
                .flags = bits & 0xf, .head = bits & 0x10, .peer_loopback = bits & 0x20,
                .peer_allowed = bits & 0x40, .token_configured = bits & 0x80, .token_ok = bits & 0x80,
                .host = hosts ? h : NULL, .origin = (bits & 1) ? h : NULL, .content_type = h,
                .content_length = content_lengths ? h : NULL, .transfer_encoding = (framing & 1) ? h : NULL,
                .http11 = framing & 2, .path_nul = framing & 4, .header_malformed = framing & 8, .hosts = hosts,
                .content_lengths = content_lengths, .transfer_encodings = (framing & 1) ? 1 + (more & 1) : 0,
                .target_invalid = more & 2, .target_host = (more & 4) ? h : NULL,
        };
        HttpGateVerdict v = http_gate_decide(&in, &limits);
        uint64_t n = http_content_length_parse(h);

        CHECK(v.status == 0 || (v.status >= 400 && v.status <= 503 && v.error && *v.error));
        CHECK(n == UINT64_MAX || strspn(h, "0123456789") == strlen(h));
        if (in.header_malformed && in.uri_len <= limits.max_url && in.header_size <= limits.max_header)
                CHECK(v.status == 400 && v.header && strcmp(v.header, "Connection") == 0);
        CHECK(v.status != 501 || (v.header && strcmp(v.value, "close") == 0));
        /* An invalid target never reaches the routes or the caller checks. */
        CHECK(!in.target_invalid || v.status == 400 || v.status == 414 || v.status == 431 || v.status == 501);
        (void)http_host_allowed(h, NULL);
        (void)http_content_type_is_json(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t addr16[16] = {};
        char *buf, *nl, *hdr = NULL;

        if (size > 4096)
                return 0;
        buf = fuzz_text(data, size);
        if (!buf)
                return 0;
        nl = memchr(buf, '\n', size);
        if (nl) {
                *nl = '\0';
                hdr = nl + 1;
                char *nl2 = strchr(hdr, '\n');
                if (nl2) {
                        *nl2 = '\0';
                        memcpy(addr16, nl2 + 1, (size_t)(buf + size - (nl2 + 1) < 16 ? buf + size - (nl2 + 1) : 16));
                }
        }
        check_cidr(buf, addr16);
        if (hdr) {
                check_bearer(hdr);
                check_target(hdr);
                check_gate(hdr, addr16[0], addr16[1], addr16[2]);
        }
        free(buf);
        return 0;
}
