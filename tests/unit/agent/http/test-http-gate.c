/* Unit tests for agent/http/http-gate.c: every answer the gate gives, one
 * row each, in the order a request meets them; the three attackers
 * (a neighbour, a page in the VM's browser, a local process) as rows;
 * and the header parsers it relies on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "agent/http/http-gate.h"
#include "macro.h"

static const HttpGateLimits limits = { .max_url = 100, .max_header = 200, .max_body = 1000 };

/* A control request from the host that passes: every row changes one thing. */
static HttpGateInput control(void) {
        return (HttpGateInput){
                .uri_len = 20, .header_size = 50, .match = HTTP_MATCH_FOUND, .allow = "GET, HEAD",
                .flags = HTTP_ROUTE_CONTROL, .peer_allowed = true, .token_configured = true,
                .token_ok = true, .host = "10.0.2.15:8080", .hosts = 1, .http11 = true,
        };
}

typedef struct Row {
        const char *what;
        HttpGateInput in;
        unsigned status;
        const char *error;
        const char *header, *value;
} Row;

static void check(const Row *rows, size_t n) {
        for (size_t i = 0; i < n; i++) {
                HttpGateVerdict v = http_gate_decide(&rows[i].in, &limits);
                print_message("%s\n", rows[i].what);
                assert_int_equal(v.status, rows[i].status);
                if (rows[i].status == 0)
                        continue;
                assert_string_equal(v.error, rows[i].error);
                if (rows[i].header) {
                        assert_string_equal(v.header, rows[i].header);
                        assert_string_equal(v.value, rows[i].value);
                } else
                        assert_null(v.header);
        }
}

#define WITH(field, value) ({ HttpGateInput _i = control(); _i.field = value; _i; })

/* The request's framing, answered before its route is looked up. */
static void test_order_framing(void **state) {
        const Row rows[] = {
                { "the host's control request passes", control(), 0, NULL },
                { "URL over the limit: 414 before anything else",
                  ({ HttpGateInput i = control(); i.uri_len = 101; i.match = HTTP_MATCH_NO_PATH; i.token_ok = false; i; }),
                  414, "URI too long" },
                { "headers over the limit: 431", WITH(header_size, 201), 431, "request header fields too large" },
                { "a malformed field (\"Host \", a CR in a value): 400 before the route, closed",
                  ({ HttpGateInput i = control(); i.header_malformed = true; i.match = HTTP_MATCH_NO_PATH; i; }),
                  400, "malformed header field", "Connection", "close" },
                { "an escaped NUL in the path: 400, closed", WITH(path_nul, true), 400, "escaped NUL in the path",
                  "Connection", "close" },
                { "two Hosts: 400, closed", WITH(hosts, 2), 400, "more than one Host", "Connection", "close" },
                { "HTTP/1.1 without Host: 400, closed",
                  ({ HttpGateInput i = control(); i.host = NULL; i.hosts = 0; i; }), 400, "Host missing",
                  "Connection", "close" },
                { "two Content-Lengths: 400, closed",
                  ({ HttpGateInput i = control(); i.content_length = "2"; i.content_lengths = 2; i; }), 400,
                  "more than one Content-Length", "Connection", "close" },
                { "Content-Length and Transfer-Encoding: 400, closed",
                  ({ HttpGateInput i = control(); i.content_length = "2"; i.content_lengths = 1;
                     i.transfer_encoding = "chunked"; i.transfer_encodings = 1; i; }), 400,
                  "both Content-Length and Transfer-Encoding", "Connection", "close" },
                { "Transfer-Encoding in HTTP/1.0: 400, closed",
                  ({ HttpGateInput i = control(); i.http11 = false; i.transfer_encoding = "chunked";
                     i.transfer_encodings = 1; i; }), 400, "Transfer-Encoding in an HTTP/1.0 request",
                  "Connection", "close" },
                { "a coding other than chunked: 501, closed",
                  ({ HttpGateInput i = control(); i.transfer_encoding = "gzip, chunked"; i.transfer_encodings = 1;
                     i; }), 501, "only the chunked Transfer-Encoding is supported", "Connection", "close" },
                { "two Transfer-Encoding fields: 501, closed",
                  ({ HttpGateInput i = control(); i.transfer_encoding = "chunked"; i.transfer_encodings = 2; i; }),
                  501, "only the chunked Transfer-Encoding is supported", "Connection", "close" },
                { "a target in neither origin- nor http absolute-form: 400, before 404",
                  ({ HttpGateInput i = control(); i.target_invalid = true; i.match = HTTP_MATCH_NO_PATH; i; }),
                  400, "invalid request target" },
        };
        check(rows, ELEMENTSOF(rows));
}

