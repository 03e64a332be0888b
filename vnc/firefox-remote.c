/* Implementation of firefox-remote.h.  The name follows Firefox's
 * nsDBusRemoteServer: Base64 of the profile path, then its D-Bus name
 * sanitizing (anything not alphanumeric or '_' becomes '_'; an element may
 * not start with a digit, which Base64 of an absolute path never does:
 * '/' encodes to 'L'). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "firefox-remote.h"
#include "macro.h"

#define NAME_PREFIX "org.mozilla.firefox."
#define COMMAND_LINE_MAX (1024 * 1024)

static char *base64(const uint8_t *in, size_t n) {
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                             (i + 2 < n ? in[i + 2] : 0);
                *o++ = tab[v >> 18 & 63];
                *o++ = tab[v >> 12 & 63];
                *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
                *o++ = i + 2 < n ? tab[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

int firefox_remote_bus_name(const char *profile, char **ret) {
        _cleanup_(freep) char *b = NULL;
        size_t pl = strlen(NAME_PREFIX), n;
        char *name;

        if (isempty(profile))
                return -EINVAL;
        b = base64((const uint8_t *)profile, strlen(profile));
        if (!b)
                return -ENOMEM;
        for (char *c = b; *c; c++)
                if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
                        *c = '_';
        n = MIN(pl + strlen(b), (size_t)FIREFOX_REMOTE_NAME_MAX);
        name = malloc(n + 1);
        if (!name)
                return -ENOMEM;
        memcpy(name, NAME_PREFIX, pl);
        memcpy(name + pl, b, n - pl);
        name[n] = '\0';
        *ret = name;
        return 0;
}

static void put32le(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

int firefox_remote_command_line(const char *cwd, char *const *argv, uint8_t **ret, size_t *ret_size) {
        size_t argc = 0, size, pos;
        uint8_t *b;

        if (!cwd || !argv || !argv[0])
                return -EINVAL;
        while (argv[argc])
                argc++;
        size = 4 + 4 * argc + strlen(cwd) + 1;
        for (size_t i = 0; i < argc; i++) {
                size += strlen(argv[i]) + 1;
                if (size > COMMAND_LINE_MAX)
                        return -E2BIG;
        }
        if (size > COMMAND_LINE_MAX)
                return -E2BIG;
        b = malloc(size);
        if (!b)
                return -ENOMEM;
        put32le(b, (uint32_t)argc);
        pos = 4 + 4 * argc;
        memcpy(b + pos, cwd, strlen(cwd) + 1);
        pos += strlen(cwd) + 1;
        for (size_t i = 0; i < argc; i++) {
                put32le(b + 4 + 4 * i, (uint32_t)pos);
                memcpy(b + pos, argv[i], strlen(argv[i]) + 1);
                pos += strlen(argv[i]) + 1;
        }
        *ret = b;
        *ret_size = size;
        return 0;
}
