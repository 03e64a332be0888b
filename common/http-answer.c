/* Implementation of http-answer.h. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http-answer.h"
#include "parse-util.h"

/* The next line at or after l of a header block that is header name's
 * (case-insensitive), its value's first byte in *ret_value; NULL when
 * none is. */
static const char *header_next(const char *l, const char *name, const char **ret_value) {
        size_t nl = strlen(name);

        for (; l && *l; l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL)
                if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
                        *ret_value = l + nl + 1;
                        return l;
                }
        return NULL;
}

/* The value at v, its blanks trimmed: its length, its start in *ret. */
static size_t value_span(const char *v, const char **ret) {
        size_t n;

        v += strspn(v, " \t");
        n = strcspn(v, "\r\n");
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
        *ret = v;
        return n;
}

int http_answer_body_length(unsigned status, const char *headers, uint64_t *ret) {
        const char *v, *span;
        bool found = false;
        uint64_t n = 0;

        if (status == 204 || status == 304) {
                *ret = 0;
                return 0;
        }
        for (const char *l = header_next(headers, "Content-Length", &v); l;
             l = header_next(l + 2, "Content-Length", &v)) {
                char value[32];
                size_t len = value_span(v, &span);
                uint64_t m;

                if (len >= sizeof value)
                        return -EBADMSG;
                memcpy(value, span, len);
                value[len] = '\0';
                if (parse_unsigned(value, SIZE_MAX, &m) < 0 || (found && m != n))
                        return -EBADMSG;
                n = m;
                found = true;
        }
        if (!found)
                return -ENOENT;
        *ret = n;
        return 0;
}

/* The body its Content-Length announces, where there is one: the answer
 * ended short of it (-EPIPE: the connection was cut mid-body), or it is
 * cut to it (what follows is not this answer's). */
static int body_bound(unsigned status, const char *headers, char *body, size_t *size) {
        uint64_t n;
        int r = http_answer_body_length(status, headers, &n);

        if (r == -ENOENT)
                return 0; /* the body ends where the connection did */
        if (r < 0)
                return r;
        if (*size < n)
                return -EPIPE;
        body[n] = '\0';
        *size = (size_t)n;
        return 0;
}

int http_answer_parse(char *text, size_t size, HttpAnswer *ret) {
        char *hdr_end = strstr(text, "\r\n\r\n"), *line_end;
        size_t body_size;
        unsigned status;
        int n = 0, r;

        if (!hdr_end || strncmp(text, "HTTP/1.", 7) != 0)
                return -EBADMSG;
        if (sscanf(text, "HTTP/1.%*1[01] %3u%n", &status, &n) != 1 || n != 12 || status < 200 ||
            status > 599 || (text[n] != ' ' && text[n] != '\r'))
                return -EBADMSG;
        line_end = strstr(text, "\r\n");
        hdr_end[2] = '\0'; /* the block keeps its last CRLF */
        body_size = size - (size_t)(hdr_end + 4 - text);
        r = body_bound(status, line_end + 2, hdr_end + 4, &body_size);
        if (r < 0)
                return r;
        *ret = (HttpAnswer){
                .status = status,
                .headers = line_end + 2,
                .body = hdr_end + 4,
                .body_size = body_size,
        };
        return 0;
}

int http_header_get(const char *headers, const char *name, char *buf, size_t size) {
        const char *v, *span;
        size_t n;

        if (!header_next(headers, name, &v))
                return -ENOENT;
        n = value_span(v, &span);
        if (n >= size || n > INT_MAX)
                return -ENOBUFS;
        memcpy(buf, span, n);
        buf[n] = '\0';
        return (int)n;
}
