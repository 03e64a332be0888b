/* Implementation of xauth.h (the format is libXau's XauWriteAuth()). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xauth.h"

static size_t put16(uint8_t *p, unsigned v) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
        return 2;
}

static size_t put_counted(uint8_t *p, const void *data, size_t n) {
        size_t o = put16(p, (unsigned)n);

        if (n > 0)
                memcpy(p + o, data, n);
        return o + n;
}

ssize_t xauth_wild_entry(unsigned display, const uint8_t cookie[XAUTH_COOKIE_SIZE], uint8_t *buf,
                         size_t size) {
        char number[16];
        int nl = snprintf(number, sizeof number, "%u", display);
        size_t need = 2 + (2 + 0) + (2 + (size_t)nl) + (2 + strlen(XAUTH_COOKIE_NAME)) + (2 + XAUTH_COOKIE_SIZE);
        size_t o = 0;

        if (size < need)
                return -ENOBUFS;
        o += put16(buf + o, XAUTH_FAMILY_WILD);
        o += put_counted(buf + o, NULL, 0);
        o += put_counted(buf + o, number, (size_t)nl);
        o += put_counted(buf + o, XAUTH_COOKIE_NAME, strlen(XAUTH_COOKIE_NAME));
        o += put_counted(buf + o, cookie, XAUTH_COOKIE_SIZE);
        return (ssize_t)o;
}
