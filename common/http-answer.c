/* Implementation of http-answer.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http-answer.h"
#include "parse-util.h"

/* The body its Content-Length announces, where there is one: the answer
 * ended short of it (-EPIPE: the connection was cut mid-body), or it is
 * cut to it (what follows is not this answer's).  A 204 or 304 has no
 * body whatever the header says.  A value that is not one length (a
 * number, as RFC 9112 6.3 wants) is -EBADMSG: where the body ends is
 * unknown. */
static int body_bound(unsigned status, const char *headers, char *body, size_t *size) {
        char value[32];
        uint64_t n;
        int r;

        if (status == 204 || status == 304)
                return 0;
        r = http_header_get(headers, "Content-Length", value, sizeof value);
        if (r == -ENOENT)
                return 0; /* the body ends where the connection did */
        if (r < 0 || parse_unsigned(value, SIZE_MAX, &n) < 0)
                return -EBADMSG;
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
        size_t nl = strlen(name);

        for (const char *l = headers; l && *l; l = strstr(l, "\r\n") ? strstr(l, "\r\n") + 2 : NULL) {
                const char *v;
                size_t n;

                if (strncasecmp(l, name, nl) != 0 || l[nl] != ':')
                        continue;
                v = l + nl + 1;
                v += strspn(v, " \t");
                n = strcspn(v, "\r\n");
                while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                        n--;
                if (n >= size || n > INT_MAX)
                        return -ENOBUFS;
                memcpy(buf, v, n);
                buf[n] = '\0';
                return (int)n;
        }
        return -ENOENT;
}
