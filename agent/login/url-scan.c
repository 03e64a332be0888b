/* See url-scan.h.  A token is a run of URL characters; it ends at any
 * other character or at a control sequence other than SGR (colour), which
 * TUIs put inside links.  A line break ends it too, unless the line was
 * exactly `cols` wide: then the terminal (or the CLI) wrapped the URL and
 * it continues on the next line.  Trailing punctuation that ends a
 * sentence ("...&scope=x.") is not part of the URL. */
#include "macro.h"
#include "url-scan.h"

bool url_char(unsigned char c) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                return true;
        return c && strchr("-._~:/?#[]@!$&*+,;=%", c);
}

int url_scan_new(char *const *patterns, unsigned cols, UrlScan **ret) {
        UrlScan *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        ansi_parser_init(&s->ansi);
        s->patterns = patterns;
        s->cols = cols;
        *ret = s;
        return 0;
}

UrlScan *url_scan_free(UrlScan *s) {
        if (!s)
                return NULL;
        free(s->url);
        free(s);
        return NULL;
}

static bool matches(const UrlScan *s, const char *u) {
        for (char *const *p = s->patterns; p && *p; p++)
                if (startswith(u, *p))
                        return true;
        return false;
}

/* Checks a complete candidate (NUL-terminated, may be modified). */
static int consider(UrlScan *s, char *cand) {
        char *h;

        for (h = cand; (h = strstr(h, "http")); h++) {
                if (!startswith(h, "http://") && !startswith(h, "https://"))
                        continue;
                size_t l = strlen(h);
                while (l > 0 && strchr(".,;:!?", h[l - 1]))
                        h[--l] = '\0';
                if (!matches(s, h))
                        continue;
                s->url = strdup(h);
                return s->url ? 1 : -ENOMEM;
        }
        return 0;
}

static int token_end(UrlScan *s) {
        int r = 0;

        if (s->n > 0 && !s->overflow && !s->url) {
                s->token[s->n] = '\0';
                r = consider(s, s->token);
        }
        s->n = 0;
        s->overflow = false;
        return r;
}

static void token_add(UrlScan *s, char c) {
        if (s->n >= URL_SCAN_MAX) {
                s->overflow = true;
                return;
        }
        s->token[s->n++] = c;
}

static int on_text(UrlScan *s, unsigned char c) {
        if (c == '\r') {
                s->pending_cr = true;
                return 0;
        }
        if (c == '\n') {
                bool wrapped = s->cols > 0 && s->line_len == s->cols;
                s->pending_cr = false;
                s->line_len = 0;
                return wrapped ? 0 : token_end(s);
        }
        if (s->pending_cr) {
                /* A bare CR redraws the line: whatever we had is over. */
                s->pending_cr = false;
                s->line_len = 0;
                int r = token_end(s);
                if (r != 0)
                        return r;
        }
        if (c < 0x80 || c >= 0xc0)
                s->line_len++;
        if (url_char(c)) {
                token_add(s, (char)c);
                return 0;
        }
        return token_end(s);
}

static int on_osc(UrlScan *s) {
        /* OSC 8 ; params ; URI */
        const char *p = startswith(s->ansi.seq, "8;");
        char *semi;

        if (!p || s->ansi.overflow || s->url)
                return 0;
        semi = strchr(p, ';');
        if (!semi || !semi[1])
                return 0;
        for (const char *c = semi + 1; *c; c++)
                if (!url_char((unsigned char)*c))
                        return 0;
        return consider(s, semi + 1);
}

int url_scan_feed(UrlScan *s, const char *buf, size_t n) {
        int r = 0;

        for (size_t i = 0; i < n && !s->url && r >= 0; i++) {
                switch (ansi_parser_feed(&s->ansi, buf[i])) {
                case ANSI_TEXT:
                        r = on_text(s, (unsigned char)buf[i]);
                        break;
                case ANSI_CSI_DONE:
                        if (s->ansi.final != 'm')
                                r = token_end(s);
                        break;
                case ANSI_OSC_DONE:
                        r = token_end(s);
                        if (r == 0)
                                r = on_osc(s);
                        break;
                case ANSI_ESC_DONE:
                        r = token_end(s);
                        break;
                case ANSI_INSIDE:
                        break;
                }
        }
        if (r < 0)
                return r;
        return s->url ? 1 : 0;
}

int url_scan_flush(UrlScan *s) {
        int r;

        if (s->url)
                return 1;
        r = token_end(s);
        return r < 0 ? r : (s->url ? 1 : 0);
}

const char *url_scan_url(const UrlScan *s) {
        return s->url;
}
