/* Implementation of http-gate.h.  The order of the checks is the order of
 * the answers a client can get: what is malformed or over a limit first,
 * then what does not exist, then who may not, then what the request
 * carries.  Pure: inet_pton only parses. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http-gate.h"
#include "macro.h"

#define HOST_MAX 255

static HttpGateVerdict verdict(unsigned status, const char *error) {
        return (HttpGateVerdict){ .status = status, .error = error };
}

static HttpGateVerdict verdict_close(unsigned status, const char *error) {
        return (HttpGateVerdict){ .status = status, .error = error, .header = "Connection", .value = "close" };
}

uint64_t http_content_length_parse(const char *v) {
        uint64_t n = 0;

        if (!v)
                return 0;
        if (!*v)
                return UINT64_MAX;
        for (; *v; v++) {
                if (!isdigit((unsigned char)*v) || n > (UINT64_MAX - 9) / 10)
                        return UINT64_MAX;
                n = n * 10 + (uint64_t)(*v - '0');
        }
        return n;
}

bool http_content_type_is_json(const char *v) {
        static const char json[] = "application/json";

        if (!v)
                return false;
        v += strspn(v, " \t");
        if (strncasecmp(v, json, sizeof json - 1) != 0)
                return false;
        v += sizeof json - 1;
        v += strspn(v, " \t");
        return *v == '\0' || *v == ';';
}

/* name is host without its :port; -EINVAL when the port is not digits. */
static int host_name(const char *host, char name[static HOST_MAX + 1]) {
        const char *end, *port;
        bool bracketed = host[0] == '[';
        size_t n;

        if (bracketed) {
                end = strchr(host, ']');
                if (!end)
                        return -EINVAL;
                port = end + 1;
                host++;
        } else {
                end = strchr(host, ':');
                if (!end)
                        end = host + strlen(host);
                port = end;
        }
        n = (size_t)(end - host);
        if (n == 0 || n > HOST_MAX)
                return -EINVAL;
        if (*port && (*port != ':' || !port[1] || strspn(port + 1, "0123456789") != strlen(port + 1)))
                return -EINVAL;
        memcpy(name, host, n);
        name[n] = '\0';
        /* Not host[-1]: for a bare name that is before the string. */
        return bracketed ? AF_INET6 : AF_INET;
}

/* RFC 9112 §3.2: a target is visible characters only.  A blank makes the
 * request line ambiguous: libmicrohttpd takes the last space as the one
 * before the version ("GET /nope /health HTTP/1.1" asks for "/nope
 * /health"), a proxy the first, or whitespace of any kind (§3). */
