/* See transcript.h.  Redaction works on whole lines (a secret split across
 * two reads is still one line), and the raw current line is wiped when it
 * is committed, so the unredacted text never outlives one line. */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "errbuf.h"
#include "macro.h"
#include "transcript.h"

#define REDACTED "[REDACTED]"

int transcript_new(size_t max, Transcript **ret) {
        _cleanup_(transcript_freep) Transcript *t = calloc(1, sizeof *t);

        if (!t)
                return -ENOMEM;
        t->max = max;
        t->text = malloc(max + 1);
        if (!t->text)
                return -ENOMEM;
        t->text[0] = '\0';
        ansi_parser_init(&t->ansi);
        *ret = TAKE_PTR(t);
        return 0;
}

Transcript *transcript_free(Transcript *t) {
        if (!t)
                return NULL;
        if (t->text)
                explicit_bzero(t->text, t->max + 1);
        free(t->text);
        explicit_bzero(t, sizeof *t);
        free(t);
        return NULL;
}

/* Names whose values are secrets: exact, or ending in one of the suffixes
 * ('-' counts as '_': x-api-key is an api key). */
static bool secret_name(const char *k, size_t l) {
        static const char *const exact[] = { "code", "state", "token", "secret", "password",
                                             "passwd", "key", "apikey", "auth", "authorization",
                                             "nonce", "session", "cookie" };
        static const char *const suffix[] = { "_token", "token", "_secret", "_key", "_verifier",
                                              "_challenge", "_code", "password", "_auth", "_authorization",
                                              "_state", "_session", "_nonce", "_apikey", "_cookie" };
        char low[64];

        if (l == 0 || l >= sizeof low)
                return false;
        for (size_t i = 0; i < l; i++)
                low[i] = k[i] == '-' ? '_' : (char)tolower((unsigned char)k[i]);
        low[l] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(exact); i++)
                if (streq(low, exact[i]))
                        return true;
        for (size_t i = 0; i < ELEMENTSOF(suffix); i++) {
                size_t s = strlen(suffix[i]);
                if (l >= s && streq(low + l - s, suffix[i]))
                        return true;
        }
        return false;
}

