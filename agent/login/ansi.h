/* A byte-at-a-time recognizer for the escape sequences a terminal program
 * writes (ECMA-48 CSI, two-byte ESC, and the strings OSC, DCS, APC, PM
 * and SOS, whose payloads a terminal never shows), telling text from
 * control sequences in a stream where a sequence may be split across
 * reads.  The 8-bit forms of C1 controls (0x9b for CSI...) are text: in
 * UTF-8 those bytes continue a character, and terminals in UTF-8 mode
 * (libvterm, which the screen uses, too) do not take them as controls.  Only
 * the transcript uses it: it keeps the CLI's output as it streams, line by
 * line (also what a TUI overwrote a moment later), redacting each line
 * before keeping it, where the screen (screen.h) shows what is visible
 * now.  Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum AnsiResult {
        ANSI_INSIDE,   /* the byte belongs to an unfinished sequence */
        ANSI_TEXT,     /* the byte is text (including \r \n \b \t) */
        ANSI_CSI_DONE, /* a CSI ended */
        ANSI_STRING_DONE, /* an OSC, DCS, APC, PM or SOS string ended (BEL or ST) */
        ANSI_ESC_DONE, /* a two-byte ESC x (or an aborted sequence) ended */
} AnsiResult;

typedef struct AnsiParser {
        int state;
} AnsiParser;

void ansi_parser_init(AnsiParser *p);
AnsiResult ansi_parser_feed(AnsiParser *p, char c);
