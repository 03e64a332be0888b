/* Implementation of url-util.h. */
#include <string.h>

#include "macro.h"
#include "url-util.h"

static bool port_ok(const char *p, const char *end) {
        unsigned long port = 0;

        if (end - p < 1 || end - p > 5)
                return false;
        for (; p < end; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                port = port * 10 + (unsigned long)(*p - '0');
        }
        return port <= 65535;
}

/* host[:port] of n bytes: no userinfo ("https://expected.example@evil/"
 * goes to evil), a non-empty host, a port of digits only. */
static bool authority_ok(const char *a, size_t n) {
        const char *end = a + n, *colon;

        if (n == 0 || memchr(a, '@', n))
                return false;
        if (a[0] == '[') { /* an IPv6 literal */
                const char *close = memchr(a, ']', n);
                if (!close || close == a + 1)
                        return false;
                colon = close + 1 < end ? close + 1 : NULL;
                if (colon && *colon != ':')
                        return false;
        } else {
                colon = memchr(a, ':', n);
                if (colon == a || memchr(a, '[', n) || memchr(a, ']', n))
                        return false; /* no host, or brackets not around one */
        }
        return !colon || port_ok(colon + 1, end);
}

bool http_url_is_valid(const char *url) {
        const char *h;

        if (!url || strlen(url) > URL_MAX)
                return false;
        h = startswith(url, "https://") ?: startswith(url, "http://");
        if (!h || !authority_ok(h, strcspn(h, "/?#")))
                return false;
        /* A browser reads a backslash as '/' in http(s) URLs: none is raw. */
        for (const char *c = url; *c; c++)
                if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '\\')
                        return false;
        return true;
}

size_t url_loggable_len(const char *url) {
        const char *h = startswith(url, "https://") ?: startswith(url, "http://") ?: url;

        return (size_t)(h - url) + strcspn(h, "/?#");
}
