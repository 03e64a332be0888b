/* Implementation of http-answer.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http-answer.h"

int http_answer_parse(char *text, size_t size, HttpAnswer *ret) {
        char *hdr_end = strstr(text, "\r\n\r\n"), *line_end;
        unsigned status;
        int n = 0;

        if (!hdr_end || strncmp(text, "HTTP/1.", 7) != 0)
                return -EBADMSG;
        if (sscanf(text, "HTTP/1.%*1[01] %3u%n", &status, &n) != 1 || n != 12 || status < 200 ||
            status > 599 || (text[n] != ' ' && text[n] != '\r'))
                return -EBADMSG;
        line_end = strstr(text, "\r\n");
        hdr_end[2] = '\0'; /* the block keeps its last CRLF */
        *ret = (HttpAnswer){
                .status = status,
                .headers = line_end + 2,
                .body = hdr_end + 4,
                .body_size = size - (size_t)(hdr_end + 4 - text),
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
