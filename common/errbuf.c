/* See errbuf.h. */
#include <errno.h>
#include <stdio.h>

#include "errbuf.h"

void string_one_line(char *s) {
        for (; s && *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        *s = '?';
                else if ((unsigned char)s[0] == 0xc2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9f)
                        s[0] = s[1] = '?'; /* U+0080..U+009F, C1 controls in UTF-8 (U+009B is CSI) */
}

int errbuf_vfail(char *buf, size_t size, const char *what, const char *name, const char *fmt, va_list ap) {
        char msg[256];

        if (!buf || size == 0)
                return -EINVAL;
        if (what) {
                vsnprintf(msg, sizeof msg, fmt, ap);
                snprintf(buf, size, "%s %s: %s", what, name ?: "?", msg);
        } else
                vsnprintf(buf, size, fmt, ap);
        string_one_line(buf);
        return -EINVAL;
}

int errbuf_fail(char *buf, size_t size, const char *what, const char *name, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = errbuf_vfail(buf, size, what, name, fmt, ap);
        va_end(ap);
        return r;
}
