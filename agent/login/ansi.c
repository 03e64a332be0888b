/* See ansi.h.  States follow the VT500 parser diagram closely enough for
 * what CLIs print: CAN/SUB abort a sequence, ESC restarts one, C0 controls
 * inside CSI are executed as text (we report them as ANSI_INSIDE instead,
 * since no CLI relies on that).  The strings are one state: their payload
 * is dropped up to ST, or BEL as xterm ends an OSC (libvterm ends a DCS
 * there too); taken for text, a DCS or APC between a name and its value
 * ("code" ESC P x ESC \ "=...") would make another name of it and keep
 * the value from being redacted. */
#include "ansi.h"

enum {
        S_GROUND,
        S_ESC,
        S_CSI,
        S_STRING,
        S_STRING_ESC,
        S_ESC_INTER,
};

void ansi_parser_init(AnsiParser *p) {
        p->state = S_GROUND;
}

/* After ESC: a CSI or a string (OSC ], DCS P, APC _, PM ^, SOS X)
 * begins, another ESC starts over, an intermediate byte waits for its
 * final one; anything else ends it. */
static AnsiResult from_esc(AnsiParser *p, unsigned char c) {
        if (c == '[')
                p->state = S_CSI;
        else if (c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X')
                p->state = S_STRING;
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

/* After ESC inside a string: a backslash is its terminator; anything
 * else cut the string short and is what follows that ESC. */
static AnsiResult from_string_esc(AnsiParser *p, unsigned char c) {
        if (c == '\\') {
                p->state = S_GROUND;
                return ANSI_STRING_DONE;
        }
        return from_esc(p, c);
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
        case S_STRING:
                if (c == 0x07) {
                        p->state = S_GROUND;
                        return ANSI_STRING_DONE;
                }
                if (c == 0x1b)
                        p->state = S_STRING_ESC;
                return ANSI_INSIDE;
        case S_STRING_ESC:
                return from_string_esc(p, c);
        }
        p->state = S_GROUND;
        return ANSI_TEXT;
}