/* Past the framing: the route, who asks (peer, Host, a page, the token),
 * then the body. */
static void test_order_route_to_body(void **state) {
        const Row rows[] = {
                { "no route: 404", WITH(match, HTTP_MATCH_NO_PATH), 404, "Not Found" },
                { "method not allowed: 405 with the route's methods", WITH(match, HTTP_MATCH_NO_METHOD), 405,
                  "method not allowed", "Allow", "GET, HEAD" },
                { "HEAD of a secret-releasing route: 405",
                  ({ HttpGateInput i = control(); i.head = true; i.flags |= HTTP_ROUTE_NO_HEAD; i; }), 405,
                  "method not allowed", "Allow", "GET" },
                { "HEAD of another control route passes", WITH(head, true), 0, NULL },
                { "outside allow_from: 403", WITH(peer_allowed, false), 403, "forbidden" },
                { "Host a rebinding name: 403, closed", WITH(host, "attacker.example"), 403, "host not allowed",
                  "Connection", "close" },
                { "absolute-form for a rebinding name, Host allowed: 403 (the target's authority is the Host)",
                  WITH(target_host, "attacker.example"), 403, "host not allowed",
                  "Connection", "close" },
                { "absolute-form for an allowed name, Host a rebinding one: passes (that Host is ignored)",
                  ({ HttpGateInput i = control(); i.host = "attacker.example"; i.target_host = "127.0.0.1:8080";
                     i; }), 0, NULL },
                { "no Host (HTTP/1.0): passes",
                  ({ HttpGateInput i = control(); i.host = NULL; i.hosts = 0; i.http11 = false; i; }), 0, NULL },
                { "Origin: 403", WITH(origin, "http://attacker.example"), 403, "browser requests refused" },
                { "Origin null (a sandboxed page): 403", WITH(origin, "null"), 403, "browser requests refused" },
                { "Sec-Fetch-Site cross-site: 403", WITH(sec_fetch_site, "cross-site"), 403,
                  "browser requests refused" },
                { "Sec-Fetch-Site same-origin: 403", WITH(sec_fetch_site, "same-origin"), 403,
                  "browser requests refused" },
                { "Sec-Fetch-Site none (typed by the person): the token decides", WITH(sec_fetch_site, "none"), 0,
                  NULL },
                { "no token configured: 503, closed", WITH(token_configured, false), 503,
                  "no control token configured" },
                { "wrong or missing token: 401", WITH(token_ok, false), 401, "unauthorized", "WWW-Authenticate",
                  "Bearer" },
                { "malformed Content-Length: 400", WITH(content_length, "12x"), 400, "invalid Content-Length" },
                { "body over the limit: 413", WITH(content_length, "1001"), 413, "request body too large" },
                { "a body that is not JSON: 415",
                  ({ HttpGateInput i = control(); i.content_length = "5"; i.content_type = "text/plain"; i; }),
                  415, "Content-Type must be application/json" },
                { "a body without Content-Type: 415", WITH(content_length, "5"), 415,
                  "Content-Type must be application/json" },
                { "a chunked body that is not JSON: 415", WITH(transfer_encoding, "Chunked"), 415,
                  "Content-Type must be application/json" },
                { "a JSON body passes",
                  ({ HttpGateInput i = control(); i.content_length = "5";
                     i.content_type = "application/json; charset=utf-8"; i; }), 0, NULL },
                { "an empty body needs no Content-Type", WITH(content_length, "0"), 0, NULL },
        };
        check(rows, ELEMENTSOF(rows));
}

