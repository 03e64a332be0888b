/* See ansi.h.  States follow the VT500 parser diagram closely enough for
 * what CLIs print: CAN/SUB abort a sequence, ESC restarts one, C0 controls
 * inside CSI are executed as text (we report them as ANSI_INSIDE instead,
 * since no CLI relies on that). */
#include "ansi.h"

enum {
        S_GROUND,
        S_ESC,
        S_CSI,
        S_OSC,
        S_OSC_ESC,
        S_ESC_INTER,
};

void ansi_parser_init(AnsiParser *p) {
        p->state = S_GROUND;
        p->n = 0;
        p->seq[0] = '\0';
        p->overflow = false;
        p->final = 0;
}

static void seq_add(AnsiParser *p, char c) {
        if (p->n >= ANSI_SEQ_MAX) {
                p->overflow = true;
                return;
        }
        p->seq[p->n++] = c;
        p->seq[p->n] = '\0';
}

static void seq_start(AnsiParser *p, int state) {
        p->state = state;
        p->n = 0;
        p->seq[0] = '\0';
        p->overflow = false;
        p->final = 0;
}

/* One switch over the states, kept whole (longer than 60 lines) so the
 * transitions read like the VT500 diagram. */
AnsiResult ansi_parser_feed(AnsiParser *p, char ch) {
        unsigned char c = (unsigned char)ch;

        if (c == 0x18 || c == 0x1a) { /* CAN, SUB */
                bool was = p->state != S_GROUND;
                p->state = S_GROUND;
                return was ? ANSI_ESC_DONE : ANSI_TEXT;
        }
        switch (p->state) {
        case S_GROUND:
                if (c == 0x1b) {
                        seq_start(p, S_ESC);
                        return ANSI_INSIDE;
                }
                return ANSI_TEXT;
        case S_ESC:
                if (c == '[')
                        seq_start(p, S_CSI);
                else if (c == ']')
                        seq_start(p, S_OSC);
                else if (c == 0x1b)
                        seq_start(p, S_ESC);
                else if (c >= 0x20 && c <= 0x2f)
                        p->state = S_ESC_INTER;
                else {
                        p->final = (char)c;
                        p->state = S_GROUND;
                        return ANSI_ESC_DONE;
                }
                return ANSI_INSIDE;
        case S_ESC_INTER:
                if (c >= 0x30 && c <= 0x7e) {
                        p->state = S_GROUND;
                        return ANSI_ESC_DONE;
                }
                return ANSI_INSIDE;
        case S_CSI:
                if (c == 0x1b) {
                        seq_start(p, S_ESC);
                        return ANSI_INSIDE;
                }
                if (c >= 0x40 && c <= 0x7e) {
                        p->final = (char)c;
                        p->state = S_GROUND;
                        return ANSI_CSI_DONE;
                }
                if (c >= 0x20 && c <= 0x3f)
                        seq_add(p, (char)c);
                return ANSI_INSIDE;
        case S_OSC:
                if (c == 0x07) {
                        p->state = S_GROUND;
                        return ANSI_OSC_DONE;
                }
                if (c == 0x1b) {
                        p->state = S_OSC_ESC;
                        return ANSI_INSIDE;
                }
                seq_add(p, (char)c);
                return ANSI_INSIDE;
        case S_OSC_ESC:
                if (c == '\\') {
                        p->state = S_GROUND;
                        return ANSI_OSC_DONE;
                }
                /* ESC starting something else: the OSC was cut short. */
                if (c == '[')
                        seq_start(p, S_CSI);
                else if (c == ']')
                        seq_start(p, S_OSC);
                else
                        p->state = S_GROUND;
                return ANSI_INSIDE;
        }
        p->state = S_GROUND;
        return ANSI_TEXT;
}
