/* Implementation of http-access.h, and http_status_from_errno() (declared
 * in http.h, here because it is pure).  No system calls. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http-access.h"
#include "http.h"
#include "macro.h"

const char *http_bearer_token(const char *value, size_t *ret_len) {
        const char *t;
        size_t n;

        if (!value)
                return NULL;
        value += strspn(value, " \t");
        if (strncasecmp(value, "Bearer", 6) != 0 || !strchr(" \t", value[6]) || !value[6])
                return NULL;
        t = value + 6;
        t += strspn(t, " \t");
        n = strlen(t);
        while (n > 0 && strchr(" \t", t[n - 1]))
                n--;
        if (n == 0)
                return NULL;
        *ret_len = n;
        return t;
}

/* Declared in http.h; here because it is pure and unit tested. */
unsigned http_status_from_errno(int r) {
        switch (r) {
        case -EINVAL: return 400;
        case -EACCES: return 401;
        case -EPERM: return 403;
        case -ENOENT: return 404;
        case -EOPNOTSUPP: return 405;
        case -EEXIST:
        case -EBUSY: return 409;
        case -E2BIG:
        case -EFBIG: return 413;
        case -ENAMETOOLONG: return 414;
        case -EUSERS: return 429;
        case -EAGAIN: return 503;
        default: return 500;
        }
}
