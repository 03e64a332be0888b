/* See url-scan.h.  A word is a run of URL characters on one line of the
 * view: a blank, a line break or any other character ends it (rows the
 * screen joined are one line).  Trailing punctuation that ends a sentence
 * ("...&scope=x.") is not part of the URL. */
#include "macro.h"
#include "url-scan.h"

bool url_char(unsigned char c) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                return true;
        return c && strchr("-._~:/?#[]@!$&*+,;=%", c);
}

static bool matches(char *const *patterns, const char *u) {
        for (char *const *p = patterns; p && *p; p++)
                if (startswith(u, *p))
                        return true;
        return false;
}

/* Looks for a matching URL in the word w[0..n) (no NUL inside). */
static int consider(char *const *patterns, const char *w, size_t n, char **ret) {
        _cleanup_(erase_and_freep) char *cand = NULL; /* holds the state */

        if (n > URL_SCAN_MAX || !memmem(w, n, "http", 4))
                return 0;
        cand = strndup(w, n);
        if (!cand)
                return -ENOMEM;
        for (char *h = cand; (h = strstr(h, "http")); h++) {
                if (!startswith(h, "http://") && !startswith(h, "https://"))
                        continue;
                size_t l = strlen(h);
                while (l > 0 && strchr(".,;:!?", h[l - 1]))
                        h[--l] = '\0';
                if (!matches(patterns, h))
                        continue;
                *ret = strdup(h);
                return *ret ? 1 : -ENOMEM;
        }
        return 0;
}

static int scan_text(char *const *patterns, const ScreenView *v, bool final, char **ret) {
        size_t i = 0;

        while (i < v->size) {
                size_t start;
                int r;

                if (!url_char((unsigned char)v->text[i])) {
                        i++;
                        continue;
                }
                for (start = i; i < v->size && url_char((unsigned char)v->text[i]); i++)
                        ;
                if (!final && v->cursor > start && v->cursor <= i)
                        continue; /* still being written */
                r = consider(patterns, v->text + start, i - start, ret);
                if (r != 0)
                        return r;
        }
        return 0;
}

int url_scan(char *const *patterns, const ScreenView *v, bool final, char **ret) {
        int r = scan_text(patterns, v, final, ret);

        for (char *const *l = v->links; r == 0 && l && *l; l++) {
                size_t n = strlen(*l);
                bool ok = true;

                for (size_t i = 0; ok && i < n; i++)
                        ok = url_char((unsigned char)(*l)[i]);
                if (ok)
                        r = consider(patterns, *l, n, ret);
        }
        return r;
}
