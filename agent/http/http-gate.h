/* The gate every request passes before a handler sees it, as a pure
 * decision from facts the adapter (http.c) gathers: limits, routing,
 * where the request comes from, what it carries.  Table tested
 * (tests/unit/agent/http/test-http-gate.c) and fuzzed with the header
 * parsers below.  The threat it answers, with nothing configured: a
 * neighbour VM on the bridge (allow_from), a web page in the VM's own
 * Firefox (no Origin, no Sec-Fetch-*, a JSON body, an allowed Host, and
 * the bearer token a page cannot send), and a local process (the token,
 * which fails closed when none is configured). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum HttpRouteFlags {
        HTTP_ROUTE_PUBLIC = 0,        /* /health*, /metrics: no token, any address */
        HTTP_ROUTE_CONTROL = 1 << 0,  /* bearer token + allow_from, never from a browser */
        HTTP_ROUTE_LOOPBACK = 1 << 1, /* only from 127.0.0.0/8 or ::1 (the VM's own browser);
                                       * with CONTROL: loopback as is, or the host with its token */
        HTTP_ROUTE_PREFIX = 1 << 2,   /* path matches as a prefix ("/auth/") */
        HTTP_ROUTE_NO_HEAD = 1 << 3,  /* releases a secret: HEAD would consume it unseen */
} HttpRouteFlags;

typedef enum HttpRouteMatch {
        HTTP_MATCH_FOUND,
        HTTP_MATCH_NO_PATH,    /* no route for the path: 404 */
        HTTP_MATCH_NO_METHOD,  /* path known, method not: 405 with Allow */
} HttpRouteMatch;

typedef struct HttpGateLimits {
        uint32_t max_url, max_header, max_body;
        /* Host header names accepted besides IP literals and "localhost"
         * (NULL-terminated; may be NULL). */
        char *const *allowed_hosts;
} HttpGateLimits;

typedef struct HttpGateInput {
        size_t uri_len;
        size_t header_size;
        HttpRouteMatch match;
        const char *allow;       /* 405's Allow value (the route table's methods) */
        HttpRouteFlags flags;    /* of the route found */
        bool head;               /* a HEAD request */
        bool peer_loopback;
        bool peer_allowed;       /* allow_from admits the peer */
        bool token_configured;   /* false: control routes are refused, closed */
        bool token_ok;           /* Authorization: Bearer carries the token */
        bool restoring;          /* a snapshot restore is being redone: control routes wait */
        /* How the message is framed, checked before anything else: a
         * request read one way here and another way by a proxy in front
         * is refused, and its connection closed. */
        bool http11;             /* HTTP/1.1 (not 1.0): Host required, chunked allowed */
        bool path_nul;           /* an escaped NUL (%00) in the path: it would cut the path short */
        bool header_malformed;   /* a field name empty or with a blank or a control byte; a CR in a value */
        bool target_invalid;     /* neither origin-form nor http absolute-form (http_target_split) */
        unsigned hosts, content_lengths, transfer_encodings; /* how many of each field */
        /* Header values, NULL when absent. */
        const char *host, *origin, *sec_fetch_site, *sec_fetch_mode, *sec_fetch_dest, *content_type,
                *content_length, *transfer_encoding;
        /* An absolute-form target's authority, NULL for origin-form: the
         * Host the request is for (RFC 9112 §3.2.2: the Host field is
         * then ignored, though still required). */
        const char *target_host;
} HttpGateInput;

typedef struct HttpGateVerdict {
        unsigned status;         /* 0: pass to the handler */
        const char *error;       /* the JSON body's "error" (static) */
        const char *header;      /* an extra response header, or NULL ... */
        const char *value;       /* ... and its value */
} HttpGateVerdict;

HttpGateVerdict http_gate_decide(const HttpGateInput *in, const HttpGateLimits *limits);

/* Longest authority http_target_split() copies: a DNS name, a port. */
#define HTTP_AUTHORITY_MAX 261

/* The raw request target (as the client sent it, query included, before
 * libmicrohttpd unescapes its path), per RFC 9112 §3.2: origin-form
 * ("/p?q") as is, or absolute-form ("http://authority/p?q", the scheme in
 * any case), which a server must accept.  Returns how many bytes come
 * before the path (0 for origin-form; "http://" and the authority) and
 * copies the authority into authority ("" for origin-form); -EINVAL for
 * any other form (authority-form, "*", another scheme, an escaped "/")
 * and for an authority that is empty, carries userinfo ("@") or an escape
 * ("%"), or is longer than HTTP_AUTHORITY_MAX, and for a target with a
 * blank or a control byte anywhere (query included).  The form is read from the
 * raw target: unescaped, "%2Fhealth" would pass for "/health" and
 * "http://127.0.0.1%2Fx" for the authority "127.0.0.1".  Without an escape
 * the prefix reads the same unescaped (http_target_path()). */
int http_target_split(const char *raw, char authority[static HTTP_AUTHORITY_MAX + 1]);
/* The path in url, the target as libmicrohttpd passes it (unescaped, no
 * query), whose raw form began with prefix bytes before its path
 * (http_target_split()): what follows them, "/" when nothing does
 * (absolute-form may leave the path out); NULL when url is shorter. */
const char *http_target_path(const char *url, size_t prefix);

/* Host: an IP literal (IPv6 in brackets, not an IPv4 address written as
 * IPv6: ::ffff:a.b.c.d, ::a.b.c.d), "localhost", or a name in allowed
 * (case-insensitive), each with an optional :port.  A missing Host
 * (HTTP/1.0) passes: every browser sends one. */
bool http_host_allowed(const char *host, char *const *allowed);
/* Whether a web page made the request: browsers send Origin on
 * cross-origin and form requests and Sec-Fetch-Site on all of them
 * ("none" only when the person typed the address). */
bool http_from_a_page(const char *origin, const char *sec_fetch_site);
/* Content-Type: application/json, with parameters, any case. */
bool http_content_type_is_json(const char *value);
/* Content-Length: decimal digits only; UINT64_MAX when malformed, 0 when
 * absent. */
uint64_t http_content_length_parse(const char *value);
