/* Implementation of url-util.h. */
#include <string.h>

#include "macro.h"
#include "url-util.h"

bool http_url_is_valid(const char *url) {
        const char *h;
        size_t n;

        if (!url || strlen(url) > URL_MAX)
                return false;
        h = startswith(url, "https://") ?: startswith(url, "http://");
        if (!h)
                return false;
        n = strcspn(h, "/?#");
        if (n == 0 || h[0] == '@' || h[0] == ':')
                return false;
        for (const char *c = url; *c; c++)
                if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
                        return false;
        return true;
}
