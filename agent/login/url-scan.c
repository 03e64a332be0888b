/* See url-scan.h.  A word is a run of URL characters on one line of the
 * view: a blank, a line break or any other character ends it (rows the
 * screen joined are one line).  Trailing punctuation that ends a sentence
 * ("...&scope=x.") or a bracket around it ("[https://...]") is not part of
 * the URL. */
#include "macro.h"
#include "url-scan.h"
#include "url-util.h"

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

/* Whether u[0..n) has a '[' that no ']' closed: a trailing ']' closes
 * it, else it is the text's bracket around the URL ("[https://...]"). */
static bool bracket_open(const char *u, size_t n) {
        int depth = 0;

        for (size_t i = 0; i < n; i++)
                depth += u[i] == '[' ? 1 : u[i] == ']' && depth > 0 ? -1 : 0;
        return depth > 0;
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
                while (l > 0 && (strchr(".,;:!?", h[l - 1]) || (h[l - 1] == ']' && !bracket_open(h, l - 1))))
                        h[--l] = '\0';
                /* Matching a prefix holds only for a URL whose host is the
                 * prefix's: none with userinfo (http_url_is_valid()). */
                if (!http_url_is_valid(h) || !matches(patterns, h))
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