static bool name_char(char c) {
        return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Where a name may start: not inside a word, not at a '-' (--state= is
 * the name state). */
static bool name_start(const char *line, const char *p) {
        return (isalnum((unsigned char)*p) || *p == '_') &&
               (p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'));
}

/* Appends src[0..n) to the growing output. */
static void out_add(char **o, size_t *k, const char *src, size_t n) {
        memcpy(*o + *k, src, n);
        *k += n;
}

static const char *skip_blanks(const char *x) {
        while (*x == ' ' || *x == '\t')
                x++;
        return x;
}

static bool is_scheme(const char *v, const char *scheme) {
        size_t n = strlen(scheme);
        return !strncasecmp(v, scheme, n) && v[n] == ' ';
}

/* Where the secret after the name p[0..nl) starts, and its closing quote
 * (0: none), or NULL when it names none: name=value, name: value,
 * "name": "value", 'name': 'value' (blanks around the separator, quoted
 * values), and "Bearer value" also alone. */
static const char *value_start(const char *line, const char *p, size_t nl, char *ret_quote) {
        char nq = p > line && (p[-1] == '"' || p[-1] == '\'') ? p[-1] : 0;
        const char *v = p + nl;

        *ret_quote = 0;
        if (is_scheme(p, "Bearer"))
                return skip_blanks(v);
        if (!secret_name(p, nl))
                return NULL;
        if (nq && *v == nq)
                v++; /* a quoted name; else the quote opened a value such as 'code=…' */
        v = skip_blanks(v);
        if (*v != '=' && *v != ':')
                return NULL;
        v = skip_blanks(v + 1);
        if (*v == '"' || *v == '\'') {
                *ret_quote = *v;
                return v + 1;
        }
        /* An HTTP header's value: what follows the scheme. */
        if (is_scheme(v, "Bearer") || is_scheme(v, "Basic"))
                v = skip_blanks(strchr(v, ' '));
        return v;
}

/* Up to the closing quote; a backslash escapes the next character. */
static size_t quoted_len(const char *v, char quote) {
        size_t n = 0;

        while (v[n] && v[n] != quote)
                n += v[n] == '\\' && v[n + 1] ? 2 : 1;
        return n;
}

char *redact_secrets(const char *s) {
        size_t len = strlen(s), k = 0;
        /* Each secret (>= 1 byte) becomes REDACTED: bounded growth. */
        char *o = malloc(len * (sizeof REDACTED) + 1);
        const char *p = s;

        if (!o)
                return NULL;
        while (*p) {
                const char *v;
                size_t nl = 0, vl;
                char quote;

                /* A name: a run of name chars. */
                if (!name_start(s, p)) {
                        out_add(&o, &k, p, 1);
                        p++;
                        continue;
                }
                while (name_char(p[nl]))
                        nl++;
                v = value_start(s, p, nl, &quote);
                if (!v) {
                        out_add(&o, &k, p, nl);
                        p += nl;
                        continue;
                }
                vl = quote ? quoted_len(v, quote) : strcspn(v, "&# \t\r\n\"'<>,;)");
                out_add(&o, &k, p, (size_t)(v - p));
                if (vl > 0)
                        out_add(&o, &k, REDACTED, strlen(REDACTED));
                p = v + vl;
        }
        o[k] = '\0';
        return o;
}

static void commit(Transcript *t, const char *s, size_t n) {
        size_t room = t->max - t->n;
        size_t c = MIN(room, n);

        memcpy(t->text + t->n, s, c);
        t->n += c;
        t->text[t->n] = '\0';
        t->dropped += n - c;
}

static void line_end(Transcript *t, bool newline) {
        char *r;

        t->line[t->n_line] = '\0';
        r = redact_secrets(t->line);
        explicit_bzero(t->line, t->n_line);
        t->n_line = 0;
        t->moved = false;
        if (!r) {
                t->dropped++;
                return;
        }
        commit(t, r, strlen(r));
        if (newline)
                commit(t, "\n", 1);
        erase_and_free(r);
}

/* Whether what the parser just ended (at byte c) moves the cursor or
 * erases: text after it is not the text before it continued, on screen.
 * Colours (SGR), modes and strings move nothing. */
static bool moves_cursor(AnsiResult a, unsigned char c) {
        if (a == ANSI_CSI_DONE)
                return c != '\0' && strchr("@ABCDEFGHJKLMPSTXZ`adefr", c);
        if (a == ANSI_ESC_DONE)
                return c != '\0' && strchr("8DEMc", c);
        return false;
}

/* Keeps c.  Text written where the cursor moved to (a spinner's \r, an
 * erase and redraw) is a word of its own: glued to the word before, a
 * name in it would not be found ("Waiting" + "code=..."), so a blank
 * goes between two word characters. */
static void line_add(Transcript *t, unsigned char c) {
        bool word = isalnum(c) || c == '_';

        if (t->moved && word && t->n_line > 0 && t->n_line < TRANSCRIPT_LINE_MAX - 1 &&
            (isalnum((unsigned char)t->line[t->n_line - 1]) || t->line[t->n_line - 1] == '_'))
                t->line[t->n_line++] = ' ';
        t->moved = false;
        t->line[t->n_line++] = (char)c;
}

void transcript_feed(Transcript *t, const char *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)buf[i];
                AnsiResult a = ansi_parser_feed(&t->ansi, (char)c);

                if (a != ANSI_TEXT) {
                        t->moved = t->moved || moves_cursor(a, c);
                        continue;
                }
                if (c == '\n' && t->skip) {
                        t->skip = false;
                        commit(t, "\n", 1);
                } else if (c == '\n')
                        line_end(t, true);
                else if (c == '\r' || c == '\0' || (c < 0x20 && c != '\t'))
                        t->moved = t->moved || (c != '\0' && strchr("\r\b\v\f", c));
                else if (t->skip)
                        t->dropped++;
                else if (t->n_line == TRANSCRIPT_LINE_MAX) {
                        /* The rest of an over-long line is dropped, not
                         * kept as a line of its own: it may be the tail of
                         * a secret whose name was in the head. */
                        line_end(t, false);
                        t->skip = true;
                        t->dropped++;
                } else
                        line_add(t, c);
        }
}

char *transcript_text(const Transcript *t) {
        char line[TRANSCRIPT_LINE_MAX + 1], *r, *o;
        size_t rl;

        memcpy(line, t->line, t->n_line);
        line[t->n_line] = '\0';
        r = redact_secrets(line);
        explicit_bzero(line, sizeof line);
        if (!r)
                return NULL;
        rl = MIN(strlen(r), t->max - t->n);
        o = malloc(t->n + rl + 1);
        if (o) {
                memcpy(o, t->text, t->n);
                memcpy(o + t->n, r, rl);
                o[t->n + rl] = '\0';
                /* The host's cliOutput, a JSON string: a byte of no UTF-8 (a
                 * CLI's Latin-1, a character the limits cut) becomes '?'. */
                string_valid_utf8(o);
        }
        erase_and_free(r);
        return o;
}
