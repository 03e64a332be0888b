/* See term-reply.h.  The cursor is tracked only as far as the CLIs we run
 * need: printable text, CR, LF, BS and the CSI cursor moves; the answer to
 * ESC[6n just has to be plausible and inside the screen. */
#include <stdio.h>

#include "macro.h"
#include "term-reply.h"

void term_reply_init(TermReply *t, unsigned flags, unsigned rows, unsigned cols) {
        ansi_parser_init(&t->ansi);
        t->flags = flags;
        t->rows = rows ?: 24;
        t->cols = cols ?: 80;
        t->row = t->col = 1;
}

static unsigned param(const char *s, unsigned idx, unsigned def) {
        unsigned v = 0;
        bool any = false;

        while (idx > 0 && *s) {
                if (*s++ == ';')
                        idx--;
        }
        if (idx > 0)
                return def;
        for (; *s >= '0' && *s <= '9'; s++) {
                any = true;
                if (v < 100000)
                        v = v * 10 + (unsigned)(*s - '0');
        }
        return any && v > 0 ? v : def;
}

static void clamp(TermReply *t) {
        t->row = MAX(1u, MIN(t->row, t->rows));
        t->col = MAX(1u, MIN(t->col, t->cols));
}

static void on_text(TermReply *t, unsigned char c) {
        if (c == '\r')
                t->col = 1;
        else if (c == '\n')
                t->row++;
        else if (c == '\b')
                t->col = t->col > 1 ? t->col - 1 : 1;
        else if (c >= 0x20 && (c < 0x80 || c >= 0xc0)) { /* not a UTF-8 continuation */
                if (t->col > t->cols) {
                        t->col = 1;
                        t->row++;
                }
                t->col++;
                t->row = MIN(t->row, t->rows);
                return; /* col may sit one past the edge, as on a real terminal */
        }
        clamp(t);
}

static int add(char *out, size_t outsize, size_t *k, const char *s) {
        size_t l = strlen(s);

        if (*k + l > outsize)
                return -ENOBUFS;
        memcpy(out + *k, s, l);
        *k += l;
        return 0;
}

static int on_csi(TermReply *t, char *out, size_t outsize, size_t *k) {
        const char *p = t->ansi.seq;
        char b[64];

        switch (t->ansi.final) {
        case 'n':
                if (streq(p, "6") && (t->flags & TERM_REPLY_CURSOR_POSITION)) {
                        snprintf(b, sizeof b, "\x1b[%u;%uR", t->row, MIN(t->col, t->cols));
                        return add(out, outsize, k, b);
                }
                if (streq(p, "5") && (t->flags & TERM_REPLY_DEVICE_STATUS))
                        return add(out, outsize, k, "\x1b[0n");
                return 0;
        case 'c':
                if ((streq(p, "") || streq(p, "0")) && (t->flags & TERM_REPLY_DEVICE_ATTRIBUTES))
                        return add(out, outsize, k, "\x1b[?1;2c");
                return 0;
        case 'H': case 'f':
                t->row = param(p, 0, 1);
                t->col = param(p, 1, 1);
                break;
        case 'A': t->row -= MIN(t->row - 1, param(p, 0, 1)); break;
        case 'B': t->row += param(p, 0, 1); break;
        case 'C': t->col += param(p, 0, 1); break;
        case 'D': t->col -= MIN(t->col - 1, param(p, 0, 1)); break;
        case 'G': t->col = param(p, 0, 1); break;
        case 'd': t->row = param(p, 0, 1); break;
        default:
                return 0;
        }
        clamp(t);
        return 0;
}

static int on_osc(TermReply *t, char *out, size_t outsize, size_t *k) {
        if (!(t->flags & TERM_REPLY_COLORS) || t->ansi.overflow)
                return 0;
        if (streq(t->ansi.seq, "10;?"))
                return add(out, outsize, k, "\x1b]10;rgb:ffff/ffff/ffff\x1b\\");
        if (streq(t->ansi.seq, "11;?"))
                return add(out, outsize, k, "\x1b]11;rgb:0000/0000/0000\x1b\\");
        return 0;
}

ssize_t term_reply_feed(TermReply *t, const char *buf, size_t n, char *out, size_t outsize) {
        size_t k = 0;
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                switch (ansi_parser_feed(&t->ansi, buf[i])) {
                case ANSI_TEXT:
                        on_text(t, (unsigned char)buf[i]);
                        break;
                case ANSI_CSI_DONE:
                        if (!t->ansi.overflow && on_csi(t, out, outsize, &k) < 0)
                                r = -ENOBUFS;
                        break;
                case ANSI_OSC_DONE:
                        if (on_osc(t, out, outsize, &k) < 0)
                                r = -ENOBUFS;
                        break;
                default:
                        break;
                }
        }
        return r < 0 ? r : (ssize_t)k;
}

void prompt_matcher_init(PromptMatcher *m, const ProviderPrompt *prompts, size_t n_prompts) {
        ansi_parser_init(&m->ansi);
        m->prompts = prompts;
        m->n_prompts = MIN(n_prompts, (size_t)PROVIDER_LIST_MAX);
        memset(m->answered, 0, sizeof m->answered);
        m->n = 0;
        m->window[0] = '\0';
}

static void window_add(PromptMatcher *m, char c) {
        if (c == '\0')
                return;
        if (m->n == PROMPT_WINDOW) {
                memmove(m->window, m->window + PROMPT_WINDOW / 2, PROMPT_WINDOW / 2);
                m->n = PROMPT_WINDOW / 2;
        }
        m->window[m->n++] = c;
        m->window[m->n] = '\0';
}

const char *prompt_matcher_feed(PromptMatcher *m, const char *buf, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (ansi_parser_feed(&m->ansi, buf[i]) == ANSI_TEXT)
                        window_add(m, buf[i]);
        for (size_t j = 0; j < m->n_prompts; j++) {
                const ProviderPrompt *p = &m->prompts[j];
                const char *at;

                if (m->answered[j] && !p->repeat)
                        continue;
                at = strstr(m->window, p->match);
                if (!at)
                        continue;
                /* Forget the text up to and including the match. */
                size_t cut = (size_t)(at - m->window) + strlen(p->match);
                memmove(m->window, m->window + cut, m->n - cut + 1);
                m->n -= cut;
                m->answered[j] = true;
                return p->send;
        }
        return NULL;
}