/* The same facts on the other kinds of route. */
static void test_public_and_loopback_routes(void **state) {
        const Row rows[] = {
                { "public: no token, any peer, any Origin",
                  { .uri_len = 7, .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_PUBLIC,
                    .host = "10.0.0.2:8080", .origin = "http://x", .token_configured = false }, 0, NULL },
                { "public: a name not allowed as Host (a rebound name reading /health as its own origin's)",
                  { .uri_len = 7, .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_PUBLIC,
                    .host = "attacker.example", .token_configured = false }, 403, "host not allowed",
                  "Connection", "close" },
                { "public: localhost as Host",
                  { .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_PUBLIC, .host = "localhost:8080" }, 0, NULL },
                { "public: a body is not checked for JSON",
                  { .match = HTTP_MATCH_FOUND, .content_length = "3", .content_type = "text/plain" }, 0, NULL },
                { "loopback route from the bridge: 403",
                  { .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_LOOPBACK, .peer_loopback = false },
                  403, "forbidden" },
                { "loopback route from the VM's browser: Origin and no token are fine",
                  { .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_LOOPBACK, .peer_loopback = true,
                    .host = "127.0.0.1:8080", .origin = "https://provider.example",
                    .sec_fetch_site = "cross-site" }, 0, NULL },
                { "loopback route: the VM's browser navigating (a provider's redirect)",
                  { .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_LOOPBACK, .peer_loopback = true,
                    .host = "127.0.0.1:8080", .sec_fetch_site = "cross-site", .sec_fetch_mode = "navigate",
                    .sec_fetch_dest = "document" }, 0, NULL },
                { "loopback route: a page's fetch() is no navigation",
                  { .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_LOOPBACK, .peer_loopback = true,
                    .host = "127.0.0.1:8080", .sec_fetch_mode = "no-cors", .sec_fetch_dest = "empty" },
                  403, "only a navigation may reach a redirect target" },
                { "loopback route: a page's image is no navigation",
                  { .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_LOOPBACK, .peer_loopback = true,
                    .host = "127.0.0.1:8080", .sec_fetch_mode = "no-cors", .sec_fetch_dest = "image" },
                  403, "only a navigation may reach a redirect target" },
                { "loopback route: a page's frame navigates, but not as a document",
                  { .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_LOOPBACK | HTTP_ROUTE_CONTROL,
                    .peer_loopback = true, .host = "127.0.0.1:8080", .sec_fetch_mode = "navigate",
                    .sec_fetch_dest = "iframe" }, 403, "only a navigation may reach a redirect target" },
                { "loopback route: a rebinding Host is still refused",
                  { .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_LOOPBACK, .peer_loopback = true,
                    .host = "attacker.example:8080" }, 403, "host not allowed",
                  "Connection", "close" },
                { "redirect target from the VM's browser: as a loopback route, no token",
                  { .match = HTTP_MATCH_FOUND, .flags = HTTP_ROUTE_LOOPBACK | HTTP_ROUTE_CONTROL,
                    .peer_loopback = true, .peer_allowed = true, .host = "localhost:8080",
                    .sec_fetch_site = "cross-site", .token_configured = true }, 0, NULL },
                { "redirect target from the host with its token: as a control route",
                  ({ HttpGateInput i = control(); i.flags = HTTP_ROUTE_LOOPBACK | HTTP_ROUTE_CONTROL; i; }),
                  0, NULL },
                { "redirect target from the host without the token: 401",
                  ({ HttpGateInput i = control(); i.flags = HTTP_ROUTE_LOOPBACK | HTTP_ROUTE_CONTROL;
                     i.token_ok = false; i; }), 401, "unauthorized", "WWW-Authenticate", "Bearer" },
                { "redirect target from a neighbour: 403",
                  ({ HttpGateInput i = control(); i.flags = HTTP_ROUTE_LOOPBACK | HTTP_ROUTE_CONTROL;
                     i.peer_allowed = false; i; }), 403, "forbidden" },
                { "redirect target from the host, made by a page: 403",
                  ({ HttpGateInput i = control(); i.flags = HTTP_ROUTE_LOOPBACK | HTTP_ROUTE_CONTROL;
                     i.origin = "http://page.example"; i; }), 403, "browser requests refused" },
        };
        check(rows, ELEMENTSOF(rows));
}

