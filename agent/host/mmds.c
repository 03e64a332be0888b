/* Implementation of mmds.h: two exchanges through common/http-once.h, the
 * session token kept only between them and wiped. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-once.h"
#include "in-addr-util.h"
#include "mmds.h"

#define MMDS_ANSWER_MAX (64 * 1024)
#define MMDS_TOKEN_TTL_S 60

struct MmdsRequest {
        sd_event *event;
        SockaddrIn addr;
        socklen_t addr_len;
        char *host;        /* for the Host header */
        char *path;
        usec_t timeout;
        MmdsDone done;
        void *userdata;
        HttpOnce *http;
        char error[160];   /* "": r says it all */
};

MmdsRequest *mmds_request_free(MmdsRequest *m) {
        if (!m)
                return NULL;
        http_once_free(m->http);
        free(m->host);
        free(m->path);
        free(m);
        return NULL;
}

static void finish(MmdsRequest *m, int r, const char *json) {
        m->http = NULL; /* freed by http-once after its callback */
        m->done(r, json, r < 0 && m->error[0] ? m->error : NULL, m->userdata);
        mmds_request_free(m);
}

/* Any status but 200 is an error, named with the request it answered:
 * an answer that is HTTP (a 400, 405, 500...) is not one that is not,
 * and one cut off is neither. */
static int answer_check(MmdsRequest *m, int r, const HttpAnswer *a, const char *request) {
        if (r == -EPIPE)
                snprintf(m->error, sizeof m->error, "MMDS's answer to %s was cut off", request);
        if (r < 0 || a->status == 200)
                return r;
        snprintf(m->error, sizeof m->error, "MMDS answered HTTP status %u to %s", a->status, request);
        switch (a->status) {
        case 401:
        case 403: return -EACCES;
        case 404: return -ENOENT;
        default: return -EBADMSG;
        }
}

static void on_object(int r, const HttpAnswer *a, void *userdata) {
        MmdsRequest *m = userdata;
        char request[96];

        snprintf(request, sizeof request, "GET %s", m->path);
        r = answer_check(m, r, a, request);
        finish(m, r, r >= 0 ? a->body : NULL);
}

static int start(MmdsRequest *m, char *request, size_t len, HttpOnceDone done) {
        return http_once_start(m->event, &m->addr.sa, m->addr_len, request, len, MMDS_ANSWER_MAX, m->timeout,
                               done, m, &m->http);
}

/* A request in a buffer sized for it; the session token in it is wiped
 * with it by http-once. */
static char *format(size_t *ret_len, const char *fmt, ...) _printf_(2, 3);
static char *format(size_t *ret_len, const char *fmt, ...) {
        va_list ap;
        char *buf;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0 || !(buf = malloc((size_t)n + 1)))
                return NULL;
        va_start(ap, fmt);
        *ret_len = (size_t)vsnprintf(buf, (size_t)n + 1, fmt, ap);
        va_end(ap);
        return buf;
}

static void on_session_token(int r, const HttpAnswer *a, void *userdata) {
        MmdsRequest *m = userdata;
        char *request = NULL;
        size_t len = 0, n;

        r = answer_check(m, r, a, "PUT /latest/api/token");
        n = r >= 0 ? strcspn(a->body, "\r\n") : 0;
        if (r >= 0 && (n == 0 || n > 512)) {
                snprintf(m->error, sizeof m->error, "MMDS's session token is %s", n ? "over 512 bytes" : "empty");
                r = -EBADMSG;
        }
        if (r >= 0)
                request = format(&len, "GET %s HTTP/1.1\r\nHost: %s\r\nX-metadata-token: %.*s\r\n"
                                       "Accept: application/json\r\nConnection: close\r\n\r\n",
                                 m->path, m->host, (int)n, a->body);
        if (r >= 0 && !request)
                r = -ENOMEM;
        if (r >= 0)
                r = start(m, request, len, on_object);
        if (r < 0)
                finish(m, r, NULL);
}

static int address_parse(MmdsRequest *m, const char *address, uint16_t port) {
        if (sockaddr_in_parse(address, port, &m->addr, &m->addr_len) < 0)
                return -EINVAL;
        m->host = m->addr.sa.sa_family == AF_INET6 ? format(&(size_t){ 0 }, "[%s]", address) : strdup(address);
        return m->host ? 0 : -ENOMEM;
}

int mmds_get(sd_event *e, const char *address, uint16_t port, const char *path, usec_t timeout,
             MmdsDone done, void *userdata, MmdsRequest **ret) {
        _cleanup_(mmds_request_freep) MmdsRequest *m = calloc(1, sizeof *m);
        char *request;
        size_t len = 0;
        int r;

        if (!m)
                return -ENOMEM;
        *m = (MmdsRequest){ .event = e, .timeout = timeout, .done = done, .userdata = userdata };
        if (!path || path[0] != '/' || strpbrk(path, " \r\n"))
                return -EINVAL;
        r = address_parse(m, address, port);
        if (r < 0)
                return r;
        m->path = strdup(path);
        request = format(&len, "PUT /latest/api/token HTTP/1.1\r\nHost: %s\r\n"
                               "X-metadata-token-ttl-seconds: %d\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n", m->host, MMDS_TOKEN_TTL_S);
        if (!m->path || !request) {
                free(request);
                return -ENOMEM;
        }
        r = start(m, request, len, on_session_token);
        if (r < 0)
                return r;
        if (ret)
                *ret = m;
        TAKE_PTR(m);
        return 0;
}
