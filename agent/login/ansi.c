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
}

/* After ESC: a CSI or an OSC begins, another ESC starts over, an
 * intermediate byte waits for its final one; anything else ends it. */
static AnsiResult from_esc(AnsiParser *p, unsigned char c) {
        if (c == '[')
                p->state = S_CSI;
        else if (c == ']')
                p->state = S_OSC;
        else if (c == 0x1b)
                p->state = S_ESC;
        else if (c >= 0x20 && c <= 0x2f)
                p->state = S_ESC_INTER;
        else {
                p->state = S_GROUND;
                return ANSI_ESC_DONE;
        }
        return ANSI_INSIDE;
}

/* After ESC inside an OSC: a backslash is its string terminator; ESC
 * starting something else cut the OSC short. */
static AnsiResult from_osc_esc(AnsiParser *p, unsigned char c) {
        if (c == '\\') {
                p->state = S_GROUND;
                return ANSI_OSC_DONE;
        }
        if (c == '[')
                p->state = S_CSI;
        else if (c == ']')
                p->state = S_OSC;
        else
                p->state = S_GROUND;
        return ANSI_INSIDE;
}

/* One switch over the states, so the transitions read like the VT500
 * diagram. */
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
                        p->state = S_ESC;
                        return ANSI_INSIDE;
                }
                return ANSI_TEXT;
        case S_ESC:
                return from_esc(p, c);
        case S_ESC_INTER:
                if (c >= 0x30 && c <= 0x7e) {
                        p->state = S_GROUND;
                        return ANSI_ESC_DONE;
                }
                return ANSI_INSIDE;
        case S_CSI:
                if (c == 0x1b) {
                        p->state = S_ESC;
                        return ANSI_INSIDE;
                }
                if (c >= 0x40 && c <= 0x7e) {
                        p->state = S_GROUND;
                        return ANSI_CSI_DONE;
                }
                return ANSI_INSIDE;
        case S_OSC:
                if (c == 0x07) {
                        p->state = S_GROUND;
                        return ANSI_OSC_DONE;
                }
                if (c == 0x1b)
                        p->state = S_OSC_ESC;
                return ANSI_INSIDE;
        case S_OSC_ESC:
                return from_osc_esc(p, c);
        }
        p->state = S_GROUND;
        return ANSI_TEXT;
}