/* The threat model, as requests. */
static void test_attackers(void **state) {
        const Row rows[] = {
                { "a neighbour VM on the bridge, even with a stolen token",
                  WITH(peer_allowed, false), 403, "forbidden" },
                { "a page's form POST (text/plain) to 127.0.0.1:8080/shutdown",
                  ({ HttpGateInput i = control(); i.host = "127.0.0.1:8080"; i.origin = "http://page.example";
                     i.sec_fetch_site = "cross-site"; i.content_type = "text/plain"; i.content_length = "4";
                     i.token_ok = false; i; }), 403, "browser requests refused" },
                { "a page through DNS rebinding, same-origin to the agent",
                  ({ HttpGateInput i = control(); i.host = "rebind.example:8080"; i.sec_fetch_site = "same-origin";
                     i.token_ok = false; i; }), 403, "host not allowed",
                  "Connection", "close" },
                { "a local process without the token",
                  ({ HttpGateInput i = control(); i.host = "127.0.0.1:8080"; i.token_ok = false; i; }), 401,
                  "unauthorized", "WWW-Authenticate", "Bearer" },
                { "restoring: 503 before the token is looked at (it is being replaced)",
                  WITH(restoring, true), 503, "Restoring" },
                { "restoring, the old token: 503, not 401",
                  ({ HttpGateInput i = control(); i.restoring = true; i.token_ok = false; i; }), 503, "Restoring" },
                { "restoring, outside allow_from: still 403 (a neighbour learns nothing)",
                  ({ HttpGateInput i = control(); i.restoring = true; i.peer_allowed = false; i; }), 403, "forbidden" },
                { "restoring, from a page: still 403",
                  ({ HttpGateInput i = control(); i.restoring = true; i.origin = "http://x"; i; }), 403,
                  "browser requests refused" },
                { "anyone, when the host gave no token",
                  ({ HttpGateInput i = control(); i.token_configured = false; i.token_ok = false; i; }), 503,
                  "no control token configured" },
        };
        check(rows, ELEMENTSOF(rows));
}

/* Which requests a web page made: any Origin; any Sec-Fetch-Site but
 * "none" (the person typed the address). */
static void test_from_a_page(void **state) {
        assert_false(http_from_a_page(NULL, NULL));
        assert_false(http_from_a_page(NULL, "none"));
        assert_true(http_from_a_page(NULL, "cross-site"));
        assert_true(http_from_a_page(NULL, "same-origin"));
        assert_true(http_from_a_page(NULL, ""));
        assert_true(http_from_a_page("null", NULL));
        assert_true(http_from_a_page("http://page.example", "none"));
}

static void test_host_allowed(void **state) {
        static char *const names[] = { (char *)"vm1.fleet.internal", NULL };
        static const struct {
                const char *host;
                bool ok;
        } t[] = {
                { "10.0.2.15", true }, { "10.0.2.15:8080", true }, { "127.0.0.1:8080", true },
                { "[::1]:8080", true }, { "[fe80::1]", true }, { "localhost", true }, { "LOCALHOST:8080", true },
                { "vm1.fleet.internal:8080", true }, { "VM1.Fleet.Internal", true },
                { "attacker.example", false }, { "10.0.2.15.attacker.example", false },
                { "localhost.attacker.example", false }, { "[::1", false }, { "[attacker.example]", false },
                { "::1", false },              /* an IPv6 literal must be bracketed */
                { "10.0.2.15:80x", false }, { "10.0.2.15:", false }, { "", false }, { ":8080", false },
                { "vm1.fleet.internal.:80", false },
                /* IPv4 written as IPv6: Firefox sends no Sec-Fetch-* there. */
                { "[::ffff:127.0.0.2]:8080", false }, { "[::ffff:7f00:1]", false }, { "[::127.0.0.1]", false },
                { "[::]", true }, { "[fd00::2]:8080", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                print_message("'%s'\n", t[i].host);
                assert_int_equal(http_host_allowed(t[i].host, names), t[i].ok);
        }
        assert_true(http_host_allowed(NULL, NULL));
        assert_false(http_host_allowed("vm1.fleet.internal", NULL));
}

/* RFC 9112 §3.2, read from the raw target: origin-form as is;
 * absolute-form ("http" in any case) split into the prefix before its path
 * and its authority; every other form refused, escaped ones included, and
 * so is a target with a blank or a control byte. */
static void test_target_split(void **state) {
        static const struct {
                const char *raw;
                int r;
                const char *authority;
        } t[] = {
                { "/health", 0, "" },
                { "/health?wait=1", 0, "" },
                { "http://127.0.0.1:8080/health", 21, "127.0.0.1:8080" },
                { "HTTP://localhost/auth/acme", 16, "localhost" },
                { "http://[::1]:8080/x", 17, "[::1]:8080" },
                { "http://10.0.2.15", 16, "10.0.2.15" },           /* no path */
                { "http://10.0.2.15?wait=1", 16, "10.0.2.15" },    /* no path, a query */
                { "http://10.0.2.15/", 16, "10.0.2.15" },
                { "http:///health", -EINVAL, "" },                 /* empty authority */
                { "http://user@127.0.0.1/health", -EINVAL, "" },   /* userinfo */
                { "http://localhost%2F@evil.example/", -EINVAL, "" },
                { "http://127.0.0.1%2Fhealth", -EINVAL, "" },      /* an escape: not 127.0.0.1 */
                { "%2Fhealth", -EINVAL, "" },                      /* unescaped it would be /health */
                { "http%3A%2F%2F127.0.0.1/health", -EINVAL, "" },
                { "https://127.0.0.1/health", -EINVAL, "" },       /* not this server's scheme */
                { "http:/health", -EINVAL, "" },
                { "127.0.0.1:8080", -EINVAL, "" },                 /* authority-form (CONNECT) */
                { "*", -EINVAL, "" },                              /* asterisk-form (OPTIONS) */
                { "health", -EINVAL, "" },
                { "", -EINVAL, "" },
                /* A blank or a control byte, in the path or the query:
                 * libmicrohttpd ends the target at the last space of the
                 * request line, a proxy at the first. */
                { "/nope /health", -EINVAL, "" },
                { "/health?a b", -EINVAL, "" },
                { "http://127.0.0.1/health?a b", -EINVAL, "" },
                { "/health\tx", -EINVAL, "" },
                { "/health?a\x0b" "b", -EINVAL, "" },
                { "/health?a\x01" "b", -EINVAL, "" },
                { "/health?a\x7f" "b", -EINVAL, "" },
                { "/health?a%20b", 0, "" },                        /* escaped: fine */
                { "/h\xc3\xa9", 0, "" },                           /* not ASCII: not ambiguous */
        };
        char authority[HTTP_AUTHORITY_MAX + 1];
        char long_target[HTTP_AUTHORITY_MAX + 16];

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                print_message("'%s'\n", t[i].raw);
                assert_int_equal(http_target_split(t[i].raw, authority), t[i].r);
                assert_string_equal(authority, t[i].authority);
        }
        /* The longest authority fits, one more byte does not. */
        memset(long_target, 'a', sizeof long_target);
        memcpy(long_target, "http://", 7);
        strcpy(long_target + 7 + HTTP_AUTHORITY_MAX, "/p");
        assert_int_equal(http_target_split(long_target, authority), 7 + HTTP_AUTHORITY_MAX);
        assert_int_equal(strlen(authority), HTTP_AUTHORITY_MAX);
        strcpy(long_target + 7 + HTTP_AUTHORITY_MAX, "a/p");
        assert_int_equal(http_target_split(long_target, authority), -EINVAL);
}