static bool target_bytes_ok(const char *raw) {
        for (const unsigned char *p = (const unsigned char *)raw; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

int http_target_split(const char *raw, char authority[static HTTP_AUTHORITY_MAX + 1]) {
        static const char scheme[] = "http://";
        const char *a;
        size_t n;

        authority[0] = '\0';
        if (!target_bytes_ok(raw))
                return -EINVAL;
        if (raw[0] == '/')
                return 0;
        if (strncasecmp(raw, scheme, sizeof scheme - 1) != 0)
                return -EINVAL;
        a = raw + sizeof scheme - 1;
        n = strcspn(a, "/?");
        if (n == 0 || n > HTTP_AUTHORITY_MAX || memchr(a, '@', n) || memchr(a, '%', n))
                return -EINVAL;
        memcpy(authority, a, n);
        authority[n] = '\0';
        return (int)(sizeof scheme - 1 + n);
}

const char *http_target_path(const char *url, size_t prefix) {
        if (strnlen(url, prefix) < prefix)
                return NULL;
        return url[prefix] ? url + prefix : "/";
}

bool http_host_allowed(const char *host, char *const *allowed) {
        char name[HOST_MAX + 1];
        unsigned char buf[16];
        int family;

        if (!host)
                return true;
        family = host_name(host, name);
        if (family < 0)
                return false;
        /* An IPv4 address written as IPv6 ([::ffff:127.0.0.2]) is no
         * name a client of ours uses, and Firefox 153 treats it as
         * neither loopback nor a page's request (no Sec-Fetch-*): a
         * public page's fetches reached the redirect targets, and held
         * the browser user's share of connections, through it. */
        if (inet_pton(family, name, buf) == 1)
                return family == AF_INET ||
                       !(IN6_IS_ADDR_V4MAPPED((struct in6_addr *)buf) || IN6_IS_ADDR_V4COMPAT((struct in6_addr *)buf));
        if (family == AF_INET6)
                return false; /* brackets hold an IPv6 literal, nothing else */
        if (strcasecmp(name, "localhost") == 0)
                return true;
        for (char *const *a = allowed; a && *a; a++)
                if (strcasecmp(name, *a) == 0)
                        return true;
        return false;
}

bool http_from_a_page(const char *origin, const char *sec_fetch_site) {
        return origin || (sec_fetch_site && !streq(sec_fetch_site, "none"));
}

/* A browser's request for a whole page (a link, a redirect, a typed
 * address): what a provider's redirect to a loopback route is.  A page's
 * fetch, image or frame says otherwise (Sec-Fetch-Mode, -Dest); a client
 * that is no browser says nothing. */
static bool navigation(const HttpGateInput *in) {
        return (!in->sec_fetch_mode || streq(in->sec_fetch_mode, "navigate")) &&
               (!in->sec_fetch_dest || streq(in->sec_fetch_dest, "document"));
}

/* Who may: the route's audience, the Host, a browser, the token. */
static HttpGateVerdict check_caller(const HttpGateInput *in, const HttpGateLimits *l) {
        HttpRouteFlags f = in->flags;
        bool control;

        /* A redirect target both: the VM's browser follows it on loopback,
         * the host forwards it with its token. */
        if ((f & HTTP_ROUTE_LOOPBACK) && (f & HTTP_ROUTE_CONTROL))
                f &= in->peer_loopback ? ~HTTP_ROUTE_CONTROL : ~HTTP_ROUTE_LOOPBACK;
        control = f & HTTP_ROUTE_CONTROL;
        if ((f & HTTP_ROUTE_LOOPBACK) && !in->peer_loopback)
                return verdict(403, "forbidden");
        if (control && !in->peer_allowed)
                return verdict(403, "forbidden");
        /* Every route: a page that rebinds its own name to this address
         * would read /health and /metrics (the network, pids, logins in
         * flight) as its own origin's.  Closed after it: what a page sent
         * under a name not ours must not keep a connection of the browser
         * user's share. */
        if (!http_host_allowed(in->target_host ? in->target_host : in->host, l->allowed_hosts))
                return verdict_close(403, "host not allowed");
        if (!control && !(f & HTTP_ROUTE_LOOPBACK))
                return verdict(0, NULL);
        /* A redirect target takes codes and states: a web page in the VM's
         * browser must not be able to try them (with fetch(), an image, a
         * frame) faster than by navigating to it. */
        if (!control && !navigation(in))
                return verdict(403, "only a navigation may reach a redirect target");
        if (!control)
                return verdict(0, NULL);
        if (http_from_a_page(in->origin, in->sec_fetch_site))
                return verdict(403, "browser requests refused");
        /* Before the token: while a restored clone takes its new identity
         * the token is being replaced, and neither the old nor the new one
         * may act yet. */
        if (in->restoring)
                return verdict(503, "Restoring");
        if (!in->token_configured)
                return verdict(503, "no control token configured");
        if (!in->token_ok)
                return (HttpGateVerdict){ .status = 401, .error = "unauthorized",
                                          .header = "WWW-Authenticate", .value = "Bearer" };
        return verdict(0, NULL);
}

/* RFC 9112: where the message ends must be clear, and the same to every
 * reader (§6.1, §6.3); a field line has no blank before its colon (§5.1);
 * an HTTP/1.1 request has exactly one Host (§3.2).  libmicrohttpd reads
 * some of these its own way (the first of two Content-Lengths, a body of
 * an unknown coding until the connection ends, a path cut at an escaped
 * NUL). */
static HttpGateVerdict check_framing(const HttpGateInput *in) {
        if (in->header_malformed)
                return verdict_close(400, "malformed header field");
        if (in->path_nul)
                return verdict_close(400, "escaped NUL in the path");
        if (in->hosts > 1)
                return verdict_close(400, "more than one Host");
        if (in->http11 && !in->host)
                return verdict_close(400, "Host missing");
        if (in->content_lengths > 1)
                return verdict_close(400, "more than one Content-Length");
        if (!in->transfer_encoding)
                return verdict(0, NULL);
        if (in->content_length)
                return verdict_close(400, "both Content-Length and Transfer-Encoding");
        if (!in->http11)
                return verdict_close(400, "Transfer-Encoding in an HTTP/1.0 request");
        if (in->transfer_encodings > 1 || strcasecmp(in->transfer_encoding, "chunked") != 0)
                return verdict_close(501, "only the chunked Transfer-Encoding is supported");
        return verdict(0, NULL);
}

HttpGateVerdict http_gate_decide(const HttpGateInput *in, const HttpGateLimits *l) {
        uint64_t length = http_content_length_parse(in->content_length);
        bool body = length > 0 || in->transfer_encoding;
        HttpGateVerdict v;

        if (in->uri_len > l->max_url)
                return verdict(414, "URI too long");
        if (in->header_size > l->max_header)
                return verdict(431, "request header fields too large");
        v = check_framing(in);
        if (v.status)
                return v;
        if (in->target_invalid)
                return verdict(400, "invalid request target");
        if (in->match == HTTP_MATCH_NO_PATH)
                return verdict(404, "Not Found");
        if (in->match == HTTP_MATCH_NO_METHOD)
                return (HttpGateVerdict){ .status = 405, .error = "method not allowed",
                                          .header = "Allow", .value = in->allow };
        if (in->head && (in->flags & HTTP_ROUTE_NO_HEAD))
                return (HttpGateVerdict){ .status = 405, .error = "method not allowed",
                                          .header = "Allow", .value = "GET" };
        v = check_caller(in, l);
        if (v.status)
                return v;
        if (length == UINT64_MAX)
                return verdict(400, "invalid Content-Length");
        if (length > l->max_body)
                return verdict(413, "request body too large");
        if ((in->flags & HTTP_ROUTE_CONTROL) && body && !http_content_type_is_json(in->content_type))
                return verdict(415, "Content-Type must be application/json");
        return verdict(0, NULL);
}
