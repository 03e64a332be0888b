/* A byte-at-a-time parser for the escape sequences a terminal program
 * writes (ECMA-48 CSI, OSC, two-byte ESC): the URL scanner, the terminal
 * replies, the prompt rules and the transcript all need to tell text from
 * control sequences, and a sequence may be split across reads.  Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define ANSI_SEQ_MAX 8192 /* OSC 8 hyperlinks carry whole URLs */

typedef enum AnsiResult {
        ANSI_INSIDE,   /* the byte belongs to an unfinished sequence */
        ANSI_TEXT,     /* the byte is text (including \r \n \b \t) */
        ANSI_CSI_DONE, /* a CSI ended: params in seq, final byte in final */
        ANSI_OSC_DONE, /* an OSC ended (BEL or ST): payload in seq */
        ANSI_ESC_DONE, /* a two-byte ESC x (or an aborted sequence) ended */
} AnsiResult;

typedef struct AnsiParser {
        int state;
        char seq[ANSI_SEQ_MAX + 1]; /* NUL-terminated */
        size_t n;
        bool overflow; /* seq was truncated: do not act on it */
        char final;
} AnsiParser;

void ansi_parser_init(AnsiParser *p);
AnsiResult ansi_parser_feed(AnsiParser *p, char c);