/* The path after the prefix, in the target as libmicrohttpd passes it. */
static void test_target_path(void **state) {
        assert_string_equal(http_target_path("/health", 0), "/health");
        assert_string_equal(http_target_path("http://10.0.2.15/health", 16), "/health");
        assert_string_equal(http_target_path("http://10.0.2.15", 16), "/");
        assert_null(http_target_path("http://10.0", 16)); /* shorter than its raw prefix */
}

static void test_content_type_and_length(void **state) {
        assert_true(http_content_type_is_json("application/json"));
        assert_true(http_content_type_is_json("Application/JSON;charset=UTF-8"));
        assert_true(http_content_type_is_json("  application/json ; x=y"));
        assert_false(http_content_type_is_json("application/jsonp"));
        assert_false(http_content_type_is_json("text/plain"));
        assert_false(http_content_type_is_json("application/x-www-form-urlencoded"));
        assert_false(http_content_type_is_json(""));
        assert_false(http_content_type_is_json(NULL));

        assert_int_equal(http_content_length_parse(NULL), 0);
        assert_int_equal(http_content_length_parse("0"), 0);
        assert_int_equal(http_content_length_parse("1234"), 1234);
        assert_int_equal(http_content_length_parse(""), UINT64_MAX);
        assert_int_equal(http_content_length_parse("-1"), UINT64_MAX);
        assert_int_equal(http_content_length_parse(" 12"), UINT64_MAX);
        assert_int_equal(http_content_length_parse("99999999999999999999999"), UINT64_MAX);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_framing),
                cmocka_unit_test(test_order_route_to_body),
                cmocka_unit_test(test_public_and_loopback_routes),
                cmocka_unit_test(test_attackers),
                cmocka_unit_test(test_from_a_page),
                cmocka_unit_test(test_host_allowed),
                cmocka_unit_test(test_target_split),
                cmocka_unit_test(test_target_path),
                cmocka_unit_test(test_content_type_and_length),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
